using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>Origins that misbehave or behave in old ways: close-delimited bodies, dropped keep-alives, silence.</summary>
public sealed class UpstreamBehaviourTests
{
    private static async Task<string> ReadLineAsync(NetworkStream stream)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (!line.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one) > 0)
        {
            line.Append((char)one[0]);
        }

        return line.ToString();
    }

    [Fact]
    public async Task A_close_delimited_response_reaches_an_http11_client_chunked_and_the_client_connection_stays_open()
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await ReadLineAsync(stream);
            await stream.WriteAsync("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("old.test", IPAddress.Loopback);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://old.test:{origin.Port}/ HTTP/1.1\r\nHost: old.test\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.Contains("Transfer-Encoding: chunked", head);
        Assert.DoesNotContain("Connection: close", head);
        string body = Encoding.ASCII.GetString(await client.ReadExactlyAsync("10\r\nbody until close\r\n0\r\n\r\n".Length));
        Assert.Equal("10\r\nbody until close\r\n0\r\n\r\n", body);

        // Same client connection, next request: answered, so it was kept open.
        await client.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400", await client.ReadHeadAsync());
    }

    [Fact]
    public async Task An_http10_client_gets_the_raw_body_and_a_close()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://origin.test:{origin.Port}/bytes/100000?chunked=1 HTTP/1.0\r\n\r\n");
        byte[] all = await client.ReadToEndAsync();
        string text = Encoding.Latin1.GetString(all);
        int split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.Contains("Connection: close", text[..split]);
        Assert.DoesNotContain("Transfer-Encoding", text[..split]);
        byte[] expected = new byte[100000];
        TestData.Fill(expected, 0);
        Assert.Equal(expected, all[(split + 4)..]);
    }

    [Fact]
    public async Task A_pooled_connection_the_origin_closed_is_replaced_without_the_client_noticing()
    {
        int accepted = 0;
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Interlocked.Increment(ref accepted);
            await ReadLineAsync(stream);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            // Keep-alive promised, then dropped: what origins with short idle timeouts do.
            await Task.Delay(200);
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("flaky.test", IPAddress.Loopback);

        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        Assert.Equal("ok", await http.GetStringAsync($"http://flaky.test:{origin.Port}/1"));
        await Task.Delay(1000); // the origin has closed its side by now
        Assert.Equal("ok", await http.GetStringAsync($"http://flaky.test:{origin.Port}/2"));
        Assert.Equal(2, accepted);
    }

    [Fact]
    public async Task A_silent_origin_is_504_http_response_timeout()
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await ReadLineAsync(stream);
            await Task.Delay(TimeSpan.FromSeconds(30));
        });
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } });
        proxy.Resolver.Map("silent.test", IPAddress.Loopback);

        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        using HttpResponseMessage response = await http.GetAsync($"http://silent.test:{origin.Port}/");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.StartsWith($"{TestProxy.Name}; error=http_response_timeout", response.Headers.GetValues("Proxy-Status").Single());
    }

    [Fact]
    public async Task Each_request_on_a_connection_gets_the_whole_idle_timeout_also_after_one_that_timed_out()
    {
        // The connection's exchange timeout is one source re-armed per request: a request must never inherit what an
        // earlier one used of it, nor the cancellation of one that timed out.
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            while (true)
            {
                string head = await ReadLineAsync(stream);
                if (head.Length == 0)
                {
                    return;
                }

                if (head.Contains("/silent", StringComparison.Ordinal))
                {
                    await Task.Delay(TimeSpan.FromSeconds(30));
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(700)); // most of the 1 s timeout, twice in a row
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } });
        proxy.Resolver.Map("slow.test", IPAddress.Loopback);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://slow.test:{origin.Port}/silent HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 0\r\n\r\n");
        string timedOut = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 504", timedOut);
        await client.ReadExactlyAsync(ContentLength(timedOut));
        for (int i = 0; i < 2; i++)
        {
            await client.SendAsync($"GET http://slow.test:{origin.Port}/slow{i} HTTP/1.1\r\nHost: slow.test\r\n\r\n");
            string head = await client.ReadHeadAsync(timeoutMs: 10_000);
            Assert.StartsWith("HTTP/1.1 200", head);
            Assert.Equal("ok", Encoding.ASCII.GetString(await client.ReadExactlyAsync(2)));
        }
    }

    [Fact]
    public async Task A_pooled_connection_whose_origin_goes_silent_is_504_closed_and_never_reused()
    {
        // The wait for a reused connection's answer is the receive the pool left pending: timing it out must close
        // that connection (the origin sees it), and the next request must get a new one.
        int accepted = 0;
        var silentClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            bool first = Interlocked.Increment(ref accepted) == 1;
            for (int request = 0; ; request++)
            {
                if ((await ReadLineAsync(stream)).Length == 0)
                {
                    return;
                }

                if (first && request == 1)
                {
                    byte[] one = new byte[1];
                    try
                    {
                        while (await stream.ReadAsync(one) > 0)
                        {
                        }
                    }
                    catch (IOException)
                    {
                    }

                    silentClosed.TrySetResult(); // the proxy closed the connection it gave up on
                    return;
                }

                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } });
        proxy.Resolver.Map("quiet.test", IPAddress.Loopback);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        string Get(int i) => $"GET http://quiet.test:{origin.Port}/{i} HTTP/1.1\r\nHost: quiet.test\r\n\r\n";
        await client.SendAsync(Get(0));
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        await client.ReadExactlyAsync(2);

        await client.SendAsync(Get(1)); // on the pooled connection, which the origin never answers
        string timedOut = await client.ReadHeadAsync(timeoutMs: 10_000);
        Assert.StartsWith("HTTP/1.1 504", timedOut);
        Assert.Contains("error=http_response_timeout", timedOut);
        await client.ReadExactlyAsync(ContentLength(timedOut));
        await silentClosed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await client.SendAsync(Get(2));
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync(timeoutMs: 10_000));
        Assert.Equal("ok", Encoding.ASCII.GetString(await client.ReadExactlyAsync(2)));
        Assert.Equal(2, accepted);
    }

    [Fact]
    public async Task A_stop_while_a_request_waits_on_a_pooled_connection_ends_that_wait_and_the_client_connection()
    {
        // The wait for a reused connection's answer ends when the exchange is cancelled, by the stop too, not only by
        // the idle timeout: a stop must not hang on an origin that never answers.
        var secondAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await ReadLineAsync(stream);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            await ReadLineAsync(stream);
            secondAsked.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(60));
        });
        TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromMinutes(5) } }, drain: TimeSpan.FromSeconds(1));
        await using (proxy)
        {
            proxy.Resolver.Map("hangs.test", IPAddress.Loopback);
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync($"GET http://hangs.test:{origin.Port}/0 HTTP/1.1\r\nHost: hangs.test\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
            await client.ReadExactlyAsync(2);
            await client.SendAsync($"GET http://hangs.test:{origin.Port}/1 HTTP/1.1\r\nHost: hangs.test\r\n\r\n");
            await secondAsked.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the request went up the pooled connection

            await proxy.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, proxy.OpenConnections);
            Assert.Empty(await client.ReadToEndAsync(timeoutMs: 10_000)); // ended without an answer (reset or FIN)
        }
    }

    private static int ContentLength(string head) =>
        int.Parse(head.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task An_origin_that_never_accepts_is_504_connection_timeout()
    {
        // A listener with a full accept queue: Linux drops further SYNs, so connecting hangs, on loopback.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _ = filler.ConnectAsync(IPAddress.Loopback, port);
            fillers.Add(filler);
        }

        await Task.Delay(200);
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Connect = TimeSpan.FromSeconds(1) } });
        proxy.Resolver.Map("blackhole.test", IPAddress.Loopback);
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        using HttpResponseMessage response = await http.GetAsync($"http://blackhole.test:{port}/");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.StartsWith($"{TestProxy.Name}; error=connection_timeout", response.Headers.GetValues("Proxy-Status").Single());
        fillers.ForEach(f => f.Dispose());
    }

    [Fact]
    public async Task A_malformed_response_is_502_http_protocol_error()
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await ReadLineAsync(stream);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"u8.ToArray());
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("broken.test", IPAddress.Loopback);
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        using HttpResponseMessage response = await http.GetAsync($"http://broken.test:{origin.Port}/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.StartsWith($"{TestProxy.Name}; error=http_protocol_error", response.Headers.GetValues("Proxy-Status").Single());
    }

    [Fact]
    public async Task A_head_request_that_fails_gets_an_error_without_a_body_and_the_connection_stays_usable()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync("HEAD http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 502", await client.ReadHeadAsync());
        await client.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400", await client.ReadHeadAsync()); // the next bytes are the next response, not a body
    }
}
