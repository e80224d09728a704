using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Faults found by attacking the proxy with hostile origins and clients: each test is the regression test of one.
/// </summary>
public sealed class HostileTrafficTests
{
    [Fact]
    public async Task Trailer_fields_that_are_not_passed_on_still_count_toward_the_trailer_limit()
    {
        // 216 KB of hop-by-hop trailer lines, all of them dropped by the trailer filter, behind a valid body: the
        // trailer section is over limits.maxHeaderBytes (64 KiB) whether or not its fields are passed on.
        string trailers = string.Concat(Enumerable.Repeat("Proxy-Authorization: x\r\n", 9000));
        await using var origin = new HostileOrigin("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + trailers + "\r\n");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test:{origin.Port}\r\n\r\n");

        Outcome outcome = await Outcome.ReadAsync(client.Stream);

        Assert.True(outcome.Status == 200 && outcome.Truncated, $"a trailer section over the limit was relayed as a clean end of the body\n{outcome}");
    }

    [Fact]
    public async Task Upgrade_request_that_announces_a_body_is_not_switched_while_the_body_is_still_coming()
    {
        // An origin that switches protocols as soon as it has the head. Were the proxy to relay the 101, the rest of
        // the request body and the tunnel would read the client connection at the same time.
        var heads = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var origin = RawOrigin.Start(async (stream, socket) =>
        {
            var head = new StringBuilder();
            byte[] one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one) == 1)
            {
                head.Append((char)one[0]);
            }

            heads.Enqueue(head.ToString());
            await stream.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"u8.ToArray());
            byte[] buffer = new byte[4096];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("ws.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://ws.test:{origin.Port}/ws HTTP/1.1\r\nHost: ws.test:{origin.Port}\r\nConnection: Upgrade\r\n"
            + "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 100000\r\n\r\n");

        string head = await client.ReadHeadAsync();

        Assert.True(!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), $"the proxy switched protocols with a request body still to come\n{head}");
        Assert.True(heads.TryPeek(out string? sent) && !sent.Contains("Upgrade: websocket", StringComparison.OrdinalIgnoreCase),
            $"a request with a body was forwarded as an upgrade\n{sent}");
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("CONNECT")]
    public async Task An_origin_that_accepts_and_resets_at_once_gets_each_client_a_502_with_proxy_status(string method)
    {
        // Where the reset lands depends on the race with the proxy: before its connect completes is seen (no peer
        // name any more), before its write (the write fails), or after it (the read does). Each is a 502 naming the
        // origin (or, for a CONNECT answered before the reset came, a tunnel that then closes), never a client connection
        // closed without a word; rounds give every window its chance.
        await using var origin = RawOrigin.Start((stream, socket) =>
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
            return Task.CompletedTask;
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("reset.test", IPAddress.Loopback);
        string authority = $"reset.test:{origin.Port}";
        string request = method == "GET" ? $"GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\n\r\n" : $"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n";

        for (int round = 0; round < 25; round++)
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync(request);
            Outcome outcome = await Outcome.ReadAsync(client.Stream, method);

            if (method == "CONNECT" && outcome.Status == 200)
            {
                // Connected before the reset came: the tunnel was open, and the reset closes it.
                Assert.Equal(0, await ReadOrResetAsync(client.Stream).WaitAsync(TimeSpan.FromSeconds(20)));
                continue;
            }

            Assert.True(outcome.Status == 502, $"round {round}\n{outcome}");
            Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
        }
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream)
    {
        try
        {
            return await stream.ReadAsync(new byte[1]);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
