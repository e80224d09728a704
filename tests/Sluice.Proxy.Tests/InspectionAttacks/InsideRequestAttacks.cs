using System.Net;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Inspection;

namespace Sluice.Proxy.Tests.InspectionAttacks;

/// <summary>
/// Malformed, smuggled and policy-dodging requests inside an inspected tunnel whose rule allows only /hello; a
/// recording TLS origin counts what got through.
/// </summary>
public sealed class InsideRequestAttacks
{
    private const string Host = "inside.test";

    private sealed class Setup : IAsyncDisposable
    {
        public required InspectionKit Kit { get; init; }
        public required OriginCerts Certs { get; init; }
        public required X509Certificate2 Leaf { get; init; }
        public required TlsOrigin Origin { get; init; }
        public required TestProxy Proxy { get; init; }

        public string Authority => $"{Host}:{Origin.Port}";

        public Task<InsideClient> OpenAsync(string? sni = null) => InsideClient.OpenAsync(Proxy, Authority, Kit.Ca, sni);

        public async ValueTask DisposeAsync()
        {
            await Proxy.DisposeAsync();
            await Origin.DisposeAsync();
            Leaf.Dispose();
            Certs.Dispose();
            await Kit.DisposeAsync();
        }
    }

    private static async Task<Setup> StartAsync(string[]? paths = null, Func<SluiceConfig, SluiceConfig>? more = null)
    {
        InspectionKit kit = await InspectionKit.StartAsync();
        var certs = new OriginCerts(kit.Origins);
        X509Certificate2 leaf = certs.Leaf($"CN={Host}", [Host]);
        var origin = new TlsOrigin(OriginCerts.Context(leaf), TlsOrigin.Echo);
        TestProxy proxy = await kit.ProxyAsync(more ?? (c => c), HostileOriginAttacks.InspectHost(Host, paths ?? ["/hello"]));
        proxy.Resolver.Map(Host, IPAddress.Loopback);
        return new Setup { Kit = kit, Certs = certs, Leaf = leaf, Origin = origin, Proxy = proxy };
    }

    private static int Status(string? head) => head is null ? 0 : int.Parse(head.AsSpan(9, 3));

    /// <summary>Every request line the origin received is for /hello (or below it).</summary>
    private static void OnlyHelloReached(TlsOrigin origin)
    {
        foreach (string line in origin.RequestLines)
        {
            string target = line.Split(' ')[1];
            Assert.True(target == "/hello" || target.StartsWith("/hello/", StringComparison.Ordinal) || target.StartsWith("/hello?", StringComparison.Ordinal),
                $"the origin received '{line}' through a rule for /hello only");
        }
    }

    [Theory]
    [InlineData("/admin")]
    [InlineData("/HELLO")]
    [InlineData("/hello/../admin")]
    [InlineData("//hello/../admin")]
    [InlineData("/hello/%2e%2e/admin")]
    [InlineData("/hello/%2E%2E/admin")]
    [InlineData("/hello%2f..%2fadmin")]
    [InlineData("/hello/..;/admin")]
    [InlineData("/hello;/../admin")]
    [InlineData("/hello\\..\\admin")]
    [InlineData("/hello/%5c../admin")]
    [InlineData("/hello/%c0%ae%c0%ae/admin")]
    [InlineData("/hello/%252e%252e/admin")]
    [InlineData("/hello/%ef%bc%8e%ef%bc%8e/admin")]
    [InlineData("/hello/.../admin")]
    [InlineData("/hello%00/../admin")]
    [InlineData("/hello/%00")]
    [InlineData("/hellox")]
    [InlineData("/admin?/hello")]
    [InlineData("/admin#/hello")]
    [InlineData("/hello/%")]
    [InlineData("*")]
    [InlineData("hello")]
    [InlineData("http://inside.test/hello")]
    [InlineData("https://{authority}/admin")]
    [InlineData("https://{authority}")]
    [InlineData("https://user@{authority}/hello")]
    [InlineData("https://{authority}@evil.test/hello")]
    [InlineData("https://evil.test/hello")]
    [InlineData("https://{authority}/hello/../admin")]
    [InlineData("https://{authority}?/hello")]
    public async Task No_target_outside_the_allow_list_reaches_the_origin(string target)
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        string t = target.Replace("{authority}", s.Authority);
        await inside.SendAsync($"GET {t} HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n");
        (string? head, _) = await inside.ReadResponseAsync();
        Assert.NotEqual(200, Status(head));

