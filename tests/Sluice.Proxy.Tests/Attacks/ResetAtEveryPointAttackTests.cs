using System.Net;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Origins that close or reset at every point of an exchange, on new and on pooled connections: every client gets a
/// status (a 502 with Proxy-Status when nothing of the answer came), one access-log line per request, and only a
/// request that can be sent again (idempotent, no body) ever arrives twice.
/// </summary>
public sealed class ResetAtEveryPointAttackTests
{
    private const string Host = "flap.test";

    private static async Task<TestProxy> ProxyAsync()
    {
        TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map(Host, IPAddress.Loopback);
        return proxy;
    }

    private static string Request(string method, int port, string path, string? body = null)
    {
        string authority = $"{Host}:{port}";
        string framing = body is null ? "" : $"Content-Length: {body.Length}\r\n";
        return $"{method} http://{authority}/{path} HTTP/1.1\r\nHost: {authority}\r\n{framing}\r\n{body}";
    }

    /// <summary>Does what <paramref name="point"/> says to one request; false when the connection is done.</summary>
    private static async Task FailAsync(OriginSide side, string point)
    {
        switch (point)
        {
            case "accept-close":
                side.Close();
                return;
            case "accept-reset":
                side.Reset();
                return;
        }

        if (await side.ReadRequestAsync() is null)
        {
            return;
        }

        switch (point)
        {
            case "head-close":
                side.Close();
                break;
            case "head-reset":
                side.Reset();
                break;
            case "mid-head-close":
                await side.SendAsync("HTTP/1.1 200 OK\r\nContent-Le");
                side.Close();
                break;
            case "mid-head-reset":
                await side.SendAsync("HTTP/1.1 200 OK\r\nContent-Le");
                side.Reset();
                break;
            case "after-head-close":
                await side.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
                side.Close();
                break;
            case "after-head-reset":
                await side.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfre");
                await Task.Delay(20);
                side.Reset();
                break;
            default:
                throw new ArgumentException(point);
        }
    }

    private static bool AnswerStarted(string point) => point.StartsWith("after-head", StringComparison.Ordinal);

