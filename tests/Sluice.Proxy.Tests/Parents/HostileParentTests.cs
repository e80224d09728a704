using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Policy.Names;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Upstream;
using Xunit.Abstractions;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// A parent proxy that lies, stalls, resets, smuggles and echoes: whatever it does, the client gets one complete,
/// named answer, tunnel bytes arrive exactly, nothing it sends unasked is taken for a later response, Sluice's
/// credentials for it never leak and the client's never reach it, and its health recovers.
/// </summary>
public sealed class HostileParentTests(ITestOutputHelper output)
{
    internal const string User = "sluice-user";
    internal const string Password = "Zq9-parent-pass";
    private const string ClientSecret = "client-secret-Kx7";
    private const string Poison = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned";

    // Every byte value: what comes after the parent's 200 must reach the client unchanged.
    private static readonly string AllBytes = new([.. Enumerable.Range(0, 256).Select(i => (char)i)]);

    internal static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    internal static UpstreamConfig Upstream(UpstreamCredentials? credentials, params IPEndPoint[] parents) => new()
    {
        Name = "corp",
        Proxies = [.. parents.Select(p => new ParentProxyAddress("http", new HostPort(p.Address.ToString(), p.Address, p.Port)))],
        Credentials = credentials,
    };

    /// <summary>A child Sluice whose default route is <paramref name="upstream"/>, with short timeouts and an 8 KiB head limit.</summary>
    internal static Task<TestProxy> ChildAsync(UpstreamConfig upstream, Func<SluiceConfig, SluiceConfig>? more = null, AccessLogFormat format = AccessLogFormat.Squid, LogLines? log = null) =>
        TestProxy.StartAsync(c =>
        {
            SluiceConfig config = c with
            {
                Upstreams = [upstream],
                Route = new RouteConfig { Default = upstream.Name },
                Timeouts = c.Timeouts with { Connect = TimeSpan.FromSeconds(1), Idle = TimeSpan.FromSeconds(5) },
                Limits = c.Limits with { MaxHeaderBytes = 8 * 1024 },
            };
            return more?.Invoke(config) ?? config;
        }, format: format, log: log);

    private static string Get(string path) => $"GET http://dest.test/{path} HTTP/1.1\r\nHost: dest.test\r\n\r\n";

    private const string Connect = "CONNECT dest.test:443 HTTP/1.1\r\nHost: dest.test:443\r\n\r\n";

    // ---------------------------------------------------------------- CONNECT answers

