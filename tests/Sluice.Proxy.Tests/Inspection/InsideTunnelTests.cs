using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The requests inside one inspected tunnel, written byte by byte: each decided by the rules on its method and its
/// normalised path, refused inside the tunnel with 403 and Proxy-Status, and the tunnel going on afterwards.
/// </summary>
public sealed class InsideTunnelTests
{
    private static string CountConnects(TestProxy proxy, string authority) =>
        proxy.AccessLog.Lines.Count(l => l.Contains($" CONNECT {authority} ")).ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Allowed_and_denied_paths_share_one_tunnel_one_connect_and_one_origin_connection()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello", "/status", "/bytes"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        TunnelResponse hello = await tunnel.GetAsync("/hello");
        Assert.Equal(200, hello.Status);
        Assert.Equal("hello from origin", hello.Text);

        TunnelResponse denied = await tunnel.GetAsync("/headers");
        Assert.Equal(403, denied.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied", denied.Field("Proxy-Status"));
        Assert.Null(denied.Field("Connection")); // a bodiless refusal leaves the tunnel open

        Assert.Equal(204, (await tunnel.GetAsync("/status/204")).Status);
        Assert.Equal(403, (await tunnel.GetAsync("/hellox")).Status); // a prefix ends on a segment boundary
        TunnelResponse head = await tunnel.RequestAsync("HEAD", "/bytes/10");
        Assert.Equal(200, head.Status);
        Assert.Equal("10", head.Field("Content-Length"));
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);

