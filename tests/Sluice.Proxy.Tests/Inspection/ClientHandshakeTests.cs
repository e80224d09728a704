using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The client side of an inspected tunnel: the handshake as the origin, refused for another name (domain fronting),
/// failing visibly for a client that does not trust the CA, and never negotiating HTTP/2 on either leg.
/// </summary>
public sealed class ClientHandshakeTests
{
    private static async Task<Exception?> HandshakeFailureAsync(TunnelClient tunnel, X509Certificate2[] trust, string? sni = null, List<SslApplicationProtocol>? alpn = null)
    {
        try
        {
            await tunnel.HandshakeAsync(trust, sni, alpn);
            return null;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return e;
        }
    }

    [Fact]
    public async Task A_client_hello_for_another_name_ends_the_tunnel_and_one_log_line_says_why()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect(), InspectionKit.Inspect("fronted", destination: "fronted.test")], AccessLogFormat.Json);

        await using (TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority))
        {
            Assert.True(tunnel.Established, tunnel.ConnectHead);
            Exception? failed = await HandshakeFailureAsync(tunnel, [kit.Ca], sni: "fronted.test");
            Assert.NotNull(failed);
        }

        await proxy.StopAsync();
        string line = Assert.Single(proxy.AccessLog.Lines);
        Assert.Contains("\"method\":\"CONNECT\"", line);
        Assert.Contains($"\"url\":\"{kit.Authority}\"", line);
        Assert.Contains($"the client asked TLS for fronted.test inside a tunnel to {kit.Authority}", line);
        Assert.Contains("\"proxyStatus\":\"tls_protocol_error\"", line);
    }

    [Theory]
    [InlineData("SECURE.TEST")]
    [InlineData("secure.test")]
    public async Task A_client_hello_for_the_same_name_in_any_case_is_served(string sni)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);

        await tunnel.HandshakeAsync([kit.Ca], sni);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
    }

    [Fact]
    public async Task A_client_hello_without_a_name_is_served_as_the_connect_host()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);

        // SslStream sends no server_name for an IP literal target; the leaf is still the CONNECT host's.
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => tunnel.HandshakeAsync([kit.Ca], sni: "127.0.0.1"));
        Assert.NotNull(tunnel.Presented);
        Assert.True(tunnel.Presented!.MatchesHostname(InspectionKit.OriginName));
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_ca_gets_nothing_forwarded_and_the_connect_is_logged_with_the_reason()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Json);

        // Default validation: the system roots, which do not hold the inspection CA.
        using var client = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) }) { Timeout = TimeSpan.FromSeconds(30) };
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"https://{InspectionKit.OriginName}:{origin.Port}/secret"));

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("\"method\":\"CONNECT\""), "for the CONNECT whose client refused the leaf");
        Assert.Contains("\"status\":200", line);
        Assert.Contains("\"code\":\"NONE_NONE\"", line);
        Assert.True(line.Contains("does it trust the inspection CA?", StringComparison.Ordinal), line);
        Assert.Contains("\"proxyStatus\":\"tls_protocol_error\"", line);
        await proxy.StopAsync();
        Assert.Single(proxy.AccessLog.Lines); // no request line: nothing was forwarded
        Assert.Empty(origin.Requests);
    }

    [Fact]
    public async Task A_client_that_sends_no_tls_gets_the_tunnel_closed_and_logged()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Json);
        string authority = $"{InspectionKit.OriginName}:{origin.Port}";

        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, authority);
        Assert.True(tunnel.Established, tunnel.ConnectHead);
        await tunnel.Raw.SendAsync($"GET /secret HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        await tunnel.Raw.ReadToEndAsync(); // closed, whatever came first (perhaps a TLS alert)

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("\"method\":\"CONNECT\""), "for the CONNECT that never spoke TLS");
        Assert.Contains("\"proxyStatus\":\"tls_protocol_error\"", line);
        Assert.Empty(origin.Requests);
    }

    [Fact]
    public async Task A_client_that_never_starts_tls_is_timed_out_and_logged()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(
            c => c with { Timeouts = c.Timeouts with { RequestHeaders = TimeSpan.FromSeconds(1) } }, [InspectionKit.Inspect()], AccessLogFormat.Json);

        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);
        Assert.True(tunnel.Established, tunnel.ConnectHead);
        await tunnel.Raw.ReadToEndAsync(timeoutMs: 20_000);

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("\"method\":\"CONNECT\""), "for the silent tunnel");
        Assert.Contains("no TLS handshake from the client within 1s", line);
    }

    [Fact]
    public async Task A_client_offering_only_h2_gets_http_1_1_or_no_handshake_never_h2()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);

        Exception? failed = null;
        SslApplicationProtocol negotiated = default;
        try
        {
            negotiated = await tunnel.HandshakeAsync([kit.Ca], alpn: [SslApplicationProtocol.Http2]);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            failed = e;
        }

        Assert.NotEqual(SslApplicationProtocol.Http2, negotiated);
        if (failed is null)
        {
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status); // HTTP/1.1 it is
        }
    }

    [Fact]
    public async Task A_client_offering_h2_and_http_1_1_gets_http_1_1()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);

        SslApplicationProtocol negotiated = await tunnel.HandshakeAsync([kit.Ca], alpn: [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]);
        Assert.Equal(SslApplicationProtocol.Http11, negotiated);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
    }

    [Fact]
    public async Task The_origin_leg_offers_only_http_1_1_even_to_an_origin_that_prefers_h2()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate, alpn: [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);

        Assert.Equal(200, (await tunnel.GetAsync("/")).Status);
        Assert.Equal(["http/1.1"], origin.Negotiated.ToArray());
    }

    [Fact]
    public async Task An_https_proxy_listener_inspects_tunnels_inside_its_own_tls()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var listenerPki = new TestPki("Proxy Listener CA");
        (string certificate, string key, _) = listenerPki.Server();
        await using TestProxy proxy = await kit.ProxyAsync(
            c => c with { Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = certificate, Key = key } }] },
            InspectionKit.Inspect(paths: ["/hello"]));
        Assert.Equal("https", proxy.Uri.Scheme);

        var issuers = new List<string>();
        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
        {
            if (presented is null)
            {
                return false;
            }

            using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
            issuers.Add(leaf.Issuer);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(listenerPki.Ca); // the proxy leg
            chain.ChainPolicy.CustomTrustStore.Add(kit.Ca); // the inspected origin leg
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(leaf);
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };

        Assert.Equal("hello from origin", await client.GetStringAsync(kit.Url("/hello")));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync(kit.Url("/headers"))).StatusCode);
        Assert.Equal([listenerPki.Ca.Subject, kit.Ca.Subject], issuers.Distinct());
    }
}