    private static string RefusedAnswer(string id) => id switch
    {
        "garbage" => "NONSENSE\r\n\r\n",
        "bare-lf" => "HTTP/1.1 200 OK\n\n",
        "bare-lf-field" => "HTTP/1.1 200 OK\r\nX-A: b\n\r\n",
        "oversized-head" => "HTTP/1.1 200 OK\r\nX-Big: " + new string('a', 9000) + "\r\n\r\n",
        "status-999" => "HTTP/1.1 999 Nine\r\n\r\n",
        "http2" => "HTTP/2 200\r\n\r\n",
        "switching" => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "endless-1xx" => string.Concat(Enumerable.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 40)) + "HTTP/1.1 200 OK\r\n\r\n",
        "407-big-challenge" => "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"" + new string('r', 6000) + "\"\r\nContent-Length: 0\r\n\r\n",
        "407-huge-challenge" => "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"" + new string('r', 20000) + "\"\r\n\r\n",
        "500" => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        _ => throw new ArgumentException(id),
    };

    [Theory]
    [InlineData("garbage", 502, "error=destination_unavailable")]
    [InlineData("bare-lf", 502, "error=destination_unavailable")]
    [InlineData("bare-lf-field", 502, "error=destination_unavailable")]
    [InlineData("oversized-head", 502, "error=destination_unavailable")]
    [InlineData("status-999", 502, "error=destination_unavailable")]
    [InlineData("http2", 502, "error=destination_unavailable")]
    [InlineData("switching", 502, "received-status=101")]
    [InlineData("endless-1xx", 502, "error=destination_unavailable")]
    [InlineData("407-big-challenge", 502, "error=proxy_configuration_error; next-hop=\"127.0.0.1:{port}\"; received-status=407")]
    [InlineData("407-huge-challenge", 502, "error=destination_unavailable")]
    [InlineData("500", 502, "received-status=500")]
    public async Task A_connect_answer_that_opens_no_tunnel_is_one_named_error_for_the_client(string id, int status, string proxyStatus)
    {
        await using HostileParent parent = HostileParent.FirstAnswer(RefusedAnswer(id));
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Connect);
        string head = await raw.ReadHeadAsync();

        Assert.StartsWith($"HTTP/1.1 {status} ", head);
        Assert.Contains(proxyStatus.Replace("{port}", parent.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), head);
        Assert.Contains($"next-hop=\"{parent.Endpoint}\"", head);
        Assert.DoesNotContain("Proxy-Authenticate", head); // a parent's challenge is for Sluice's credentials, never the client's
        Assert.True(head.Length < 2048, $"the client got a {head.Length}-byte head: the parent's answer leaked into it");
        await child.AccessLog.WaitForAsync(l => l.Contains("dest.test:443") && l.Contains($"/{status} "), "the refused CONNECT");
    }

    [Fact]
    public async Task A_403_with_an_enormous_body_is_a_short_403_for_the_client()
    {
        await using var parent = new HostileParent(async line =>
        {
            await line.ReadHeadAsync();
            await line.SendAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 67108864\r\n\r\n");
            byte[] chunk = new byte[64 * 1024];
            for (int i = 0; i < 1024; i++)
            {
                await line.Stream.WriteAsync(chunk); // ends with an IOException when Sluice closes
            }
        });
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Connect);
        Outcome outcome = await Outcome.ReadAsync(raw.Stream, "CONNECT");

        Assert.Equal(403, outcome.Status);
        Assert.Contains("error=http_request_denied", outcome.HeadValue("Proxy-Status"));
        Assert.Contains("received-status=403", outcome.HeadValue("Proxy-Status"));
        Assert.True(outcome.Body.Length < 1024, $"a {outcome.Body.Length}-byte body");
    }

    private static (string Head, string Early) TunnelAnswer(string id) => id switch
    {
        "plain" => ("HTTP/1.1 200 Connection established\r\n\r\n", "EARLY" + AllBytes),
        "content-length" => ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "0123456789" + AllBytes),
        "chunked" => ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n" + AllBytes),
        "http10" => ("HTTP/1.0 200 Connection established\r\n\r\n", "ten" + AllBytes),
        "204" => ("HTTP/1.1 204 No Content\r\n\r\n", "no-content-but-a-tunnel"),
        "206" => ("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/2\r\n\r\n", "partial-but-a-tunnel"),
        "100-then-200" => ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "after-interim" + AllBytes),
        "103-then-200" => ("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "after-hints"),
        "no-reason" => ("HTTP/1.1 200\r\n\r\n", "bare"),
        _ => throw new ArgumentException(id),
    };

    [Theory]
    [InlineData("plain")]
    [InlineData("content-length")]
    [InlineData("chunked")]
    [InlineData("http10")]
    [InlineData("204")]
    [InlineData("206")]
    [InlineData("100-then-200")]
    [InlineData("103-then-200")]
    [InlineData("no-reason")]
    public async Task Bytes_after_the_parents_2xx_in_the_same_packet_are_tunnel_data_relayed_exactly(string id)
    {
        (string answer, string early) = TunnelAnswer(id);
        await using HostileParent parent = HostileParent.FirstAnswer(answer + early); // one write: head and tunnel bytes together
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Connect);
        string head = await raw.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.DoesNotContain("Content-Length", head);
        Assert.DoesNotContain("Transfer-Encoding", head);
        Assert.Equal(Encoding.Latin1.GetBytes(early), await raw.ReadExactlyAsync(Encoding.Latin1.GetByteCount(early)));

        byte[] ping = Encoding.Latin1.GetBytes("ping\0\r\n\xff");
        await raw.SendAsync(ping);
        Assert.Equal(ping, await raw.ReadExactlyAsync(ping.Length));
    }

    [Fact]
    public async Task A_connect_answer_that_never_ends_hits_the_connect_timeout()
    {
        await using var parent = new HostileParent(async line =>
        {
            await line.ReadHeadAsync();
            await line.SendAsync("HTTP/1.1 200 OK\r\n");
            while (!line.Stopping.IsCancellationRequested)
            {
                await line.SendAsync("X-Drip: 1\r\n"); // always more head, never its end, never over the size limit in time
                await Task.Delay(50, line.Stopping);
            }
        });
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Connect);
        string head = await raw.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 504 ", head);
        Assert.Contains("error=connection_timeout", head);
        Assert.Contains("did not answer CONNECT", head);
    }

    [Theory]
    [InlineData("never-reads", 504, "error=connection_timeout")]
    [InlineData("reads-never-answers", 504, "error=connection_timeout")]
    [InlineData("closes", 502, "error=destination_unavailable")]
    [InlineData("resets", 502, "error=destination_unavailable")]
    [InlineData("closes-mid-head", 502, "error=destination_unavailable")]
    public async Task A_parent_that_stalls_closes_or_resets_on_connect_gets_the_client_a_named_error(string behaviour, int status, string proxyStatus)
    {
        await using HostileParent parent = Behaving(behaviour);
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Connect);
        string head = await raw.ReadHeadAsync();

        Assert.StartsWith($"HTTP/1.1 {status} ", head);
        Assert.True(head.Contains(proxyStatus, StringComparison.Ordinal), head);
        Assert.Contains($"next-hop=\"{parent.Endpoint}\"", head);
    }

    [Theory]
    [InlineData("never-reads", 504)]
    [InlineData("reads-never-answers", 504)]
    [InlineData("closes", 502)]
    [InlineData("resets", 502)]
    [InlineData("closes-mid-head", 502)]
    public async Task A_parent_that_stalls_closes_or_resets_on_a_forwarded_request_gets_the_client_a_named_error(string behaviour, int status)
    {
        await using HostileParent parent = Behaving(behaviour);
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint), c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } });
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Get("stall"));
        Outcome outcome = await Outcome.ReadAsync(raw.Stream);

        Assert.True(outcome.Status == status, outcome.ToString());
        Assert.Contains($"next-hop=\"{parent.Endpoint}\"", outcome.HeadValue("Proxy-Status"));
    }

    [Fact]
    public async Task A_parent_that_resets_while_a_large_body_goes_up_gets_the_client_a_named_error()
    {
        await using var parent = new HostileParent(async line =>
        {
            await line.ReadHeadAsync();
            line.Reset(); // the body still on its way
        });
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
        const int length = 8 * 1024 * 1024;

        await raw.SendAsync($"POST http://dest.test/upload HTTP/1.1\r\nHost: dest.test\r\nContent-Length: {length}\r\n\r\n");
        Task send = Task.Run(async () =>
        {
            try
            {
                byte[] chunk = new byte[64 * 1024];
                for (int sent = 0; sent < length; sent += chunk.Length)
                {
                    await raw.Stream.WriteAsync(chunk);
                }
            }
            catch (IOException)
            {
                // the proxy may stop reading once it has answered
            }
        });
        Outcome outcome = await Outcome.ReadAsync(raw.Stream, "POST");

        Assert.True(outcome.Status == 502, outcome.ToString());
        Assert.Contains($"next-hop=\"{parent.Endpoint}\"", outcome.HeadValue("Proxy-Status"));
        raw.Socket.Close();
        await send.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static HostileParent Behaving(string behaviour) => new(async line =>
    {
        switch (behaviour)
        {
            case "never-reads":
                await Task.Delay(Timeout.Infinite, line.Stopping);
                break;
            case "reads-never-answers":
                await line.ReadHeadAsync();
                await line.DrainAsync();
                break;
            case "closes":
                break;
            case "resets":
                line.Reset();
                break;
            case "closes-mid-head":
                await line.ReadHeadAsync();
                await line.SendAsync("HTTP/1.1 200 OK\r\nX-Half: ");
                break;
        }
    });

    // ---------------------------------------------------------------- forwarded requests

    private static string ForwardAnswer(string id) => id switch
    {
        "longer-than-length" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + Poison,
        "late-unsolicited" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + HostileParent.Pause + Poison,
        "204-with-body" => "HTTP/1.1 204 No Content\r\n\r\n" + Poison,
        "cl-and-te" => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + Poison,
        "duplicate-cl" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 48\r\n\r\nok" + Poison,
        "cl-list" => "HTTP/1.1 200 OK\r\nContent-Length: 2, 48\r\n\r\nok" + Poison,
        "negative-cl" => "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n" + Poison,
        "plus-cl" => "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok" + Poison,
        "obs-fold" => "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok" + Poison,
        "te-gzip" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx" + Poison,
        "te-in-http10" => "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n2\r\nok\r\n0\r\n\r\n" + Poison,
        "space-before-colon" => "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok" + Poison,
        "unasked-101" => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + Poison,
        "407-with-body" => "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 48\r\n\r\n" + Poison + Poison,
        "407-close-delimited" => "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\r\n" + Poison,
        "bad-chunk" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n" + Poison,
        _ => throw new ArgumentException(id),
    };

    [Theory]
    [InlineData("longer-than-length", 200, "ok")]
    [InlineData("late-unsolicited", 200, "ok")]
    [InlineData("204-with-body", 204, "")]
    [InlineData("cl-and-te", 502, null)]
    [InlineData("duplicate-cl", 502, null)]
    [InlineData("cl-list", 502, null)]
    [InlineData("negative-cl", 502, null)]
    [InlineData("plus-cl", 502, null)]
    [InlineData("obs-fold", 502, null)]
    [InlineData("te-gzip", 502, null)]
    [InlineData("te-in-http10", 502, null)]
    [InlineData("space-before-colon", 502, null)]
    [InlineData("unasked-101", 502, null)]
    [InlineData("407-with-body", 502, null)]
    [InlineData("407-close-delimited", 502, null)]
    public async Task A_parents_smuggling_or_surplus_bytes_never_answer_the_next_request(string id, int status, string? body)
    {
        await using HostileParent parent = HostileParent.FirstAnswer(ForwardAnswer(id));
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Get("first"));
        Outcome first = await Outcome.ReadAsync(raw.Stream);
        Assert.True(first.Status == status, first.ToString());
        if (body is not null)
        {
            Assert.Equal(body, first.Body);
        }
        else
        {
            Assert.DoesNotContain("poisoned", first.Body);
            Assert.Contains($"next-hop=\"{parent.Endpoint}\"", first.HeadValue("Proxy-Status"));
        }

        Assert.False(first.Closed, $"a broken answer from the parent cost the client its connection\n{first}");
        await parent.FirstAnswerSent.WaitAsync(TimeSpan.FromSeconds(10)); // every late byte is written...
        await Task.Delay(150); // ...and has reached the idle parent connection by now
        await raw.SendAsync(Get("second"));
        Outcome second = await Outcome.ReadAsync(raw.Stream);
        Assert.True(second.Status == 200 && second.Body == HostileParent.FreshBody, $"the second request got someone else's response\n{second}");

        // A third request from another client, too: nothing of the first answer waits in the pool for it.
        using RawClient other = await RawClient.ConnectAsync(child.Endpoint);
        await other.SendAsync(Get("third"));
        Outcome third = await Outcome.ReadAsync(other.Stream);
        Assert.True(third.Status == 200 && third.Body == HostileParent.FreshBody, third.ToString());
        if (status != 200 && status != 204)
        {
            Assert.True(parent.Connections >= 2, "the parent connection that answered wrongly was used again");
        }
    }

    [Fact]
    public async Task A_407_with_a_body_is_a_502_the_client_connection_survives_and_the_parent_connection_is_not_pooled()
    {
        await using HostileParent parent = HostileParent.FirstAnswer(ForwardAnswer("407-with-body"));
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Get("first"));
        Outcome first = await Outcome.ReadAsync(raw.Stream);
        Assert.Equal(502, first.Status);
        Assert.Contains($"error=proxy_configuration_error; next-hop=\"{parent.Endpoint}\"; received-status=407", first.HeadValue("Proxy-Status"));
        Assert.Null(first.HeadValue("Proxy-Authenticate"));
        Assert.Contains("asks for credentials", first.Body);

        await raw.SendAsync(Get("second"));
        Outcome second = await Outcome.ReadAsync(raw.Stream);
        Assert.Equal(HostileParent.FreshBody, second.Body);
        Assert.Equal(2, parent.Connections);
    }

    // ---------------------------------------------------------------- credentials

    [Fact]
    public async Task The_clients_proxy_authorization_never_reaches_the_parent_and_ours_goes_exactly_once()
    {
        using var secret = new SecretFile(Password);
        await using HostileParent parent = HostileParent.Fresh();
        await using TestProxy child = await ChildAsync(Upstream(secret.Credentials(User), parent.Endpoint));
        string client = Basic("client", ClientSecret);
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync($"GET http://dest.test/a HTTP/1.1\r\nHost: dest.test\r\nProxy-Authorization: {client}\r\nproxy-authorization: {client}\r\nConnection: keep-alive, Proxy-Authorization\r\n\r\n");
        Assert.Equal(HostileParent.FreshBody, (await Outcome.ReadAsync(raw.Stream)).Body);
        await raw.SendAsync($"POST http://dest.test/b HTTP/1.1\r\nHost: dest.test\r\nPROXY-AUTHORIZATION: {client}\r\nContent-Length: 3\r\n\r\nabc");
        Assert.Equal(HostileParent.FreshBody, (await Outcome.ReadAsync(raw.Stream)).Body);
        using (RawClient tunnel = await RawClient.ConnectAsync(child.Endpoint))
        {
            await tunnel.SendAsync($"CONNECT dest.test:443 HTTP/1.1\r\nHost: dest.test:443\r\nProxy-Authorization: {client}\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await tunnel.ReadHeadAsync());
        }

        IReadOnlyList<string> heads = parent.Heads;
        Assert.Equal(3, heads.Count);
        foreach (string head in heads)
        {
            string[] authorizations = [.. head.Split("\r\n").Where(l => l.StartsWith("Proxy-Authorization:", StringComparison.OrdinalIgnoreCase))];
            Assert.Equal([$"Proxy-Authorization: {Basic(User, Password)}"], authorizations);
            Assert.DoesNotContain(client["Basic ".Length..], head);
        }
    }

    /// <summary>A parent that answers with our own credentials quoted everywhere it can put them.</summary>
    private static HostileParent Echoing(int status) => new(async line =>
    {
        while (await line.ReadHeadAsync() is { } head)
        {
            await line.ReadBodyAsync(head);
            string said = string.Join(" ", head.Split("\r\n").Where(l => l.StartsWith("Proxy-Authorization:", StringComparison.OrdinalIgnoreCase)));
            string decoded = said.Length > 27 ? Encoding.UTF8.GetString(Convert.FromBase64String(said[27..])) : "";
            string echo = $"you sent {said} meaning {decoded}";
            string body = $"<html>{echo}</html>";
            await line.SendAsync($"HTTP/1.1 {status} Refused {echo}\r\n"
                + (status == 407 ? "Proxy-Authenticate: Basic realm=\"corp\"\r\n" : "")
                + $"Proxy-Status: evil-parent; error=http_request_denied; details=\"{echo}\"\r\n"
                + $"X-Squid-Error: ERR_ACCESS_DENIED {echo}\r\nX-Echo: {echo}\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        }
    });

    [Theory]
    [InlineData(407, true, AccessLogFormat.Squid)]
    [InlineData(407, false, AccessLogFormat.Squid)]
    [InlineData(407, true, AccessLogFormat.Json)]
    [InlineData(407, false, AccessLogFormat.Json)]
    [InlineData(403, true, AccessLogFormat.Squid)]
    [InlineData(403, false, AccessLogFormat.Json)]
    [InlineData(503, true, AccessLogFormat.Json)]
    [InlineData(500, false, AccessLogFormat.Squid)]
    public async Task A_parent_that_echoes_our_credentials_never_gets_them_to_the_client_or_the_log(int status, bool connect, AccessLogFormat format)
    {
        using var secret = new SecretFile(Password);
        await using HostileParent parent = Echoing(status);
        var log = new LogLines();
        await using TestProxy child = await ChildAsync(Upstream(secret.Credentials(User), parent.Endpoint), format: format, log: log);
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(connect ? Connect : Get("echo"));
        Outcome outcome = await Outcome.ReadAsync(raw.Stream, connect ? "CONNECT" : "GET");
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("dest.test"), "the request's line");

        Assert.True(outcome.Status >= 400, outcome.ToString());

        // Sluice's own words: its whole answer for a CONNECT or a 407 (the parent's are quoted in it), its Proxy-Status
        // member on a relayed refusal (the rest of a relayed response is the parent's own, passed on as an origin's).
        bool relayed = !connect && status != 407;
        string ours = relayed
            ? string.Join("\n", outcome.Head.Split("\r\n").Where(l => l.StartsWith($"Proxy-Status: {TestProxy.Name}", StringComparison.Ordinal)))
            : outcome.Head + outcome.Body;
        Assert.Contains(TestProxy.Name, ours);
        string token = Basic(User, Password)["Basic ".Length..];
        foreach ((string where, string text) in new[] { ("Sluice's answer", ours), ("the access log", line), ("the proxy's log", string.Join("\n", log.Lines)) })
        {
            Assert.False(text.Contains(token, StringComparison.Ordinal), $"{where} holds Sluice's credentials for the parent:\n{text}");
            Assert.False(text.Contains(Password, StringComparison.Ordinal), $"{where} holds Sluice's password for the parent:\n{text}");
        }

        if (!relayed && status == 407)
        {
            Assert.Contains("it says: evil-parent", ours); // what the parent said is still quoted, without the secret
            Assert.Contains("(credentials removed)", ours);
        }
    }

    [Fact]
    public async Task A_trace_the_parent_answers_itself_carries_no_credentials_for_it_to_echo()
    {
        using var secret = new SecretFile(Password);
        await using var parent = new HostileParent(async line =>
        {
            while (await line.ReadHeadAsync() is { } head)
            {
                // A parent answering TRACE at Max-Forwards 0 echoes the request it received, every field of it.
                bool last = head.Contains("\r\nMax-Forwards: 0\r\n", StringComparison.OrdinalIgnoreCase);
                string body = last ? head : HostileParent.FreshBody;
                await line.SendAsync($"HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: {body.Length}\r\n\r\n{body}");
            }
        });
        await using TestProxy child = await ChildAsync(Upstream(secret.Credentials(User), parent.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync("TRACE http://dest.test/t HTTP/1.1\r\nHost: dest.test\r\nMax-Forwards: 1\r\n\r\n");
        Outcome echoed = await Outcome.ReadAsync(raw.Stream);
        Assert.Equal(200, echoed.Status);
        Assert.Contains("TRACE http://dest.test/t", echoed.Body);
        Assert.DoesNotContain(Basic(User, Password)["Basic ".Length..], echoed.Body);

        // Past the parent (Max-Forwards absent or above 1), the request carries the credentials the parent consumes.
        await raw.SendAsync("TRACE http://dest.test/u HTTP/1.1\r\nHost: dest.test\r\nMax-Forwards: 5\r\n\r\n");
        Assert.Equal(HostileParent.FreshBody, (await Outcome.ReadAsync(raw.Stream)).Body);
        Assert.Contains($"Proxy-Authorization: {Basic(User, Password)}\r\n", parent.Heads[^1]);
    }

    [Theory]
    [InlineData("nul", "Zq9\0Xk")]
    [InlineData("lone-cr", "Zq9\rXk")]
    [InlineData("tab", "Zq9\tXk")]
    [InlineData("del", "Zq9\u007fXk")]
    [InlineData("escape", "Zq9\u001b[2JXk")]
    public async Task A_password_file_with_a_control_character_refuses_the_configuration_without_printing_it(string _, string password)
    {
        using var secret = new SecretFile(password);
        await using HostileParent parent = HostileParent.Fresh();

        StartupException e = await Assert.ThrowsAsync<StartupException>(() => ChildAsync(Upstream(secret.Credentials(User), parent.Endpoint)));

        Assert.Contains("credentials.passwordFile", e.Message);
        Assert.Contains("control character", e.Message);
        Assert.DoesNotContain("Zq9", e.Message);
        Assert.DoesNotContain("Xk", e.Message);
        Assert.Equal(0, parent.Connections);
    }

    [Fact]
    public async Task A_password_variable_with_a_line_break_refuses_the_reload_and_the_old_credentials_stay()
    {
        string variable = $"SLUICE_TEST_PARENT_PASSWORD_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(variable, Password);
        try
        {
            await using HostileParent parent = HostileParent.Fresh();
            var credentials = new UpstreamCredentials(
                new SecretSource(SecretKind.Literal, User, "upstreams[0].credentials.user", "test.yaml", 1, 1),
                new SecretSource(SecretKind.Environment, variable, "upstreams[0].credentials.passwordEnv", "test.yaml", 2, 3));
            await using TestProxy child = await ChildAsync(Upstream(credentials, parent.Endpoint));

            Environment.SetEnvironmentVariable(variable, "new-pass\r\nX-Injected: 1");
            ConfigException e = Assert.Throws<ConfigException>(() => child.Server.Reload(child.Server.CurrentConfig));
            Assert.Contains("credentials.passwordEnv", e.Message);
            Assert.Contains("control character", e.Message);
            Assert.DoesNotContain("new-pass", e.Message);

            using HttpClient client = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });
            Assert.Equal(HostileParent.FreshBody, await client.GetStringAsync("http://dest.test/after"));
            Assert.Contains($"Proxy-Authorization: {Basic(User, Password)}\r\n", parent.Heads[^1]);
            Assert.DoesNotContain("X-Injected", parent.Heads[^1]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData("pässwörd-ünïcödé", "pässwörd-ünïcödé")] // RFC 7617 §2.1: UTF-8
    [InlineData("secret\r\n", "secret")] // the line end is not part of it, CRLF or LF
    [InlineData("secret\nsecond line\n", "secret")] // only the first line is the secret
    [InlineData("\uFEFFwith-bom", "with-bom")] // an editor's byte order mark is not part of it
    [InlineData(" spaced out ", " spaced out ")] // spaces are: they are printable
    public async Task A_password_file_is_its_first_line_sent_as_utf8(string content, string expected)
    {
        using var secret = new SecretFile(content);
        await using HostileParent parent = HostileParent.Fresh();
        await using TestProxy child = await ChildAsync(Upstream(secret.Credentials(User), parent.Endpoint));
        using HttpClient client = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });

        Assert.Equal(HostileParent.FreshBody, await client.GetStringAsync("http://dest.test/utf8"));
        Assert.Contains($"Proxy-Authorization: {Basic(User, expected)}\r\n", parent.Heads[^1]);
    }

    [Fact]
    public async Task A_password_file_that_never_ends_refuses_the_configuration()
    {
        using var secret = new SecretFile(new string('x', 1024 * 1024)); // one line, 1 MiB: not a password, a mistake (or /dev/zero)
        await using HostileParent parent = HostileParent.Fresh();

        StartupException e = await Assert.ThrowsAsync<StartupException>(() => ChildAsync(Upstream(secret.Credentials(User), parent.Endpoint)));

        Assert.Contains("credentials.passwordFile", e.Message);
        Assert.DoesNotContain("xxxx", e.Message);
    }

    // ---------------------------------------------------------------- failover and health

    [Fact]
    public async Task A_flapping_parent_under_fifty_concurrent_clients_leaves_no_request_unanswered_and_comes_back_up()
    {
        await using HostileParent stable = HostileParent.Fresh();
        await using HostileParent flappy = HostileParent.Fresh();
        var log = new LogLines();
        await using TestProxy child = await ChildAsync(Upstream(null, flappy.Endpoint, stable.Endpoint), log: log);

        using var flapping = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        Task flapper = Task.Run(async () =>
        {
            while (!flapping.IsCancellationRequested)
            {
                flappy.Stop();
                await Task.Delay(150);
                flappy.Start();
                await Task.Delay(150);
            }
        });

        var statuses = new System.Collections.Concurrent.ConcurrentBag<int>();
        var unanswered = new System.Collections.Concurrent.ConcurrentBag<string>();
        Task[] clients = [.. Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            while (!flapping.IsCancellationRequested)
            {
                using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
                if (i % 5 == 0)
                {
                    await raw.SendAsync(Connect);
                    Outcome answer = await Outcome.ReadAsync(raw.Stream, "CONNECT");
                    statuses.Add(answer.Status);
                    if (answer.Status == 200)
                    {
                        await raw.SendAsync("echo");
                        if (Encoding.ASCII.GetString(await raw.ReadExactlyAsync(4)) != "echo")
                        {
                            unanswered.Add("a tunnel that did not echo");
                        }
                    }
                    else if (answer.Status == 0 || answer.HeadValue("Proxy-Status") is null)
                    {
                        unanswered.Add(answer.ToString());
                    }

                    continue;
                }

                for (int r = 0; r < 3; r++)
                {
                    await raw.SendAsync(Get($"flap-{i}-{r}"));
                    Outcome outcome = await Outcome.ReadAsync(raw.Stream);
                    statuses.Add(outcome.Status);
                    if (outcome.Status == 0 || outcome.Truncated || (outcome.Status != 200 && outcome.HeadValue("Proxy-Status") is null))
                    {
                        unanswered.Add(outcome.ToString());
                    }

                    if (outcome.Closed)
                    {
                        break;
                    }
                }
            }
        }))];

        Task all = Task.WhenAll(clients);
        Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))) == all, "some client never got its answer");
        await all;
        await flapper;
        flappy.Start();

        output.WriteLine($"statuses: {string.Join(", ", statuses.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"))}; flappy accepted {flappy.Connections}, stable {stable.Connections}");
        Assert.Empty(unanswered);
        Assert.NotEmpty(statuses);
        Assert.All(statuses, s => Assert.True(s is 200 or 502 or 503 or 504, $"status {s}"));
        Assert.DoesNotContain(log.Lines, l => l.Contains("failed unexpectedly"));

        // Up again, the parent is taken back: by a request's success or by a probe, within a few probe intervals.
        string flappyName = flappy.Endpoint.ToString();
        for (int i = 0; i < 150 && !child.Server.ParentStates.Single(s => s.Parent == flappyName).Up; i++)
        {
            await Task.Delay(100);
        }

        Assert.True(child.Server.ParentStates.Single(s => s.Parent == flappyName).Up, "the flapping parent is still marked down, reachable again");
        int before = flappy.Connections;
        using HttpClient http = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });
        Assert.Equal(HostileParent.FreshBody, await http.GetStringAsync("http://dest.test/back"));
        Assert.True(flappy.Connections > before || flappy.Heads[^1].Contains("/back"), "the first parent, up again, was not used first");
    }

    // A parent going away (a Squid shutting down, a pod draining) still accepts for a moment, then closes what it took.
    private static HostileParent ClosingUnanswered(bool reset = false) => new(async line =>
    {
        if (await line.ReadHeadAsync() is not null && reset)
        {
            line.Reset();
        }
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_get_whose_new_connection_to_a_parent_ends_unanswered_is_sent_through_the_next_parent(bool reset)
    {
        await using HostileParent dying = ClosingUnanswered(reset);
        await using HostileParent stable = HostileParent.Fresh();
        await using TestProxy child = await ChildAsync(Upstream(null, dying.Endpoint, stable.Endpoint),
            c => c with { Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } });
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Get("again"));
        Outcome outcome = await Outcome.ReadAsync(raw.Stream);

        Assert.True(outcome.Status == 200, outcome.ToString());
        Assert.Equal(HostileParent.FreshBody, outcome.Body);
        Assert.Contains("/again", Assert.Single(dying.Heads));
        Assert.Contains("/again", Assert.Single(stable.Heads));
        ParentState state = child.Server.ParentStates.Single(s => s.Parent == dying.Endpoint.ToString());
        Assert.True(state.Up, "one failure does not mark a parent down");
        Assert.Contains("closed a new connection without a response", state.LastError);
        Assert.Equal(1d, Value(await ScrapeAsync(child), $"sluice_parent_requests_total{{upstream=\"corp\",parent=\"{dying.Endpoint}\",outcome=\"http_response_incomplete\"}}"));

        // The client connection goes on, and its next request goes to the first parent again (it is still up).
        await raw.SendAsync(Get("next"));
        Assert.Equal(200, (await Outcome.ReadAsync(raw.Stream)).Status);
        Assert.Equal(2, dying.Heads.Count);
    }

    [Fact]
    public async Task A_post_whose_new_connection_to_a_parent_closes_unanswered_is_a_502_and_goes_nowhere_else()
    {
        await using HostileParent dying = ClosingUnanswered();
        await using HostileParent stable = HostileParent.Fresh();
        await using TestProxy child = await ChildAsync(Upstream(null, dying.Endpoint, stable.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync("POST http://dest.test/order HTTP/1.1\r\nHost: dest.test\r\nContent-Length: 4\r\n\r\nbody");
        Outcome outcome = await Outcome.ReadAsync(raw.Stream);

        // Not idempotent (RFC 9110 §9.2.2): the parent may have passed it on before closing, so it is not sent twice.
        Assert.True(outcome.Status == 502, outcome.ToString());
        Assert.Contains($"next-hop=\"{dying.Endpoint}\"", outcome.HeadValue("Proxy-Status"));
        Assert.Single(dying.Heads);
        Assert.Empty(stable.Heads);
    }

    [Fact]
    public async Task A_get_that_every_parent_closes_unanswered_goes_once_through_each_then_is_a_502_naming_the_last()
    {
        await using HostileParent first = ClosingUnanswered();
        await using HostileParent second = ClosingUnanswered(reset: true);
        await using HostileParent third = ClosingUnanswered();
        await using TestProxy child = await ChildAsync(Upstream(null, first.Endpoint, second.Endpoint, third.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Get("nowhere"));
        Outcome outcome = await Outcome.ReadAsync(raw.Stream);

        Assert.True(outcome.Status == 502, outcome.ToString());
        Assert.Contains($"next-hop=\"{third.Endpoint}\"", outcome.HeadValue("Proxy-Status"));
        Assert.Contains($"parent proxy {third.Endpoint} closed the connection without a response", outcome.Body);
        Assert.All([first, second, third], parent => Assert.Single(parent.Heads));
    }

    [Fact]
    public async Task Probes_of_a_parent_marked_down_stop_when_the_server_is_disposed()
    {
        int port = Ports.Free();
        var gone = new IPEndPoint(IPAddress.Loopback, port);
        TestProxy child = await ChildAsync(Upstream(null, gone));
        using (HttpClient http = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true }))
        {
            for (int i = 0; i < 3; i++)
            {
                (await http.GetAsync($"http://dest.test/down-{i}")).Dispose();
            }
        }

        Assert.False(child.Server.ParentStates.Single().Up);
        await child.DisposeAsync();

        // The first probe was due 1 s after the parent went down: none may come once the server is gone.
        await using HostileParent parent = HostileParent.Fresh(port: port);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal(0, parent.Connections);
    }

    [Fact]
    public async Task A_parent_marked_down_is_probed_back_up_and_a_request_goes_to_it_again()
    {
        int port = Ports.Free();
        await using TestProxy child = await ChildAsync(Upstream(null, new IPEndPoint(IPAddress.Loopback, port)));
        using HttpClient http = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });
        for (int i = 0; i < 3; i++)
        {
            (await http.GetAsync($"http://dest.test/down-{i}")).Dispose();
        }

        Assert.False(child.Server.ParentStates.Single().Up);
        await using HostileParent parent = HostileParent.Fresh(port: port);
        for (int i = 0; i < 150 && !child.Server.ParentStates.Single().Up; i++)
        {
            await Task.Delay(100);
        }

        Assert.True(child.Server.ParentStates.Single().Up, "a reachable parent stayed marked down");
        Assert.Equal(HostileParent.FreshBody, await http.GetStringAsync("http://dest.test/up"));
    }

    [Fact]
    public async Task After_a_reload_that_refuses_a_down_parents_address_its_probes_never_connect_to_it()
    {
        int port = Ports.Free();
        var upstream = new UpstreamConfig
        {
            Name = "corp",
            Proxies = [new ParentProxyAddress("http", new HostPort("parent.test", null, port))],
        };
        await using TestProxy child = await ChildAsync(upstream);
        child.Resolver.Map("parent.test", IPAddress.Loopback);
        using HttpClient http = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });
        for (int i = 0; i < 3; i++)
        {
            (await http.GetAsync($"http://dest.test/down-{i}")).Dispose();
        }

        Assert.False(child.Server.ParentStates.Single().Up);

        // The new configuration no longer allows loopback: the parent may not be connected to, by requests or probes.
        child.Server.Reload(child.Server.CurrentConfig with { Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.2/32")] } });
        await using HostileParent parent = HostileParent.Fresh(port: port);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(0, parent.Connections);
    }

    // ---------------------------------------------------------------- the address guard

    [Fact]
    public async Task A_parent_named_by_a_name_that_resolves_to_a_refused_address_is_a_502_and_never_connected_to()
    {
        await using HostileParent parent = HostileParent.Fresh(IPAddress.Parse("127.0.0.5"));
        var upstream = new UpstreamConfig { Name = "corp", Proxies = [new ParentProxyAddress("http", new HostPort("parent.test", null, parent.Port))] };
        await using TestProxy child = await ChildAsync(upstream, c => c with { Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.1/32")] } });
        child.Resolver.Map("parent.test", IPAddress.Parse("127.0.0.5"));

        foreach (string request in new[] { Get("guarded"), Connect })
        {
            using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
            await raw.SendAsync(request);
            string head = await raw.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 502 ", head);
            Assert.Contains($"error=proxy_configuration_error; next-hop=\"parent.test:{parent.Port}\"", head);
            Assert.Contains("addresses.allow", head);
        }

        Assert.Equal(0, parent.Connections);
    }

    [Fact]
    public async Task A_parent_that_is_the_proxys_own_listener_is_refused_by_the_guard()
    {
        int port = Ports.Free();
        var self = new IPEndPoint(IPAddress.Loopback, port);
        await using TestProxy child = await ChildAsync(Upstream(null, self), c => c with { Listeners = [new ListenerConfig { Address = self }] });

        foreach (string request in new[] { Get("self"), Connect })
        {
            using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
            await raw.SendAsync(request);
            string head = await raw.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 502 ", head);
            Assert.Contains("error=proxy_configuration_error", head);
            Assert.Contains("own listener", head);
        }

        await child.AccessLog.WaitForAsync(l => l.Contains("dest.test:443"), "the refused CONNECT");
        await Task.Delay(200);
        Assert.Equal(2, child.AccessLog.Lines.Count); // the two refusals; nothing came back in through the listener
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_name_resolving_to_allowed_and_refused_addresses_is_refused_before_it_goes_up(bool connect)
    {
        await using HostileParent parent = HostileParent.Fresh();
        await using TestProxy child = await ChildAsync(Upstream(null, parent.Endpoint), c => c with { Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.1/32")] } });
        child.Resolver.Map("mixed.test", IPAddress.Loopback, IPAddress.Parse("127.0.0.2"));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(connect ? "CONNECT mixed.test:443 HTTP/1.1\r\nHost: mixed.test:443\r\n\r\n" : "GET http://mixed.test/x HTTP/1.1\r\nHost: mixed.test\r\n\r\n");
        string head = await raw.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 403 ", head);
        Assert.Contains("error=destination_ip_prohibited", head);
        Assert.Equal(0, parent.Connections);
    }

    [Theory]
    [InlineData("127.0.0.2")]
    [InlineData("[::ffff:127.0.0.2]")]
    [InlineData("2130706434")] // 127.0.0.2 as inet_aton reads it: an address, not a name to send up
    [InlineData("127.2")]
    [InlineData("0x7f.0.0.2")]
    public async Task An_ip_literal_is_checked_here_even_when_the_upstream_checks_destinations(string host)
    {
        await using HostileParent parent = HostileParent.Fresh();
        UpstreamConfig upstream = Upstream(null, parent.Endpoint) with { CheckDestinations = DestinationCheck.Parent };
        await using TestProxy child = await ChildAsync(upstream, c => c with { Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.1/32")] } });

        foreach (string request in new[] { $"GET http://{host}/x HTTP/1.1\r\nHost: {host}\r\n\r\n", $"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n" })
        {
            using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
            await raw.SendAsync(request);
            string head = await raw.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 403 ", head);
            Assert.Contains("error=destination_ip_prohibited", head);
        }

        Assert.Equal(0, parent.Connections);

        // A name is the parent's to resolve in this mode: it goes up unresolved, never looked up here.
        using HttpClient http = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });
        child.Resolver.Map("inside.test", IPAddress.Parse("127.0.0.2"));
        Assert.Equal(HostileParent.FreshBody, await http.GetStringAsync("http://inside.test/x"));
        Assert.Equal(0, child.Resolver.Lookups);
    }
}

/// <summary>A password file in a temporary directory, removed afterwards.</summary>
internal sealed class SecretFile : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sluice-secret-").FullName;

    public SecretFile(string content)
    {
        Path = System.IO.Path.Combine(_directory, "password");
        Write(content);
    }

    public string Path { get; }

    public void Write(string content)
    {
        // Written beside and renamed over, as a Secret mount changes: a reader never sees half a file.
        string next = Path + ".next";
        File.WriteAllText(next, content, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.Move(next, Path, overwrite: true);
    }

    public UpstreamCredentials Credentials(string user) => new(
        new SecretSource(SecretKind.Literal, user, "upstreams[0].credentials.user", "test.yaml", 1, 1),
        new SecretSource(SecretKind.File, Path, "upstreams[0].credentials.passwordFile", "test.yaml", 2, 5));

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