        // the tunnel, if still open, carries an allowed request; then nothing else reached the origin
        await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n");
        await inside.ReadResponseAsync();
        OnlyHelloReached(s.Origin);
    }

    [Theory]
    [InlineData("OPTIONS * HTTP/1.1")]
    [InlineData("TRACE /admin HTTP/1.1\r\nMax-Forwards: 0")]
    [InlineData("TRACE /admin HTTP/1.1\r\nMax-Forwards: 1")]
    [InlineData("OPTIONS /admin HTTP/1.1\r\nMax-Forwards: 0")]
    [InlineData("GET /admin HTTP/1.0")]
    [InlineData("GET /admin HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")]
    public async Task Other_methods_and_versions_to_a_denied_path_are_refused_without_reaching_the_origin(string requestLineAndFields)
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"{requestLineAndFields}\r\nHost: {s.Authority}\r\n\r\n");
        (string? head, string body) = await inside.ReadResponseAsync();
        Assert.Equal(403, Status(head));
        Assert.DoesNotContain("TRACE /admin", body); // not echoed by the proxy on the denied path either
        OnlyHelloReached(s.Origin);
        Assert.Empty(s.Origin.Heads);
    }

    [Fact]
    public async Task A_CONNECT_inside_the_tunnel_opens_nothing()
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"CONNECT {s.Authority} HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n");
        (string? head, _) = await inside.ReadResponseAsync();
        Assert.Equal(400, Status(head));
        (_, _, bool timedOut) = await inside.ReadToEndAsync();
        Assert.False(timedOut);
        Assert.Empty(s.Origin.Heads);
    }

    [Theory]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nContent-Length: 5, 40\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding:\tchunked\r\n X-Folded: yes\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nContent-Length : 40\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("GET /hello HTTP/1.1\nHost: {a}\nContent-Length: 40\n\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("GET /hello HTTP/1.1\r\nHost: {a}\r\nHost: evil.test\r\n\r\n")]
    [InlineData("GET /hello HTTP/1.1\r\nHost: {a}\r\nX: a\rContent-Length: 40\r\n\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\r\nhello\r\n0\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    [InlineData("POST /hello HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nGET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n")]
    public async Task Smuggling_inside_the_tunnel_never_gets_a_denied_request_to_the_origin(string bytes)
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync(bytes.Replace("{a}", s.Authority));
        for (int i = 0; i < 3 && await inside.ReadHeadAsync(5000) is { } head; i++)
        {
            // drain what comes back (bodies are short); the tunnel may close
        }

        OnlyHelloReached(s.Origin);
        foreach (string head in s.Origin.Heads)
        {
            Assert.DoesNotContain("evil.test", head);
        }
    }

    [Fact]
    public async Task A_refused_request_s_body_is_discarded_exactly_and_the_next_request_is_decided_on_its_own()
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        string a = s.Authority;
        string smuggled = $"GET /admin HTTP/1.1\r\nHost: {a}\r\n\r\n";
        // the refused POST's body looks like a request; the real next request follows it
        await inside.SendAsync($"POST /admin HTTP/1.1\r\nHost: {a}\r\nContent-Length: {smuggled.Length}\r\n\r\n{smuggled}GET /hello HTTP/1.1\r\nHost: {a}\r\n\r\n");
        (string? refused, _) = await inside.ReadResponseAsync();
        Assert.Equal(403, Status(refused));
        (string? next, string body) = await inside.ReadResponseAsync();
        Assert.Equal(200, Status(next));
        Assert.Equal("origin saw GET /hello HTTP/1.1", body);
        Assert.Equal(["GET /hello HTTP/1.1"], s.Origin.RequestLines);

        // a body shorter than its Content-Length: the next request's bytes are body, not a request
        await inside.SendAsync($"POST /admin HTTP/1.1\r\nHost: {a}\r\nContent-Length: 60\r\n\r\nshort");
        await inside.SendAsync(smuggled);
        (string? third, _) = await inside.ReadResponseAsync();
        Assert.Equal(403, Status(third));
        Assert.Equal(["GET /hello HTTP/1.1"], s.Origin.RequestLines);
    }

    [Fact]
    public async Task A_refused_request_whose_body_never_comes_ends_the_tunnel_in_bounded_time()
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"POST /admin HTTP/1.1\r\nHost: {s.Authority}\r\nContent-Length: 1000\r\n\r\nonly a little");
        (string? head, _) = await inside.ReadResponseAsync();
        Assert.Equal(403, Status(head));
        (_, _, bool timedOut) = await inside.ReadToEndAsync(20_000);
        Assert.False(timedOut, "the tunnel waited without bound for a refused body");
        Assert.Empty(s.Origin.Heads);
    }

    [Fact]
    public async Task Expect_100_continue_on_a_refused_request_gets_403_not_100_and_the_body_is_not_forwarded()
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"POST /admin HTTP/1.1\r\nHost: {s.Authority}\r\nContent-Length: 38\r\nExpect: 100-continue\r\n\r\n");
        string? head = await inside.ReadHeadAsync();
        Assert.Equal(403, Status(head));
        await inside.SendAsync($"GET /admin HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n"); // "body" that looks like a request
        await inside.ReadToEndAsync(10_000);
        Assert.Empty(s.Origin.Heads);
    }

    [Theory]
    [InlineData("inside.test:{port}", 200)]
    [InlineData("INSIDE.TEST:{port}", 200)]
    [InlineData("inside.test.:{port}", 200)]
    [InlineData("inside.test:0{port}", 421)]
    [InlineData("inside.test", 421)]
    [InlineData("inside.test:443", 421)]
    [InlineData("evil.test:{port}", 421)]
    [InlineData("inside.test:{port}@evil.test", 400)]
    [InlineData("user@inside.test:{port}", 400)]
    [InlineData("inside.test:{port} evil.test", 400)]
    [InlineData("", 400)]
    public async Task The_Host_must_name_the_CONNECT_authority(string host, int expected)
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        string h = host.Replace("{port}", s.Origin.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {h}\r\n\r\n");
        (string? head, _) = await inside.ReadResponseAsync();
        int status = Status(head);
        if (expected == 200)
        {
            Assert.True(status is 200 or 421, $"Host '{h}': {head}");
        }
        else
        {
            Assert.True(status is 400 or 421, $"Host '{h}': {head}");
        }

        foreach (string received in s.Origin.Heads)
        {
            Assert.Contains($"\r\nHost: {s.Authority}\r\n", received); // the origin is told the CONNECT's authority, never the client's spelling
            Assert.DoesNotContain("evil", received);
        }
    }

    [Fact]
    public async Task A_header_section_one_byte_over_the_limit_is_431_inside_the_tunnel()
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        string start = $"GET /hello HTTP/1.1\r\nHost: {s.Authority}\r\nX-Big: ";
        int fill = 64 * 1024 + 1 - start.Length - 4;
        await inside.SendAsync(start + new string('a', fill) + "\r\n\r\n");
        string? head = await inside.ReadHeadAsync();
        Assert.True(Status(head) is 431 or 400, head);
        Assert.Empty(s.Origin.Heads);
    }

    [Fact]
    public async Task A_flood_of_small_header_fields_is_refused_inside_the_tunnel()
    {
        await using Setup s = await StartAsync();
        using InsideClient inside = await s.OpenAsync();
        var text = new System.Text.StringBuilder($"GET /hello HTTP/1.1\r\nHost: {s.Authority}\r\n");
        for (int i = 0; i < 20_000; i++)
        {
            text.Append("a:b\r\n");
        }

        await inside.SendAsync(text.Append("\r\n").ToString());
        string? head = await inside.ReadHeadAsync();
        Assert.True(Status(head) is 431 or 400, head);
        Assert.Empty(s.Origin.Heads);
    }

    [Fact]
    public async Task Slowloris_inside_the_tunnel_is_cut_by_the_header_timeout()
    {
        await using Setup s = await StartAsync(more: c => c with { Timeouts = c.Timeouts with { RequestHeaders = TimeSpan.FromSeconds(1) } });
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync("GET /hello HTTP/1.1\r\n");
        Task<(string, bool, bool)> end = inside.ReadToEndAsync(20_000);
        for (int i = 0; i < 30 && !end.IsCompleted; i++)
        {
            try
            {
                await inside.SendAsync("X: y\r\n");
            }
            catch (IOException)
            {
                break;
            }

            await Task.WhenAny(end, Task.Delay(300));
        }

        (string text, _, bool timedOut) = await end;
        Assert.False(timedOut, "a head trickled inside the tunnel was never cut");
        Assert.StartsWith("HTTP/1.1 408", text);
        Assert.Empty(s.Origin.Heads);
    }

    [Fact]
    public async Task A_client_that_never_finishes_the_TLS_handshake_is_dropped_in_bounded_time()
    {
        await using Setup s = await StartAsync(more: c => c with { Timeouts = c.Timeouts with { RequestHeaders = TimeSpan.FromSeconds(1) } });
        (string head, RawClient raw) = await InsideClient.ConnectAsync(s.Proxy, s.Authority);
        using (raw)
        {
            Assert.StartsWith("HTTP/1.1 200", head);
            await raw.SendAsync([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]); // a record header promising a ClientHello that never comes
            await raw.ReadToEndAsync(20_000);
        }

        await s.Proxy.AccessLog.WaitForAsync(l => l.Contains("CONNECT", StringComparison.Ordinal), "the CONNECT's line");
    }

    [Fact]
    public async Task A_client_that_resets_mid_handshake_leaves_the_proxy_serving()
    {
        await using Setup s = await StartAsync();
        for (int i = 0; i < 5; i++)
        {
            (string head, RawClient raw) = await InsideClient.ConnectAsync(s.Proxy, s.Authority);
            Assert.StartsWith("HTTP/1.1 200", head);
            await raw.SendAsync([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00]);
            raw.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            raw.Dispose();
        }

        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n");
        (string? ok, _) = await inside.ReadResponseAsync();
        Assert.Equal(200, Status(ok));
    }

    [Theory]
    [InlineData("other.test", false)]
    [InlineData("INSIDE.TEST", true)]
    [InlineData("", true)]
    [InlineData("127.0.0.1", true)] // .NET sends no SNI for an IP literal
    public async Task The_ClientHello_SNI_must_name_the_CONNECT_host(string sni, bool accepted)
    {
        await using Setup s = await StartAsync();
        if (accepted)
        {
            using InsideClient inside = await s.OpenAsync(sni);
            await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n");
            (string? ok, _) = await inside.ReadResponseAsync();
            Assert.Equal(200, Status(ok));
        }
        else
        {
            await Assert.ThrowsAnyAsync<Exception>(() => s.OpenAsync(sni));
            Assert.Empty(s.Origin.Heads);
        }
    }

    [Fact]
    public async Task An_SNI_of_300_characters_or_of_non_ASCII_ends_the_tunnel_and_the_proxy_goes_on()
    {
        await using Setup s = await StartAsync();
        string longName = string.Join('.', Enumerable.Repeat(new string('a', 60), 5)); // 304 characters
        await Assert.ThrowsAnyAsync<Exception>(() => s.OpenAsync(longName));
        await Assert.ThrowsAnyAsync<Exception>(() => s.OpenAsync("ïnside.test"));
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {s.Authority}\r\n\r\n");
        (string? ok, _) = await inside.ReadResponseAsync();
        Assert.Equal(200, Status(ok));
        Assert.Equal(["GET /hello HTTP/1.1"], s.Origin.RequestLines);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    public Task An_asterisk_target_never_reaches_the_origin_as_a_broken_request_line(string method) => AsteriskAsync(method);

    [Fact]
    public Task OPTIONS_asterisk_reaches_the_origin_as_OPTIONS_asterisk() => AsteriskAsync("OPTIONS");

    private static async Task AsteriskAsync(string method)
    {
        await using Setup s = await StartAsync(paths: []);
        using InsideClient inside = await s.OpenAsync();
        await inside.SendAsync($"{method} * HTTP/1.1\r\nHost: {s.Authority}\r\nContent-Length: 0\r\n\r\n");
        await inside.ReadResponseAsync();
        foreach (string line in s.Origin.RequestLines)
        {
            string[] parts = line.Split(' ');
            Assert.True(parts.Length == 3 && parts[1].Length > 0, $"the origin received '{line}'");
            Assert.True(parts[1] != "*" || method == "OPTIONS", $"the origin received '{line}'");
        }
    }
}
