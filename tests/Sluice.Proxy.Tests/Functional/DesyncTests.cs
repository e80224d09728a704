using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Keeping both sides of the proxy in step: framing a client or origin tries to remove, connections an origin
/// closes, retries that must not repeat a request, drain and reload on kept-alive connections.
/// </summary>
public sealed class DesyncTests
{
    /// <summary>An origin that answers each request with its request line as the body, and records what it saw.</summary>
    private static RawOrigin Recording(ConcurrentQueue<string> seen, string extraHeaders = "") => RawOrigin.Start(async (stream, _) =>
    {
        while (await StreamHeads.ReadHeadAsync(stream) is { } head)
        {
            string line = head.Split("\r\n")[0];
            seen.Enqueue(line);
            int length = StreamHeads.ContentLength(head);
            if (length > 0)
            {
                await stream.ReadExactlyAsync(new byte[length]);
            }

            byte[] body = Encoding.ASCII.GetBytes(line);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\n{extraHeaders}Content-Length: {body.Length}\r\n\r\n"));
            await stream.WriteAsync(body);
        }
    });

    [Fact]
    public async Task Connection_cannot_strip_content_length_to_smuggle_the_body_as_a_request()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);

        using RawClient attacker = await RawClient.ConnectAsync(proxy.Endpoint);
        string smuggled = "DELETE /smuggled HTTP/1.1\r\nHost: o.test\r\n\r\n";
        await attacker.SendAsync($"POST http://o.test:{origin.Port}/a HTTP/1.1\r\nHost: o.test\r\nConnection: Content-Length\r\nContent-Length: {smuggled.Length}\r\n\r\n{smuggled}");
        string head = await attacker.ReadHeadAsync();
        Assert.Equal("POST /a HTTP/1.1", Encoding.ASCII.GetString(await attacker.ReadExactlyAsync(StreamHeads.ContentLength(head))));

        // The pooled upstream connection serves the next client its own response, not a smuggled one.
        using RawClient victim = await RawClient.ConnectAsync(proxy.Endpoint);
        await victim.SendAsync($"GET http://o.test:{origin.Port}/victim HTTP/1.1\r\nHost: o.test\r\n\r\n");
        string victimHead = await victim.ReadHeadAsync();
        Assert.Equal("GET /victim HTTP/1.1", Encoding.ASCII.GetString(await victim.ReadExactlyAsync(StreamHeads.ContentLength(victimHead))));
        Assert.DoesNotContain(seen, line => line.StartsWith("DELETE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_origin_naming_content_length_in_connection_still_gets_a_framed_response()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen, "Connection: Content-Length\r\n");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.Contains("Content-Length: 15", head); // "GET /1 HTTP/1.1"
        Assert.Equal("GET /1 HTTP/1.1", Encoding.ASCII.GetString(await client.ReadExactlyAsync(15)));
    }

    [Fact]
    public async Task An_origin_that_says_connection_close_is_not_pooled()
    {
        int connections = 0;
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            Interlocked.Increment(ref connections);
            string? head = await StreamHeads.ReadHeadAsync(stream);
            int length = StreamHeads.ContentLength(head!);
            if (length > 0)
            {
                await stream.ReadExactlyAsync(new byte[length]);
            }

            await stream.WriteAsync("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            await Task.Delay(500); // lingers before closing and never reads another request
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        await client.ReadHeadAsync();
        await client.ReadExactlyAsync(2);
        await client.SendAsync($"POST http://o.test:{origin.Port}/2 HTTP/1.1\r\nHost: o.test\r\nContent-Length: 3\r\n\r\nabc");
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        Assert.Equal(2, connections);
    }

    [Fact]
    public async Task A_pooled_connection_reset_under_a_get_is_retried_but_a_post_is_not_repeated()
    {
        var requests = new ConcurrentQueue<string>();
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            string? first = await StreamHeads.ReadHeadAsync(stream);
            requests.Enqueue(first!.Split("\r\n")[0]);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            // The next request arrives on the kept-alive connection: reset it unread, as an origin's idle close does.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (socket.Available == 0 && !deadline.IsCancellationRequested)
            {
                await Task.Delay(5);
            }

            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET http://o.test:{origin.Port}/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        await client.ReadHeadAsync();
        await client.ReadExactlyAsync(2);
        await client.SendAsync($"GET http://o.test:{origin.Port}/2 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync()); // retried on a new connection
        await client.ReadExactlyAsync(2);

        await client.SendAsync($"POST http://o.test:{origin.Port}/3 HTTP/1.1\r\nHost: o.test\r\nContent-Length: 0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 502", await client.ReadHeadAsync()); // not idempotent: never sent twice
        Assert.DoesNotContain(requests, r => r.StartsWith("POST", StringComparison.Ordinal) && requests.Count(x => x == r) > 1);
    }

    [Fact]
    public async Task Stopping_closes_idle_keep_alive_connections_at_once_instead_of_waiting_out_the_drain()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        TestProxy proxy = await TestProxy.StartAsync(drain: TimeSpan.FromMinutes(2));
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        string head = await client.ReadHeadAsync();
        await client.ReadExactlyAsync(StreamHeads.ContentLength(head));

        Task stopping = proxy.StopAsync();
        await client.ReadToEndAsync(timeoutMs: 30_000); // closed by the proxy long before the 2-minute drain ends
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        await proxy.DisposeAsync();
    }

    [Fact]
    public async Task A_reload_reaches_a_kept_alive_connection_at_its_next_request()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        string head = await client.ReadHeadAsync();
        await client.ReadExactlyAsync(StreamHeads.ContentLength(head));

        proxy.Server.Reload(proxy.Server.CurrentConfig with { Default = RuleAction.Deny });
        await client.SendAsync($"GET http://o.test:{origin.Port}/2 HTTP/1.1\r\nHost: o.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", await client.ReadHeadAsync());
    }
}
