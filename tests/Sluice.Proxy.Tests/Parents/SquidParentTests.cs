using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>One Squid (no authentication) and the origins behind it, shared by the tests of a class.</summary>
public sealed class SquidWithOrigins : IAsyncLifetime
{
    public TestOrigin Origin { get; private set; } = null!;

    public TestOrigin TlsOrigin { get; private set; } = null!;

    public SquidParent Squid { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await TestOrigin.StartAsync();
        TlsOrigin = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        Squid = await SquidAsync(
            hosts: Hosts("origin.test", "secure.test", "ws.test", "blocked.test", "inside.test"),
            name: "squid-a.test",
            deny: ["blocked.test"],
            // Squid forwards an Upgrade offer only when a rule allows it; Sluice writes the token "websocket".
            extraConfig: ["http_upgrade_request_protocols OTHER allow all"]);
    }

    public async Task DisposeAsync()
    {
        await Squid.DisposeAsync();
        await TlsOrigin.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

/// <summary>
/// Sluice with Debian's Squid as its http:// parent: forwarding of every shape, CONNECT with TLS inside, WebSocket both
/// ways, 64 MiB byte-exact both ways, the hierarchy codes in Sluice's log and the request in Squid's, Squid's 403 and
/// 503 answers.
/// </summary>
public sealed class SquidParentTests(SquidWithOrigins fixture) : IClassFixture<SquidWithOrigins>
{
    private readonly TestOrigin _origin = fixture.Origin;
    private readonly SquidParent _squid = fixture.Squid;

    private Task<TestProxy> ChildAsync(bool viaRule = true) => ParentKit.ChildAsync(Corp([_squid.Url], viaRule: viaRule));

    [Fact]
    public async Task Get_post_head_and_a_chunked_response_go_through_squid_and_both_logs_show_them()
    {
        await using TestProxy child = await ChildAsync();
        child.Resolver.Map("blocked.test", IPAddress.Loopback);
        using HttpClient client = Client(child);
        string root = $"http://origin.test:{_origin.Port}";

        using (HttpResponseMessage get = await client.GetAsync($"{root}/hello?shapes"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("hello from origin", await get.Content.ReadAsStringAsync());
            string via = string.Join(", ", get.Headers.Via);
            Assert.Contains("squid-a.test (squid/", via);
            Assert.EndsWith(TestProxy.Name, via); // Squid's entry first, then ours
        }

        using (HttpResponseMessage post = await client.PostAsync($"{root}/echo?shapes", new StringContent("a body for squid")))
        {
            Assert.Equal("a body for squid", await post.Content.ReadAsStringAsync());
        }

        using (var request = new HttpRequestMessage(HttpMethod.Head, $"{root}/bytes/5000?shapes"))
        using (HttpResponseMessage head = await client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(5000, head.Content.Headers.ContentLength);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        using (HttpResponseMessage chunked = await client.GetAsync($"{root}/bytes/300000?chunked=1&shapes"))
        {
            byte[] body = await chunked.Content.ReadAsByteArrayAsync();
            Assert.Equal(300_000, body.Length);
            Assert.Equal(TestData.Sha256(300_000), Convert.ToHexString(SHA256.HashData(body)));
        }

        string line = await child.AccessLog.WaitForAsync(l => l.Contains($"GET {root}/hello?shapes"), "Sluice's line for the GET");
        Assert.Contains(" TCP_MISS/200 ", line);
        Assert.Contains(" FIRSTUP_PARENT/127.0.0.1 ", line);
        foreach (string method in new[] { "GET", "POST", "HEAD" })
        {
            string squidLine = await _squid.WaitForAccessLogAsync(l => l.Contains($" {method} {root}/") && l.Contains("shapes"));
            Assert.Contains("TCP_MISS/200", squidLine);
            Assert.Contains("HIER_DIRECT/127.0.0.1", squidLine);
        }

        ParentRequest received = await _squid.WaitForRequestAsync(r => r.Method == "POST" && r.Target == $"{root}/echo?shapes");
        Assert.Contains($"1.1 {TestProxy.Name}", received.Header("Via"));
    }

    [Fact]
    public async Task A_chunked_upload_and_an_expect_100_continue_go_through_squid()
    {
        await using TestProxy child = await ChildAsync();
        string root = $"http://origin.test:{_origin.Port}";
        byte[] body = new byte[300_000];
        TestData.Fill(body, 0);
        using (HttpClient client = Client(child))
        using (var chunked = new HttpRequestMessage(HttpMethod.Post, $"{root}/sha256?chunked-up") { Content = new StreamContent(new MemoryStream(body)) })
        {
            chunked.Headers.TransferEncodingChunked = true;
            using HttpResponseMessage response = await client.SendAsync(chunked);
            Assert.Equal($"{body.Length} {TestData.Sha256(body.Length)}", await response.Content.ReadAsStringAsync());
        }

        // The client waits for the 100 before it sends the body: it must come back through both proxies.
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
        await raw.SendAsync($"POST {root}/echo?expect HTTP/1.1\r\nHost: origin.test:{_origin.Port}\r\nContent-Length: 14\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 100 ", await raw.ReadHeadAsync(timeoutMs: 20_000));
        await raw.SendAsync("after continue");
        string reply = System.Text.Encoding.Latin1.GetString(await raw.ReadToEndAsync(timeoutMs: 20_000));
        Assert.StartsWith("HTTP/1.1 200 ", reply);
        Assert.Contains("after continue", reply);
    }

    [Fact]
    public async Task A_server_that_speaks_first_and_bytes_sent_with_the_connect_head_cross_a_squid_tunnel()
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await stream.WriteAsync("220 greeting before any request\r\n"u8.ToArray());
            byte[] buffer = new byte[256];
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n));
            }
        });
        await using TestProxy child = await ChildAsync();
        using RawClient client = await RawClient.ConnectAsync(child.Endpoint);
        const string early = "EARLY-BYTES-WITH-THE-HEAD";

        await client.SendAsync($"CONNECT origin.test:{origin.Port} HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\n\r\n{early}");

        Assert.StartsWith("HTTP/1.1 200 ", await client.ReadHeadAsync(timeoutMs: 20_000));
        const string greeting = "220 greeting before any request\r\n";
        byte[] got = await client.ReadExactlyAsync(greeting.Length + early.Length, timeoutMs: 20_000);
        Assert.Equal(greeting + early, System.Text.Encoding.ASCII.GetString(got));
    }

    [Fact]
    public async Task The_route_default_is_logged_as_DEFAULT_PARENT_and_the_clients_proxy_authorization_never_reaches_squid()
    {
        await using TestProxy child = await ChildAsync(viaRule: false);
        string target = $"http://origin.test:{_origin.Port}/hello?client-credentials";

        string reply = await ExchangeAsync(child.Endpoint,
            $"GET {target} HTTP/1.1\r\nHost: origin.test:{_origin.Port}\r\nProxy-Authorization: Basic Y2xpZW50OnNlY3JldA==\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", reply);
        ParentRequest seen = await _squid.WaitForRequestAsync(r => r.Target == target);
        Assert.Null(seen.Header("Proxy-Authorization"));
        Assert.Null(seen.User);
        Assert.DoesNotContain(_squid.ReceivedRequests(), r => r.Headers.Any(h => h.Value.Contains("Y2xpZW50OnNlY3JldA", StringComparison.Ordinal)));
        string line = await child.AccessLog.WaitForAsync(l => l.Contains(target), "Sluice's line");
        Assert.Contains(" DEFAULT_PARENT/127.0.0.1 ", line);
    }

    [Fact]
    public async Task Names_only_squid_knows_go_up_by_name_and_check_destinations_parent_resolves_nothing_here()
    {
        // local (the default): inside.test does not resolve here, so it goes up for Squid to resolve (its hosts file).
        await using (TestProxy local = await ParentKit.ChildAsync(Corp([_squid.Url]), format: Sluice.Policy.Config.AccessLogFormat.Json))
        {
            using HttpClient client = Client(local);
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://inside.test:{_origin.Port}/hello?split-local"));
            string line = await local.AccessLog.WaitForAsync(l => l.Contains("split-local"), "the line of the name resolved upstairs");
            Assert.Contains("\"resolved\":\"parent\"", line);
            Assert.Contains($"\"parent\":\"{_squid.Endpoint}\"", line);
        }

        // parent: nothing sent through this upstream is resolved here, not even a name this proxy could resolve.
        await using TestProxy trusting = await ParentKit.ChildAsync(Corp([_squid.Url], more: "checkDestinations: parent"));
        using (HttpClient client = Client(trusting))
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{_origin.Port}/hello?split-parent"));
            Assert.EndsWith("hello from origin", await TunnelGetAsync(trusting.Endpoint, $"inside.test:{_origin.Port}"));
        }

        Assert.Equal(0, trusting.Resolver.Lookups);
        await _squid.WaitForAccessLogAsync(l => l.Contains($"/hello?split-parent", StringComparison.Ordinal));
        await _squid.WaitForAccessLogAsync(l => l.Contains($"CONNECT inside.test:{_origin.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Https_through_a_connect_to_squid_reaches_the_tls_origin()
    {
        TestOrigin secure = fixture.TlsOrigin;
        await using TestProxy child = await ChildAsync();
        using (HttpClient client = Client(child, secure.Certificate))
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"https://secure.test:{secure.Port}/hello"));
        } // the tunnel closes, and both proxies log it

        string squidLine = await _squid.WaitForAccessLogAsync(l => l.Contains($"CONNECT secure.test:{secure.Port}", StringComparison.Ordinal));
        Assert.Contains("TCP_TUNNEL/200", squidLine);
        string line = await child.AccessLog.WaitForAsync(l => l.Contains($" CONNECT secure.test:{secure.Port} "), "Sluice's tunnel line");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
        Assert.Contains(" FIRSTUP_PARENT/127.0.0.1 ", line);
    }

    [Fact]
    public async Task A_forwarded_websocket_upgrade_goes_through_squid()
    {
        await using TestProxy child = await ChildAsync();
        using RawClient client = await RawClient.ConnectAsync(child.Endpoint);
        string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        await client.SendAsync(
            $"GET http://ws.test:{_origin.Port}/ws HTTP/1.1\r\nHost: ws.test:{_origin.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n");

        string head = await client.ReadHeadAsync(timeoutMs: 20_000);
        Assert.StartsWith("HTTP/1.1 101 ", head);
        using (WebSocket socket = WebSocket.CreateFromStream(client.Stream, new WebSocketCreationOptions { IsServer = false }))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await ConverseAsync(socket, timeout.Token);
        } // closing the socket ends the connection, and the upgraded exchange is logged

        string line = await child.AccessLog.WaitForAsync(l => l.Contains($" GET http://ws.test:{_origin.Port}/ws "), "Sluice's line for the upgrade", timeoutMs: 20_000);
        Assert.Contains(" TCP_MISS/101 ", line);
        Assert.Contains(" FIRSTUP_PARENT/127.0.0.1 ", line);
        Assert.Contains("/101 ", await _squid.WaitForAccessLogAsync(l => l.Contains($" GET http://ws.test:{_origin.Port}/ws ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_wss_websocket_goes_through_a_connect_to_squid()
    {
        TestOrigin secure = fixture.TlsOrigin;
        await using TestProxy child = await ChildAsync();
        string trusted = secure.Certificate!.GetCertHashString();
        using (var socket = new ClientWebSocket())
        {
            socket.Options.Proxy = new AlwaysProxy(child.Uri);
            socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == trusted;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(new Uri($"wss://secure.test:{secure.Port}/ws"), timeout.Token);
            await ConverseAsync(socket, timeout.Token);
        }

        string line = await child.AccessLog.WaitForAsync(l => l.Contains($" CONNECT secure.test:{secure.Port} "), "Sluice's tunnel line", timeoutMs: 20_000);
        Assert.Contains(" TCP_TUNNEL/200 ", line);
        await _squid.WaitForAccessLogAsync(l => l.Contains($"CONNECT secure.test:{secure.Port}", StringComparison.Ordinal) && l.Contains("TCP_TUNNEL/200"));
    }

    [Fact]
    public async Task Sixty_four_mebibytes_forwarded_each_way_arrive_byte_exact()
    {
        const long size = 64L * 1024 * 1024;
        await using TestProxy child = await ChildAsync();
        using HttpClient client = Client(child);
        string root = $"http://origin.test:{_origin.Port}";

        using (var upload = new DeterministicContent(size))
        {
            using HttpResponseMessage response = await Within(client.PostAsync($"{root}/sha256", upload), TimeSpan.FromMinutes(2), "the 64 MiB upload did not finish");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{size} {DeterministicHash(size, 0)}", await response.Content.ReadAsStringAsync());
        }

        using HttpResponseMessage download = await client.GetAsync($"{root}/bytes/{size}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(size, download.Content.Headers.ContentLength);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using Stream body = await download.Content.ReadAsStreamAsync(timeout.Token);
        (long length, string hash) = await HashToEndAsync(body, timeout.Token);
        Assert.Equal(size, length);
        Assert.Equal(TestData.Sha256(size), hash);
    }

    [Fact]
    public async Task Sixty_four_mebibytes_each_way_at_once_through_a_connect_arrive_byte_exact()
    {
        // Counted, not to the end of the stream: Squid ends a whole tunnel when either side closes its half.
        const long size = 64L * 1024 * 1024;
        var originSaw = new TaskCompletionSource<(long, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            Task<(long, string)> receive = HashExactlyAsync(stream, size, CancellationToken.None);
            await SendDeterministicAsync(stream, size, offset: 7, CancellationToken.None);
            originSaw.TrySetResult(await receive);
        });
        await using TestProxy child = await ChildAsync();

        (string head, RawClient? opened) = await ConnectAsync(child.Endpoint, $"origin.test:{origin.Port}");
        Assert.StartsWith("HTTP/1.1 200 ", head);
        using RawClient tunnel = opened!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Task<(long, string)> download = HashExactlyAsync(tunnel.Stream, size, timeout.Token);
        Task upload = SendDeterministicAsync(tunnel.Stream, size, offset: 0, timeout.Token);

        await Within(upload, TimeSpan.FromMinutes(2), "the client could not send 64 MiB into the tunnel");
        (long downLength, string downHash) = await Within(download, TimeSpan.FromMinutes(2), "the client did not receive the origin's 64 MiB");
        (long upLength, string upHash) = await Within(originSaw.Task, TimeSpan.FromMinutes(2), "the origin did not receive the client's 64 MiB");

        Assert.Equal(size, upLength);
        Assert.Equal(DeterministicHash(size, 0), upHash);
        Assert.Equal(size, downLength);
        Assert.Equal(DeterministicHash(size, 7), downHash);
    }

    [Fact]
    public async Task Squids_403_to_a_connect_is_a_403_naming_squid_and_a_forwarded_403_is_relayed_with_our_member()
    {
        await using TestProxy child = await ChildAsync();
        child.Resolver.Map("blocked.test", IPAddress.Loopback);

        (string head, RawClient? tunnel) = await ConnectAsync(child.Endpoint, $"blocked.test:{_origin.Port}");
        Assert.Null(tunnel);
        Assert.StartsWith("HTTP/1.1 403 ", head);
        string status = Field(head, "Proxy-Status")!;
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied; next-hop=\"{_squid.Endpoint}\"; received-status=403; details=", status);
        Assert.Contains("it says: ERR_ACCESS_DENIED", status); // Squid's X-Squid-Error, quoted

        using HttpClient client = Client(child);
        using HttpResponseMessage relayed = await client.GetAsync($"http://blocked.test:{_origin.Port}/hello");
        Assert.Equal(HttpStatusCode.Forbidden, relayed.StatusCode);
        Assert.Equal("ERR_ACCESS_DENIED 0", relayed.Headers.GetValues("X-Squid-Error").Single());
        Assert.Contains("ERR_ACCESS_DENIED", await relayed.Content.ReadAsStringAsync()); // Squid's own error page
        Assert.Equal($"{TestProxy.Name}; next-hop=\"{_squid.Endpoint}\"; received-status=403", relayed.Headers.GetValues("Proxy-Status").Last());
    }

    [Fact]
    public async Task Squids_503_to_a_connect_hands_the_tunnel_to_the_next_squid_but_a_forwarded_503_is_relayed()
    {
        // The first Squid has split.test on an address where nothing listens: it answers 503 (ERR_CONNECT_FAIL).
        await using SquidParent broken = await SquidAsync(hosts: new Dictionary<string, string> { ["split.test"] = "127.0.0.2" }, name: "squid-broken.test");
        await using SquidParent good = await SquidAsync(hosts: Hosts("split.test"), name: "squid-good.test");
        await using TestProxy child = await ParentKit.ChildAsync(Corp([broken.Url, good.Url]));
        child.Resolver.Map("split.test", IPAddress.Loopback);

        string answer = await TunnelGetAsync(child.Endpoint, $"split.test:{_origin.Port}");

        Assert.StartsWith("HTTP/1.1 200 ", answer);
        Assert.EndsWith("hello from origin", answer);
        Assert.Contains("/503 ", await broken.WaitForAccessLogAsync(l => l.Contains($"CONNECT split.test:{_origin.Port}", StringComparison.Ordinal)));
        await good.WaitForAccessLogAsync(l => l.Contains($"CONNECT split.test:{_origin.Port}", StringComparison.Ordinal) && l.Contains("TCP_TUNNEL/200"));
        string line = await child.AccessLog.WaitForAsync(l => l.Contains($" CONNECT split.test:{_origin.Port} "), "Sluice's tunnel line");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
        Assert.Contains(" FIRSTUP_PARENT/127.0.0.1 ", line);
        Assert.All(child.Server.ParentStates, s => Assert.True(s.Up, $"{s.Parent} was marked down for an answer: {s.LastError}")); // an answer is not a connection failure

        // A forwarded request has no such second chance: the response came from the first parent and is the answer.
        using HttpClient client = Client(child);
        using HttpResponseMessage relayed = await client.GetAsync($"http://split.test:{_origin.Port}/hello");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, relayed.StatusCode);
        Assert.StartsWith("ERR_CONNECT_FAIL", relayed.Headers.GetValues("X-Squid-Error").Single());
        Assert.Equal($"{TestProxy.Name}; next-hop=\"{broken.Endpoint}\"; received-status=503", relayed.Headers.GetValues("Proxy-Status").Last());
    }
}
