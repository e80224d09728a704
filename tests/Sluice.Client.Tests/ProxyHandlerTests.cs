using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests;

/// <summary>
/// The handler factory against the real proxy: the proxy's CA (or skip-verify) applies to the proxy connection
/// only, origins are validated on their own, excluded destinations go direct, credentials follow a 407.
/// </summary>
public sealed class ProxyHandlerTests : IDisposable
{
    private readonly TestPki _proxyCa = new("Proxy CA");
    private readonly TestPki _originCa = new("Origin CA");

    public void Dispose()
    {
        _proxyCa.Dispose();
        _originCa.Dispose();
    }

    private async Task<TestProxy> HttpsProxyAsync(Func<SluiceConfig, SluiceConfig>? more = null)
    {
        (string cert, string key, _) = _proxyCa.Server();
        TestProxy proxy = await TestProxy.StartAsync(c =>
        {
            c = c with { Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = cert, Key = key } }] };
            return more?.Invoke(c) ?? c;
        });
        proxy.Resolver.Map("secure.test", IPAddress.Loopback).Map("origin.test", IPAddress.Loopback);
        return proxy;
    }

    private ProxySettings Settings(TestProxy proxy, bool withCa = true, bool reject = true) => new()
    {
        Host = "127.0.0.1",
        Port = proxy.Endpoint.Port,
        Type = ProxyType.Https,
        CaPem = withCa ? File.ReadAllText(_proxyCa.CaPath) : null,
        RejectUnauthorized = reject,
    };

    /// <summary>The origin leg's own trust: the origin CA only, the way an application would configure it.</summary>
    private void TrustOriginCa(SocketsHttpHandler handler) =>
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(_originCa.Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is not null && chain.Build(new X509Certificate2(certificate));
        };

    [Fact]
    public async Task The_proxy_ca_is_trusted_for_the_proxy_leg_while_the_origin_is_validated_with_its_own_ca()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _originCa.Origin("secure.test"));
        await using TestProxy proxy = await HttpsProxyAsync();
        SocketsHttpHandler handler = ProxyHandlerFactory.Create(Settings(proxy));
        TrustOriginCa(handler);
        using (var http = new HttpClient(handler))
        {
            Assert.Equal("hello from origin", await http.GetStringAsync($"https://secure.test:{origin.Port}/hello"));
        }

        // Through the proxy, as a tunnel (logged when it closed with the client).
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("CONNECT secure.test:"), "for the tunnel");
    }

    [Fact]
    public async Task The_proxy_ca_does_not_make_an_origin_certificate_it_issued_trusted()
    {
        // An origin presenting a certificate from the proxy's CA: trusted for the proxy leg only, so refused here.
        await using TestOrigin origin = await TestOrigin.StartAsync(issued: _proxyCa.Origin("secure.test"));
        await using TestProxy proxy = await HttpsProxyAsync();
        using var http = new HttpClient(ProxyHandlerFactory.Create(Settings(proxy)));
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"https://secure.test:{origin.Port}/hello"));
        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
        await proxy.AccessLog.WaitForAsync(l => l.Contains("CONNECT secure.test:"), "for the tunnel: the proxy leg itself worked");
    }

    [Fact]
    public async Task Skip_verify_applies_to_the_proxy_leg_only_and_a_bad_origin_certificate_still_fails()
    {
        await using TestOrigin good = await TestOrigin.StartAsync(issued: _originCa.Origin("secure.test"));
        await using TestOrigin selfSigned = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        await using TestProxy proxy = await HttpsProxyAsync();

        SocketsHttpHandler handler = ProxyHandlerFactory.Create(Settings(proxy, withCa: false, reject: false));
        TrustOriginCa(handler);
        using var http = new HttpClient(handler);
        Assert.Equal("hello from origin", await http.GetStringAsync($"https://secure.test:{good.Port}/hello"));
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"https://secure.test:{selfSigned.Port}/hello"));
        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);

        using var strict = new HttpClient(ProxyHandlerFactory.Create(Settings(proxy, withCa: false, reject: true)));
        await Assert.ThrowsAsync<HttpRequestException>(() => strict.GetAsync($"https://secure.test:{good.Port}/hello")); // the proxy's CA is unknown
    }

    [Fact]
    public async Task Excluded_destinations_go_direct_and_the_proxy_sees_nothing_of_them()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        ProxySettings settings = ProxySettings.FromUrl(proxy.Uri.ToString(), NoProxyList.Parse("localhost,.internal.test"));
        using var http = new HttpClient(ProxyHandlerFactory.Create(settings));

        Assert.Equal("hello from origin", await http.GetStringAsync($"http://localhost:{origin.Port}/hello"));
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
        await proxy.AccessLog.WaitForAsync(l => l.Contains("origin.test"), "for the proxied request");
        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains("localhost"));
    }

    [Fact]
    public async Task Credentials_are_sent_after_the_407_challenge()
    {
        string users = Path.Combine(_proxyCa.Directory, "users");
        File.WriteAllText(users, $"etl:{PasswordHashes.HashBcrypt("s3cret", 5)}\n");
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Auth = new AuthConfig { Basic = new BasicAuthConfig { UsersFile = users } } });
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);

        using var anonymous = new HttpClient(ProxyHandlerFactory.Create(ProxySettings.FromUrl(proxy.Uri.ToString())));
        Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, (await anonymous.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);

        ProxySettings withUser = ProxySettings.FromUrl($"http://etl:s3cret@127.0.0.1:{proxy.Endpoint.Port}");
        using var http = new HttpClient(ProxyHandlerFactory.Create(withUser));
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_MISS/200") && l.Contains(" etl "), "with the user");
    }

    [Fact]
    public async Task WebSockets_use_the_same_settings_through_an_https_proxy()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await HttpsProxyAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using ClientWebSocket socket = await ProxyWebSockets.ConnectAsync(new Uri($"ws://origin.test:{origin.Port}/ws"), Settings(proxy), cancellationToken: cts.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("through sluice"), WebSocketMessageType.Text, true, cts.Token);
        byte[] buffer = new byte[64];
        WebSocketReceiveResult received = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.Equal("through sluice", Encoding.UTF8.GetString(buffer, 0, received.Count));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
    }
}
