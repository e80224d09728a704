using System.Net;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>Mutual TLS on the proxy listener: the client certificate's common name is the client's identity.</summary>
public sealed class ClientCertificateTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki _otherCa = new("Some Other CA");

    public void Dispose()
    {
        _pki.Dispose();
        _otherCa.Dispose();
    }

    private async Task<TestProxy> StartAsync(ClientCertificateMode mode, string rulesYaml = "default: allow", string? crl = null)
    {
        (string cert, string key, _) = _pki.Server();
        SluiceConfig rules = ConfigLoader.Parse(rulesYaml, "rules.yaml");
        TestProxy proxy = await TestProxy.StartAsync(c => c with
        {
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = cert, Key = key, ClientCa = _pki.CaPath, ClientCertificate = mode, ClientCrl = crl } }],
            Rules = rules.Rules,
            Default = rules.Default,
        });
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        return proxy;
    }

    private HttpClient Client(TestProxy proxy, X509Certificate2? certificate)
    {
        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.Issuer == _pki.Ca.Subject;
        if (certificate is not null)
        {
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    private static X509Certificate2 WithKey((string Certificate, string Key, X509Certificate2 _) issued) =>
        X509CertificateLoader.LoadPkcs12(X509Certificate2.CreateFromPemFile(issued.Certificate, issued.Key).Export(X509ContentType.Pkcs12), null);

    [Fact]
    public async Task A_valid_certificate_names_the_user_in_the_log_and_in_rules()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Required, """
            rules:
              - name: etl-only
                action: allow
                destinations: ["origin.test"]
                users: [etl-batch]
            default: deny
            """);
        using (HttpClient etl = Client(proxy, WithKey(_pki.Client("etl-batch"))))
        {
            Assert.Equal("hello from origin", await etl.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
        }

        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_MISS/200") && l.Contains(" etl-batch HIER_DIRECT/"), "with the certificate's name in the user column");

        using HttpClient other = Client(proxy, WithKey(_pki.Client("reporting")));
        using HttpResponseMessage denied = await other.GetAsync($"http://origin.test:{origin.Port}/hello");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
    }

    [Fact]
    public async Task Without_a_required_certificate_the_handshake_fails()
    {
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Required);
        using HttpClient anonymous = Client(proxy, null);
        await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetAsync("http://origin.test/"));
    }

    [Fact]
    public async Task A_certificate_from_another_ca_or_an_expired_one_is_refused()
    {
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Optional);
        using (HttpClient stranger = Client(proxy, WithKey(_otherCa.Client("intruder"))))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => stranger.GetAsync("http://origin.test/"));
        }

        using HttpClient expired = Client(proxy, WithKey(_pki.Client("late", notAfter: DateTimeOffset.UtcNow.AddMinutes(-5))));
        await Assert.ThrowsAsync<HttpRequestException>(() => expired.GetAsync("http://origin.test/"));
    }

    [Fact]
    public async Task A_revoked_certificate_is_refused_and_others_from_the_same_ca_are_not()
    {
        var revoked = _pki.Client("stolen-laptop");
        var good = _pki.Client("etl-batch");
        string crl = _pki.Crl("clients.crl", revoked.Cert);
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Required, crl: crl);
        using (HttpClient thief = Client(proxy, WithKey(revoked)))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => thief.GetAsync($"http://origin.test:{origin.Port}/hello"));
        }

        using HttpClient etl = Client(proxy, WithKey(good));
        Assert.Equal("hello from origin", await etl.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }

    [Fact]
    public async Task A_revocation_list_not_signed_by_the_client_ca_refuses_to_start()
    {
        string foreign = _otherCa.Crl("foreign.crl");
        StartupException error = await Assert.ThrowsAsync<StartupException>(() => StartAsync(ClientCertificateMode.Required, crl: foreign));
        Assert.Equal(StartupFailure.Certificate, error.Kind);
        Assert.Contains("not a valid certificate revocation list (its issuer is none of the client CAs)", error.Message);
    }

    [Fact]
    public async Task A_certificate_without_the_client_authentication_usage_is_refused()
    {
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Required);
        using HttpClient noUsage = Client(proxy, WithKey(_pki.Client("no-eku", withUsage: false)));
        await Assert.ThrowsAsync<HttpRequestException>(() => noUsage.GetAsync("http://origin.test/"));
    }

    [Fact]
    public async Task A_revoked_intermediate_revokes_the_certificates_it_issued()
    {
        using TestPki team = _pki.Intermediate("Team CA");
        var member = team.Client("team-member");
        string crl = _pki.Crl("revoke-team.crl", team.Ca);
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Required, crl: crl);

        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.Issuer == _pki.Ca.Subject;
        // Present the leaf with its intermediate, so the proxy can build the chain up to the configured root.
        handler.SslOptions.ClientCertificateContext = System.Net.Security.SslStreamCertificateContext.Create(WithKey(member), [X509CertificateLoader.LoadCertificate(team.Ca.RawData)], offline: true);
        using var http = new HttpClient(handler);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://origin.test:{origin.Port}/hello"));

        // The same chain is accepted when the intermediate is not revoked: the refusal above was the revocation.
        await using TestProxy open = await StartAsync(ClientCertificateMode.Required, crl: _pki.Crl("empty.crl"));
        var fine = new SocketsHttpHandler { Proxy = new WebProxy(open.Uri) };
        fine.SslOptions.RemoteCertificateValidationCallback = handler.SslOptions.RemoteCertificateValidationCallback;
        fine.SslOptions.ClientCertificateContext = handler.SslOptions.ClientCertificateContext;
        using var ok = new HttpClient(fine);
        Assert.Equal("hello from origin", await ok.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }

    [Fact]
    public async Task A_damaged_revocation_list_refuses_to_start_instead_of_revoking_nothing()
    {
        string crl = _pki.Crl("damaged.crl", _pki.Client("whoever").Cert);
        File.WriteAllText(crl, File.ReadAllText(crl)[..60]); // truncated mid-write
        StartupException error = await Assert.ThrowsAsync<StartupException>(() => StartAsync(ClientCertificateMode.Required, crl: crl));
        Assert.Equal(StartupFailure.Certificate, error.Kind);
        Assert.Contains("no complete certificate revocation list", error.Message);
    }

    [Fact]
    public async Task An_optional_certificate_may_be_absent()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync(ClientCertificateMode.Optional);
        using HttpClient anonymous = Client(proxy, null);
        Assert.Equal("hello from origin", await anonymous.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }
}
