using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests;

/// <summary>
/// The handler with an inspecting proxy's CA (<see cref="ProxySettings.InspectionCaPem"/>), through the real proxy on
/// loopback: an origin whose certificate that CA issued (what an inspecting proxy presents) is trusted in addition to
/// the system roots, for origins reached through the proxy only, with the name still checked; the proxy's own CA
/// grants no origin trust, and the inspection CA no proxy trust.
/// </summary>
public sealed class OriginTrustTests : IDisposable
{
    private readonly TestPki _inspectionCa = new("Inspecting proxy CA");
    private readonly TestPki _otherCa = new("Some other CA");
    private readonly TestPki _proxyCa = new("Proxy CA");

    public void Dispose()
    {
        _inspectionCa.Dispose();
        _otherCa.Dispose();
        _proxyCa.Dispose();
    }

    private string InspectionPem => File.ReadAllText(_inspectionCa.CaPath);

    private static async Task<TestProxy> ProxyAsync(TestPki? tls = null)
    {
        TestProxy proxy = await TestProxy.StartAsync(c =>
        {
            if (tls is null)
            {
                return c;
            }

            (string cert, string key, _) = tls.Server();
            return c with { Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = cert, Key = key } }] };
        });
        proxy.Resolver.Map("secure.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
        return proxy;
    }

    private static ProxySettings Through(TestProxy proxy, string? inspectionPem, string excluded = "", ProxyType type = ProxyType.Http, string? proxyCaPem = null) => new()
    {
        Host = "127.0.0.1",
        Port = proxy.Endpoint.Port,
        Type = type,
        CaPem = proxyCaPem,
        InspectionCaPem = inspectionPem,
        Excluded = NoProxyList.Parse(excluded),
    };

    private static async Task AssertCertificateErrorAsync(HttpClient http, string url)
    {
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(url));
        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    [Fact]
    public async Task An_origin_certificate_from_the_inspection_ca_is_trusted_through_the_proxy_and_refused_without_the_setting()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _inspectionCa.Origin("secure.test"));
        await using TestProxy proxy = await ProxyAsync();
        string url = $"https://secure.test:{origin.Port}/hello";

        using (var http = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, InspectionPem))))
        {
            Assert.Equal("hello from origin", await http.GetStringAsync(url));
        }

        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains($"CONNECT secure.test:{origin.Port}"), "for the tunnel the request went through");

        using var without = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, inspectionPem: null)));
        await AssertCertificateErrorAsync(without, url);
    }

    [Fact]
    public async Task A_certificate_from_another_ca_still_fails_with_the_setting()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _otherCa.Origin("secure.test"));
        await using TestOrigin selfSigned = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        await using TestProxy proxy = await ProxyAsync();
        using var http = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, InspectionPem)));
        await AssertCertificateErrorAsync(http, $"https://secure.test:{origin.Port}/hello");
        await AssertCertificateErrorAsync(http, $"https://secure.test:{selfSigned.Port}/hello");
    }

    [Fact]
    public async Task The_name_is_still_checked_for_a_certificate_from_the_inspection_ca()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _inspectionCa.Origin("other.test"));
        await using TestProxy proxy = await ProxyAsync();
        using var http = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, InspectionPem)));
        await AssertCertificateErrorAsync(http, $"https://secure.test:{origin.Port}/hello");
        Assert.Equal("hello from origin", await http.GetStringAsync($"https://other.test:{origin.Port}/hello"));
    }

    [Fact]
    public async Task The_proxy_ca_grants_no_origin_trust_and_the_inspection_ca_no_proxy_trust()
    {
        await using TestOrigin inspected = await TestOrigin.StartAsync(issued: _inspectionCa.Origin("secure.test"));
        await using TestOrigin byProxyCa = await TestOrigin.StartAsync(issued: _proxyCa.Origin("secure.test"));
        await using TestProxy proxy = await ProxyAsync(tls: _proxyCa);

        // Both CAs, each for its own leg.
        string proxyCaPem = File.ReadAllText(_proxyCa.CaPath);
        using (var http = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, InspectionPem, type: ProxyType.Https, proxyCaPem: proxyCaPem))))
        {
            Assert.Equal("hello from origin", await http.GetStringAsync($"https://secure.test:{inspected.Port}/hello"));
            await AssertCertificateErrorAsync(http, $"https://secure.test:{byProxyCa.Port}/hello");
        }

        // The proxy's certificate chains to the proxy CA only: given as the inspection CA, it does not open the proxy leg.
        using var misplaced = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, proxyCaPem, type: ProxyType.Https)));
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => misplaced.GetAsync($"https://secure.test:{byProxyCa.Port}/hello"));
        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    [Fact]
    public async Task A_destination_reached_directly_gets_no_trust_from_the_inspection_ca()
    {
        // localhost is excluded, so it is reached directly: whoever presents a certificate from the inspection CA there
        // is not the inspecting proxy.
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _inspectionCa.Origin("localhost"));
        await using TestProxy proxy = await ProxyAsync();
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        using (var direct = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, InspectionPem, excluded: "localhost"))))
        {
            await AssertCertificateErrorAsync(direct, $"https://localhost:{origin.Port}/hello");
        }

        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains("localhost", StringComparison.Ordinal));

        // The same origin through the proxy is trusted.
        using var proxied = new HttpClient(ProxyHandlerFactory.Create(Through(proxy, InspectionPem)));
        Assert.Equal("hello from origin", await proxied.GetStringAsync($"https://localhost:{origin.Port}/hello"));
    }

    [Fact]
    public async Task WebSockets_through_the_proxy_trust_the_inspection_ca_too()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _inspectionCa.Origin("secure.test"));
        await using TestProxy proxy = await ProxyAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using ClientWebSocket socket = await ProxyWebSockets.ConnectAsync(new Uri($"wss://secure.test:{origin.Port}/ws"), Through(proxy, InspectionPem), cancellationToken: cts.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("inspected"), WebSocketMessageType.Text, true, cts.Token);
        byte[] buffer = new byte[64];
        WebSocketReceiveResult received = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.Equal("inspected", Encoding.UTF8.GetString(buffer, 0, received.Count));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
    }

    [Fact]
    public void What_the_system_roots_accept_stays_accepted_and_no_ca_excuses_a_name_mismatch()
    {
        // The handler's callback sees the verdict of the system roots first: the inspection CA only ever adds to it.
        var trust = new OriginTrust(InspectionPem, NoProxyList.Empty);
        using X509Certificate2 unrelated = _otherCa.Origin("secure.test");
        Assert.True(trust.Validate(new object(), unrelated, null, SslPolicyErrors.None));

        using X509Certificate2 inspected = _inspectionCa.Origin("secure.test");
        using var tls = new SslStream(new MemoryStream());
        Assert.False(trust.Validate(tls, inspected, null, SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(trust.Validate(tls, null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
    }
}