    private static async Task AssertOneLogLineAsync(TestProxy proxy, string marker)
    {
        await proxy.AccessLog.WaitForAsync(l => l.Contains(marker, StringComparison.Ordinal), $"for {marker}");
        await Task.Delay(100); // a second line would follow at once
        Assert.Single(proxy.AccessLog.Lines, l => l.Contains(marker, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("accept-close", "GET")]
    [InlineData("accept-reset", "GET")]
    [InlineData("head-close", "GET")]
    [InlineData("head-reset", "GET")]
    [InlineData("mid-head-close", "GET")]
    [InlineData("mid-head-reset", "GET")]
    [InlineData("after-head-close", "GET")]
    [InlineData("after-head-reset", "GET")]
    [InlineData("accept-close", "POST")]
    [InlineData("accept-reset", "POST")]
    [InlineData("head-close", "POST")]
    [InlineData("head-reset", "POST")]
    [InlineData("mid-head-reset", "POST")]
    [InlineData("after-head-reset", "POST")]
    [InlineData("head-reset", "HEAD")]
    [InlineData("accept-reset", "HEAD")]
    public async Task A_new_origin_connection_that_fails_at_any_point_answers_the_client_and_logs_one_line(string point, string method)
    {
        await using var origin = new ScriptedOrigin(side => FailAsync(side, point));
        await using TestProxy proxy = await ProxyAsync();

        for (int round = 0; round < 5; round++)
        {
            string path = $"fresh-{point}-{method}-{round}";
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync(Request(method, origin.Port, path, method == "POST" ? "body" : null));
            Outcome outcome = await Outcome.ReadAsync(client.Stream, method);

            if (AnswerStarted(point))
            {
                // The head was relayed; a body cut short can only be signalled by cutting the client connection.
                Assert.True(outcome.Status == 200 && (outcome.Truncated || outcome.Closed), $"round {round}\n{outcome}");
            }
            else
            {
                Assert.True(outcome.Status == 502, $"round {round}\n{outcome}");
                Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
            }

            await AssertOneLogLineAsync(proxy, path);
            Assert.True(origin.Arrivals(path) <= 1, $"'{path}' arrived {origin.Arrivals(path)} times");
        }
    }

    // ------------------------------------------------------------------ pooled connections

    /// <summary>Answers the first request of each connection; the second is met with <paramref name="point"/>.</summary>
    private static Func<OriginSide, Task> SecondRequestFails(string point) => async side =>
    {
        string? head = await side.ReadRequestAsync();
        if (head is null)
        {
            return;
        }

        await side.AnswerAsync(head);
        switch (point)
        {
            case "idle-close":
                await Task.Delay(30);
                side.Close();
                return;
            case "idle-reset":
                await Task.Delay(30);
                side.Reset();
                return;
            default:
                await FailAsync(side, point);
                return;
        }
    };

    [Theory]
    [InlineData("GET", null, true)]
    [InlineData("HEAD", null, true)]
    [InlineData("OPTIONS", null, true)]
    [InlineData("DELETE", null, true)]
    [InlineData("PUT", "", true)] // Content-Length: 0: no body to have consumed
    [InlineData("PUT", "data", false)]
    [InlineData("DELETE", "data", false)]
    [InlineData("POST", "data", false)]
    [InlineData("POST", "", false)]
    [InlineData("PATCH", "data", false)]
    [InlineData("GET", "data", false)]
    public async Task A_pooled_connection_closed_after_reading_a_request_resends_only_what_can_be_sent_twice(string method, string? body, bool resent)
    {
        foreach (string point in new[] { "head-close", "head-reset" })
        {
            await using var origin = new ScriptedOrigin(SecondRequestFails(point));
            await using TestProxy proxy = await ProxyAsync();
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

            await client.SendAsync(Request("GET", origin.Port, "warm"));
            Assert.Equal(200, (await Outcome.ReadAsync(client.Stream)).Status);

            string path = $"pooled-{point}-{method}";
            await client.SendAsync(Request(method, origin.Port, path, body));
            Outcome outcome = await Outcome.ReadAsync(client.Stream, method);

            if (resent)
            {
                Assert.True(outcome.Status == 200, $"{point}: {outcome}");
                Assert.Equal(2, origin.Arrivals(path));
                Assert.Equal(2, origin.Connections);
            }
            else
            {
                Assert.True(outcome.Status == 502, $"{point}: {outcome}");
                Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
                Assert.Equal(1, origin.Arrivals(path));
            }

            await AssertOneLogLineAsync(proxy, path);
        }
    }

    [Theory]
    [InlineData("mid-head-close")]
    [InlineData("mid-head-reset")]
    public async Task A_pooled_connection_that_began_answering_then_died_is_never_resent(string point)
    {
        await using var origin = new ScriptedOrigin(SecondRequestFails(point));
        await using TestProxy proxy = await ProxyAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync(Request("GET", origin.Port, "warm"));
        Assert.Equal(200, (await Outcome.ReadAsync(client.Stream)).Status);
        await client.SendAsync(Request("GET", origin.Port, "begun"));
        Outcome outcome = await Outcome.ReadAsync(client.Stream);

        Assert.True(outcome.Status == 502, outcome.ToString());
        Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
        Assert.Equal(1, origin.Arrivals("/begun"));
        await AssertOneLogLineAsync(proxy, "/begun");
    }

    [Theory]
    [InlineData("idle-close", "GET")]
    [InlineData("idle-reset", "GET")]
    [InlineData("idle-close", "POST")]
    [InlineData("idle-reset", "POST")]
    public async Task A_pooled_connection_the_origin_dropped_while_idle_is_not_used_and_a_post_goes_once_on_a_new_one(string point, string method)
    {
        await using var origin = new ScriptedOrigin(async side =>
        {
            // Only the first connection dies while idle; later ones serve every request.
            if (side.Index == 1)
            {
                await SecondRequestFails(point)(side);
                return;
            }

            while (await side.ReadRequestAsync() is { } head)
            {
                await side.AnswerAsync(head);
            }
        });
        await using TestProxy proxy = await ProxyAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync(Request("GET", origin.Port, "warm"));
        Assert.Equal(200, (await Outcome.ReadAsync(client.Stream)).Status);
        await Task.Delay(300); // the origin's close or reset has landed; the idle watch has seen it

        string path = $"after-idle-{point}-{method}";
        await client.SendAsync(Request(method, origin.Port, path, method == "POST" ? "data" : null));
        Outcome outcome = await Outcome.ReadAsync(client.Stream, method);

        Assert.True(outcome.Status == 200, outcome.ToString());
        Assert.Equal(1, origin.Arrivals(path));
        await AssertOneLogLineAsync(proxy, path);
    }

    [Fact]
    public async Task An_idle_connection_that_gets_stray_bytes_is_closed_by_its_watch_after_any_number_of_reuses()
    {
        // Many take-and-return cycles on one pooled connection, then bytes nobody asked for while it is idle: the watch
        // of the current idle period must close it (no stale watch may leave it open), and no later request reads them.
        var closedByProxy = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var strayNow = new SemaphoreSlim(0);
        await using var origin = new ScriptedOrigin(async side =>
        {
            while (await side.ReadRequestAsync() is { } head)
            {
                await side.AnswerAsync(head);
                if (head.Contains("/last-", StringComparison.Ordinal))
                {
                    await strayNow.WaitAsync(TimeSpan.FromSeconds(10));
                    await side.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned");
                    closedByProxy.TrySetResult(await side.ClosedByProxyWithinAsync(TimeSpan.FromSeconds(8)));
                    return;
                }
            }
        });
        await using TestProxy proxy = await ProxyAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        for (int round = 0; round < 50; round++)
        {
            await client.SendAsync(Request("GET", origin.Port, round == 49 ? $"last-{round}" : $"reuse-{round}"));
            Outcome outcome = await Outcome.ReadAsync(client.Stream);
            Assert.True(outcome.Status == 200 && outcome.Body == OriginSide.FreshBody, $"round {round}\n{outcome}");
        }

        Assert.Equal(1, origin.Connections);
        strayNow.Release();
        Assert.True(await closedByProxy.Task, "the pooled connection that received stray bytes while idle was left open");

        await client.SendAsync(Request("GET", origin.Port, "after-stray"));
        Outcome after = await Outcome.ReadAsync(client.Stream);
        Assert.True(after.Status == 200 && after.Body == OriginSide.FreshBody, after.ToString());
        Assert.Equal(2, origin.Connections);
    }

    [Fact]
    public async Task An_origin_reached_by_happy_eyeballs_that_resets_at_once_is_a_502_with_proxy_status()
    {
        // Two addresses for the name (both 127.0.0.1): the connection comes from the race, whose peer is the address dialled.
        await using var origin = new ScriptedOrigin(side =>
        {
            side.Reset();
            return Task.CompletedTask;
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map(Host, IPAddress.Loopback, IPAddress.Loopback);

        for (int round = 0; round < 10; round++)
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync(Request("GET", origin.Port, $"eyeballs-{round}"));
            Outcome outcome = await Outcome.ReadAsync(client.Stream);
            Assert.True(outcome.Status == 502, $"round {round}\n{outcome}");
            Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
            await AssertOneLogLineAsync(proxy, $"eyeballs-{round}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_large_post_whose_origin_resets_while_it_uploads_is_a_502_and_arrives_once(bool pooled)
    {
        // The origin reads the head (and, on a pooled connection, the warm-up before it), then resets with the body
        // still coming: the upload fails, nothing of an answer came, and a POST is not sent again.
        await using var origin = new ScriptedOrigin(async side =>
        {
            while (true)
            {
                int end = -1;
                var head = new System.Text.StringBuilder();
                byte[] one = new byte[1];
                while (end < 0)
                {
                    if (await side.Stream.ReadAsync(one) == 0)
                    {
                        return;
                    }

                    head.Append((char)one[0]);
                    end = head.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal);
                }

                if (head.ToString().StartsWith("GET ", StringComparison.Ordinal))
                {
                    await side.AnswerAsync(head.ToString());
                    continue;
                }

                side.Record(head.ToString());
                side.Reset();
                return;
            }
        });
        await using TestProxy proxy = await ProxyAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        if (pooled)
        {
            await client.SendAsync(Request("GET", origin.Port, "warm"));
            Assert.Equal(200, (await Outcome.ReadAsync(client.Stream)).Status);
        }

        string authority = $"{Host}:{origin.Port}";
        const int Length = 4 * 1024 * 1024;
        await client.SendAsync($"POST http://{authority}/upload HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {Length}\r\n\r\n");
        Task upload = Task.Run(async () =>
        {
            try
            {
                await client.Stream.WriteAsync(new byte[Length]);
            }
            catch (IOException)
            {
            }
        });
        Outcome outcome = await Outcome.ReadAsync(client.Stream, "POST");

        Assert.True(outcome.Status == 502, outcome.ToString());
        Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
        Assert.Equal(1, origin.Arrivals("/upload"));
        await AssertOneLogLineAsync(proxy, "/upload");
        client.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        client.Socket.Close();
        await upload.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