        Assert.Equal(1, kit.Origin.Connections);
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        Assert.Equal("1", CountConnects(proxy, kit.Authority));
        Assert.Equal(4, proxy.AccessLog.Lines.Count(l => l.Contains(" TCP_MISS/")));
        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains($" HEAD https://{kit.Authority}/bytes/10 "));
        Assert.Equal(2, proxy.AccessLog.Lines.Count(l => l.Contains(" TCP_DENIED/403 ")));
    }

    [Fact]
    public async Task A_method_rule_allows_get_and_refuses_post_inside_the_tunnel()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(methods: ["GET", "HEAD"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);

        // A bodiless refused method leaves the tunnel usable.
        TunnelResponse delete = await tunnel.RequestAsync("DELETE", "/hello");
        Assert.Equal(403, delete.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied", delete.Field("Proxy-Status"));
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);

        TunnelResponse post = await tunnel.SendBodyAsync("POST", "/echo", "x=1"u8.ToArray(), "Content-Type: text/plain\r\n");
        Assert.Equal(403, post.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied", post.Field("Proxy-Status"));
        Assert.Equal(1, kit.Origin.Connections);
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        Assert.Equal(2, proxy.AccessLog.Lines.Count(l => l.Contains(" TCP_DENIED/403 ")));
        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains(" POST ") && l.Contains("TCP_MISS"));
    }

    [Fact]
    public async Task A_refused_post_with_a_small_body_leaves_the_tunnel_usable()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(methods: ["GET"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        TunnelResponse post = await tunnel.SendBodyAsync("POST", "/echo", new byte[1000]);
        Assert.Equal(403, post.Status);
        Assert.Null(post.Field("Connection")); // the body was read and discarded: the next request follows it

        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        Assert.Equal("1", CountConnects(proxy, kit.Authority));
    }

    [Theory]
    [InlineData("/hello/../headers", 403)]
    [InlineData("/hello/%2e%2e/headers", 403)]
    [InlineData("/hello/%2E%2E/headers", 403)]
    [InlineData("/hello%2F..%2Fheaders", 400)] // a ".." after an encoded separator: origins disagree on it, so it is refused
    [InlineData("/hello%5C..%5Cheaders", 400)]
    [InlineData("/hello/./../headers", 403)]
    [InlineData("/%2e%2e/headers", 403)]
    [InlineData("/%68eaders", 403)]
    [InlineData("/Hello", 403)] // matching is case-sensitive
    [InlineData("/headers/../hello", 200)]
    [InlineData("/%68ello", 200)]
    [InlineData("//hello", 200)]
    [InlineData("/./hello", 200)]
    [InlineData("/hello?/headers", 200)] // the query is not the path
    public async Task Tricks_with_escapes_and_dot_segments_are_decided_on_the_normalised_path(string target, int decided)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        TunnelResponse response = await tunnel.GetAsync(target);
        if (decided == 403)
        {
            Assert.Equal(403, response.Status);
            Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied", response.Field("Proxy-Status"));
        }
        else if (decided == 400)
        {
            Assert.Equal(400, response.Status);
            Assert.StartsWith($"{TestProxy.Name}; error=http_request_error", response.Field("Proxy-Status"));
        }
        else
        {
            Assert.Null(response.Field("Proxy-Status")); // the origin answered, whatever it made of the path
        }

        // Whatever was decided, the tunnel goes on.
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        string line = proxy.AccessLog.Lines.First(l => l.Contains(" GET "));
        Assert.Contains($" GET https://{kit.Authority}{target} ", line); // logged as the client wrote it
    }

    [Theory]
    [InlineData("/hello%zz")]
    [InlineData("/hello%2")]
    [InlineData("/hello%00")]
    [InlineData("/hello%0a")]
    public async Task A_path_that_cannot_be_read_is_400_with_proxy_status(string target)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        TunnelResponse response = await tunnel.GetAsync(target);
        Assert.Equal(400, response.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_error", response.Field("Proxy-Status"));
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains(" TCP_MISS/")); // nothing went to the origin
    }

    [Fact]
    public async Task A_request_for_another_host_is_421_and_the_tunnel_stays_usable()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(), InspectionKit.Inspect("other", destination: "other.test"));
        proxy.Resolver.Map("other.test", System.Net.IPAddress.Loopback);
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);
        int port = kit.Origin.Port;

        foreach ((string target, string host) in new[]
        {
            ("/hello", $"other.test:{port}"),
            ($"https://other.test:{port}/hello", $"other.test:{port}"),
            ($"https://other.test:{port}/hello", kit.Authority), // the URI's authority wins over Host
            ("/hello", InspectionKit.OriginName), // no port: 443, not this tunnel's
            ("/hello", $"{InspectionKit.OriginName}:{port + 1}"),
        })
        {
            TunnelResponse misdirected = await tunnel.RequestAsync("GET", target, host: host);
            Assert.True(misdirected.Status == 421, $"{target} with Host {host}: {misdirected}");
            Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied", misdirected.Field("Proxy-Status"));
            Assert.Contains("needs its own CONNECT", misdirected.Text);
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        }

        Assert.Equal(1, kit.Origin.Connections);
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        Assert.Equal(5, proxy.AccessLog.Lines.Count(l => l.Contains(" TCP_DENIED/421 ")));
    }

    [Fact]
    public async Task Absolute_form_inside_goes_to_the_origin_in_origin_form()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/headers"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        TunnelResponse seen = await tunnel.GetAsync($"https://{kit.Authority}/headers?q=1");
        Assert.Equal(200, seen.Status);
        string[] lines = seen.Text.Split('\n');
        Assert.Equal("GET /headers?q=1 HTTP/1.1", lines[0]);
        Assert.Contains($"Host: {kit.Authority}", lines);
        Assert.Contains(lines, l => l.StartsWith("Via: 1.1 " + TestProxy.Name, StringComparison.Ordinal));

        Assert.Equal(200, (await tunnel.GetAsync($"HTTPS://{kit.Authority.ToUpperInvariant()}/headers")).Status);
        Assert.Equal(200, (await tunnel.RequestAsync("GET", "/headers", host: kit.Authority.ToUpperInvariant())).Status); // names are case-insensitive

        // With absolute-form the URI's authority is the request's; Host is replaced by it (RFC 9112 §3.2.2).
        TunnelResponse hostIgnored = await tunnel.RequestAsync("GET", $"https://{kit.Authority}/headers", host: "other.test");
        Assert.Equal(200, hostIgnored.Status);
        Assert.Contains($"Host: {kit.Authority}", hostIgnored.Text.Split('\n'));
        Assert.Equal(403, (await tunnel.GetAsync($"https://{kit.Authority}/hello")).Status);
        TunnelResponse plain = await tunnel.GetAsync($"http://{kit.Authority}/headers");
        Assert.Equal(400, plain.Status); // inside TLS, http:// names no request this tunnel can carry
    }

    [Fact]
    public async Task Options_asterisk_reaches_the_origin_as_asterisk()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        string authority = $"{InspectionKit.OriginName}:{origin.Port}";
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, authority, kit.Ca);

        Assert.Equal(200, (await tunnel.RequestAsync("OPTIONS", "*")).Status);
        // RFC 9112 §3.2.4: an absolute-form OPTIONS without a path is OPTIONS * for the last hop.
        Assert.Equal(200, (await tunnel.RequestAsync("OPTIONS", $"https://{authority}")).Status);
        Assert.Equal(200, (await tunnel.RequestAsync("OPTIONS", $"https://{authority}/")).Status);

        string[] requestLines = [.. origin.Requests.Select(r => r.Split("\r\n")[0])];
        Assert.Equal(["OPTIONS * HTTP/1.1", "OPTIONS * HTTP/1.1", "OPTIONS / HTTP/1.1"], requestLines);
        await tunnel.DisposeAsync();
        await proxy.StopAsync();
        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains($" OPTIONS https://{authority} "));
    }

    [Fact]
    public async Task Asterisk_with_another_method_is_400()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        string authority = $"{InspectionKit.OriginName}:{origin.Port}";
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, authority, kit.Ca);

        TunnelResponse response = await tunnel.GetAsync("*");
        Assert.Equal(400, response.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_error", response.Field("Proxy-Status"));
        Assert.Empty(origin.Requests);
    }

    [Fact]
    public async Task Pipelined_requests_inside_get_their_answers_in_order()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello", "/status"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        string host = $"Host: {kit.Authority}\r\n";
        await tunnel.SendAsync($"GET /hello HTTP/1.1\r\n{host}\r\nGET /headers HTTP/1.1\r\n{host}\r\nGET /status/204 HTTP/1.1\r\n{host}\r\nGET /hello HTTP/1.1\r\n{host}\r\n");
        Assert.Equal("hello from origin", (await tunnel.ReadResponseAsync()).Text);
        Assert.Equal(403, (await tunnel.ReadResponseAsync()).Status);
        Assert.Equal(204, (await tunnel.ReadResponseAsync()).Status);
        Assert.Equal("hello from origin", (await tunnel.ReadResponseAsync()).Text);
        Assert.Equal(1, kit.Origin.Connections);
    }

    [Fact]
    public async Task An_http_1_0_request_without_host_inside_is_for_the_tunnels_origin()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/headers"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        await tunnel.SendAsync("GET /headers HTTP/1.0\r\n\r\n");
        TunnelResponse response = await tunnel.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Contains($"Host: {kit.Authority}", response.Text.Split('\n'));
        Assert.Equal("close", response.Field("Connection")); // one response per HTTP/1.0 connection
        Assert.True(await tunnel.ClosedAsync());
    }

    [Fact]
    public async Task A_head_section_over_the_limit_inside_is_431_and_ends_the_tunnel()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        TunnelResponse response = await tunnel.RequestAsync("GET", "/hello", $"X-Big: {new string('a', 200_000)}\r\n");
        Assert.Equal(431, response.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_error", response.Field("Proxy-Status"));
        Assert.True(await tunnel.ClosedAsync());
        await proxy.StopAsync();
        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains("/431 "));
        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains(" TCP_MISS/"));
    }

    [Fact]
    public async Task A_client_that_closes_its_side_after_the_request_still_gets_the_response()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        await tunnel.SendAsync($"GET /hello HTTP/1.1\r\nHost: {kit.Authority}\r\n\r\n");
        await tunnel.Tls.ShutdownAsync(); // close_notify: nothing more from this side
        tunnel.Raw.ShutdownSend();
        TunnelResponse response = await tunnel.ReadResponseAsync();
        Assert.Equal("hello from origin", response.Text);
        Assert.True(await tunnel.ClosedAsync());
    }

    [Fact]
    public async Task A_connect_inside_the_tunnel_is_400_and_ends_it()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        TunnelResponse nested = await tunnel.RequestAsync("CONNECT", kit.Authority);
        Assert.Equal(400, nested.Status);
        Assert.StartsWith($"{TestProxy.Name}; error=http_request_error", nested.Field("Proxy-Status"));
        Assert.Equal("close", nested.Field("Connection"));
        Assert.True(await tunnel.ClosedAsync(), "the tunnel stayed open after a CONNECT inside it");

        await proxy.StopAsync();
        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains(" TCP_DENIED/400 ") || l.Contains("/400 "));
        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains(" NONE_NONE/200 ") && l.Contains($" CONNECT {kit.Authority} "));
    }
}
