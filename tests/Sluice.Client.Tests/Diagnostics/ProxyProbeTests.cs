using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Sluice.Client.Diagnostics;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests.Diagnostics;

public sealed class ProxyProbeTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private static ProxyProbe Probe(TestProxy proxy, X509Certificate2Collection? ca = null, NetworkCredential? credentials = null) =>
        new(new ProbeOptions
        {
            Proxy = ProxySettings.FromUrl(proxy.Uri.ToString()) with { Credentials = credentials },
            TrustedCa = ca,
            Timeout = TimeSpan.FromSeconds(20),
        });

    private X509Certificate2Collection Ca => [_pki.Ca];

    private static SluiceConfig AllowOnly(SluiceConfig c, string yaml) =>
        c with { Rules = ConfigLoader.Parse(yaml, "t.yaml").Rules, Default = RuleAction.Deny };

    [Fact]
    public async Task An_allowed_destination_whose_certificate_chains_to_the_given_ca_passes_as_intercepted_but_trusted()
    {
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync(c => AllowOnly(c, """
            rules:
              - name: local
                action: allow
                destinations: ["localhost"]
            """));
        proxy.Resolver.Map("localhost", IPAddress.Loopback);

        ProbeResult result = await Probe(proxy, Ca).ProbeAsync(new ProbeTarget("localhost", origin.Port, Tls: true));

        Assert.True(result.Passed, result.Failure);
        Assert.True(result.ProxyReachable);
        Assert.Equal(PhaseOutcome.NotApplicable, result[ProbePhase.ProxyTls].Outcome);
        Assert.Equal(AuthState.NotRequired, result.Auth);
        Assert.Equal(200, result.Connect!.Status);
        Assert.Null(result.Connect.ProxyStatusError);
        Assert.Equal(CertificateTrust.ExtraCa, result.OriginCertificate!.Trust);
        Assert.Equal("Sluice Test CA", result.OriginCertificate.IssuerName);
        Assert.True(result.OriginCertificate.NameMatches);
        Assert.NotNull(result.OriginCertificate.Protocol);
        Assert.Equal(Interception.TrustedViaCa, result.Interception);
        Assert.Contains("intercepted but trusted via --ca", result[ProbePhase.OriginTls].Detail);
        Assert.All(new[] { ProbePhase.ProxyConnect, ProbePhase.Connect, ProbePhase.OriginTls }, p => Assert.NotNull(result[p].Duration));

        // The handshake was the whole conversation: no application byte reached the origin, and it saw a clean close.
        Assert.Equal(0, await origin.NextReceivedAsync());
    }

    [Fact]
    public async Task A_destination_the_policy_refuses_reports_403_with_its_proxy_status_and_the_policy_hint()
    {
        await using var proxy = await TestProxy.StartAsync(c => AllowOnly(c, """
            rules:
              - name: vendor
                action: allow
                destinations: ["allowed.test"]
            """));

        ProbeResult result = await Probe(proxy).ProbeAsync(ProbeTarget.Parse("https://denied.test"));

        Assert.False(result.Passed);
        Assert.Equal(403, result.Connect!.Status);
        Assert.Equal("http_request_denied", result.Connect.ProxyStatusError);
        Assert.StartsWith("sluice-test; error=http_request_denied", result.Connect.ProxyStatus, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(result.Connect.ProxyStatusDetails));
        Assert.Equal(PhaseOutcome.Failed, result[ProbePhase.Connect].Outcome);
        Assert.Equal(PhaseOutcome.NotReached, result[ProbePhase.OriginTls].Outcome);
        Assert.Equal("the proxy's policy refuses this destination: ask for it to be allowed, or add it to excludedDomains if it must go direct", result.Hint);
        Assert.StartsWith("403 Forbidden (http_request_denied", result.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_that_resolves_to_a_private_address_is_reported_as_destination_ip_prohibited()
    {
        await using var proxy = await TestProxy.StartAsync(c => c with { Addresses = new AddressesConfig() });
        proxy.Resolver.Map("internal.test", IPAddress.Loopback);

        ProbeResult result = await Probe(proxy).ProbeAsync(new ProbeTarget("internal.test", 443, Tls: true));

        Assert.Equal(403, result.Connect!.Status);
        Assert.Equal("destination_ip_prohibited", result.Connect.ProxyStatusError);
        Assert.Equal("the name resolves to a private address the proxy refuses", result.Hint);
    }

    [Fact]
    public async Task A_closed_port_behind_the_proxy_is_502_connection_refused()
    {
        int closed = ClosedPort();
        await using var proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("closed.test", IPAddress.Loopback);

        ProbeResult result = await Probe(proxy).ProbeAsync(new ProbeTarget("closed.test", closed, Tls: true));

        Assert.False(result.Passed);
        Assert.True(result.ProxyReachable);
        Assert.Equal(502, result.Connect!.Status);
        Assert.Equal("connection_refused", result.Connect.ProxyStatusError);
        Assert.Contains("connection was refused", result.Hint);
    }

    [Fact]
    public async Task A_proxy_that_is_not_listening_is_unreachable_and_nothing_else_is_tried()
    {
        var probe = new ProxyProbe(new ProbeOptions { Proxy = ProxySettings.FromUrl($"http://127.0.0.1:{ClosedPort()}") });

        ProbeResult result = await probe.ProbeAsync(new ProbeTarget("example.test", 443, Tls: true));

        Assert.False(result.ProxyReachable);
        Assert.Equal(PhaseOutcome.Failed, result[ProbePhase.ProxyConnect].Outcome);
        Assert.Contains("connection refused", result.Failure);
        Assert.Equal(ProbeHints.ProxyUnreachable, result.Hint);
        Assert.All(result.Phases.Skip(1), p => Assert.Equal(PhaseOutcome.NotReached, p.Outcome));
        Assert.Equal(AuthState.NotReached, result.Auth);
    }

    [Fact]
    public async Task An_origin_certificate_from_an_unknown_ca_is_flagged_as_tls_interception()
    {
        await using var origin = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        await using var proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("secure.test", IPAddress.Loopback);

        // --ca is given, but it is not the CA that issued what the origin leg presents.
        ProbeResult result = await Probe(proxy, Ca).ProbeAsync(new ProbeTarget("secure.test", origin.Port, Tls: true));

        Assert.False(result.Passed);
        Assert.Equal(200, result.Connect!.Status);
        Assert.Equal(Interception.Intercepted, result.Interception);
        Assert.Equal(CertificateTrust.Untrusted, result.OriginCertificate!.Trust);
        Assert.Equal("secure.test", result.OriginCertificate.IssuerName);
        Assert.Equal(PhaseOutcome.Failed, result[ProbePhase.OriginTls].Outcome);
        Assert.StartsWith("TLS INTERCEPTION", result.Failure, StringComparison.Ordinal);
        Assert.Equal("a TLS-inspecting proxy: trust its CA with --ca, or exclude this destination", result.Hint);
    }

    [Fact]
    public async Task An_origin_that_does_not_speak_tls_fails_the_origin_handshake_with_a_hint()
    {
        await using var origin = await TestOrigin.StartAsync(tls: false);
        await using var proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("plain.test", IPAddress.Loopback);

        ProbeResult tls = await Probe(proxy).ProbeAsync(new ProbeTarget("plain.test", origin.Port, Tls: true));
        ProbeResult plain = await Probe(proxy).ProbeAsync(ProbeTarget.Parse($"http://plain.test:{origin.Port}/"));

        Assert.Equal(PhaseOutcome.Failed, tls[ProbePhase.OriginTls].Outcome);
        Assert.Equal(ProbeHints.OriginTlsFailed, tls.Hint);
        Assert.True(plain.Passed, plain.Failure);
        Assert.Equal(PhaseOutcome.NotApplicable, plain[ProbePhase.OriginTls].Outcome);
    }

    [Fact]
    public async Task Without_credentials_a_407_names_the_realm_and_with_them_the_tunnel_opens()
    {
        string users = Path.Combine(_pki.Directory, "users.htpasswd");
        File.WriteAllText(users, $"alice:{Sluice.Proxy.Auth.PasswordHashes.HashBcrypt("s3cret", 5)}\n");
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync(c => c with { Auth = new AuthConfig { Basic = new BasicAuthConfig { UsersFile = users, Realm = "egress" } } });
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        var target = new ProbeTarget("localhost", origin.Port, Tls: true);

        ProbeResult anonymous = await Probe(proxy, Ca).ProbeAsync(target);
        ProbeResult wrong = await Probe(proxy, Ca, new NetworkCredential("alice", "wrong")).ProbeAsync(target);
        ProbeResult alice = await Probe(proxy, Ca, new NetworkCredential("alice", "s3cret")).ProbeAsync(target);

        Assert.Equal(407, anonymous.Connect!.Status);
        Assert.Equal(AuthState.Required, anonymous.Auth);
        Assert.Equal("egress", anonymous.Connect.AuthenticateRealm);
        Assert.Equal(PhaseOutcome.Failed, anonymous[ProbePhase.ProxyAuth].Outcome);
        Assert.Contains("pass --user", anonymous.Hint);
        Assert.Contains("realm \"egress\"", anonymous.Failure);

        Assert.Equal(AuthState.Rejected, wrong.Auth);
        Assert.Equal(ProbeHints.BadCredentials, wrong.Hint);

        Assert.True(alice.Passed, alice.Failure);
        Assert.Equal(AuthState.Accepted, alice.Auth);
        Assert.Equal(200, alice.Connect!.Status);
    }

    [Fact]
    public async Task An_https_proxy_is_trusted_with_the_given_ca_and_refused_without_it()
    {
        (string certificate, string key, _) = _pki.Server();
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync(c => c with
        {
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = certificate, Key = key } }],
        });
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        var target = new ProbeTarget("localhost", origin.Port, Tls: true);
        Assert.Equal("https", proxy.Uri.Scheme);

        ProbeResult trusted = await Probe(proxy, Ca).ProbeAsync(target);
        ProbeResult untrusted = await Probe(proxy).ProbeAsync(target);

        Assert.True(trusted.Passed, trusted.Failure);
        Assert.Equal(PhaseOutcome.Passed, trusted[ProbePhase.ProxyTls].Outcome);
        Assert.NotNull(trusted[ProbePhase.ProxyTls].Duration);
        Assert.Equal(CertificateTrust.ExtraCa, trusted.ProxyCertificate!.Trust);
        Assert.Equal("Sluice Test CA", trusted.ProxyCertificate.IssuerName);

        Assert.False(untrusted.Passed);
        Assert.Equal(PhaseOutcome.Failed, untrusted[ProbePhase.ProxyTls].Outcome);
        Assert.Equal(CertificateTrust.Untrusted, untrusted.ProxyCertificate!.Trust);
        Assert.Equal("trust the proxy's CA with --ca", untrusted.Hint);
        Assert.Null(untrusted.Connect);
        Assert.Equal(PhaseOutcome.NotReached, untrusted[ProbePhase.Connect].Outcome);
    }

    [Fact]
    public async Task A_plain_proxy_addressed_as_https_fails_the_proxy_handshake()
    {
        await using var proxy = await TestProxy.StartAsync();
        // A plain listener waits for a request head that a ClientHello never completes: the handshake times out.
        var probe = new ProxyProbe(new ProbeOptions { Proxy = ProxySettings.FromUrl($"https://{proxy.Endpoint}"), Timeout = TimeSpan.FromSeconds(1) });

        ProbeResult result = await probe.ProbeAsync(new ProbeTarget("example.test", 443, Tls: true));

        Assert.Equal(PhaseOutcome.Failed, result[ProbePhase.ProxyTls].Outcome);
        Assert.Contains("timed out after 1s", result.Failure);
        Assert.Equal(ProbeHints.ProxyTlsFailed, result.Hint);
    }

    [Fact]
    public async Task Probing_many_targets_keeps_their_order_and_reports_each_as_it_completes()
    {
        await using var proxy = await TestProxy.StartAsync(c => AllowOnly(c, """
            rules:
              - name: none
                action: allow
                destinations: ["allowed.test"]
            """));
        ProbeTarget[] targets = Enumerable.Range(1, 12).Select(i => new ProbeTarget($"t{i}.test", 443, Tls: true)).ToArray();
        var probe = new ProxyProbe(new ProbeOptions { Proxy = ProxySettings.FromUrl(proxy.Uri.ToString()), MaxConcurrency = 3 });
        var completed = new ConcurrentBag<string>();

        var results = await probe.ProbeAllAsync(targets, r => completed.Add(r.Target.Host));

        Assert.Equal(targets, results.Select(r => r.Target));
        Assert.All(results, r => Assert.Equal(403, r.Connect!.Status));
        Assert.Equal(12, completed.Count);
    }

    [Fact]
    public void Through_an_https_proxy_a_service_that_cannot_use_one_fails_with_the_exclusion_hint()
    {
        Assert.Equal("Snowflake", ProbeHints.ServiceWithoutHttpsProxySupport("acme.eu-west-1.snowflakecomputing.com"));
        Assert.Null(ProbeHints.ServiceWithoutHttpsProxySupport("notsnowflakecomputing.com"));
        Assert.Equal("add snowflakecomputing.com to excludedDomains: that service does not support HTTPS proxies",
            ProbeHints.NoHttpsProxySupport("acme.snowflakecomputing.com"));
    }

    [Theory]
    [InlineData("example.com:443", "example.com", 443, true)]
    [InlineData("https://Example.COM", "example.com", 443, true)]
    [InlineData("https://example.com:8443/path?q=1", "example.com", 8443, true)]
    [InlineData("http://example.com", "example.com", 80, false)]
    [InlineData("example.com:80", "example.com", 80, false)]
    [InlineData("wss://user@example.com/ws", "example.com", 443, true)]
    [InlineData("example.com.:5432", "example.com", 5432, true)]
    [InlineData("[2001:db8::1]:443", "2001:db8::1", 443, true)]
    [InlineData("https://[2001:db8::1]", "2001:db8::1", 443, true)]
    [InlineData("bücher.example:443", "xn--bcher-kva.example", 443, true)]
    [InlineData("127.1:8443", "127.0.0.1", 8443, true)]
    [InlineData("[2001:DB8:0::1]:443", "2001:db8::1", 443, true)]
    [InlineData("https://example.com:/", "example.com", 443, true)]
    [InlineData("  ws://example.com/chat#x  ", "example.com", 80, false)]
    public void Targets_parse_from_host_port_or_urls(string text, string host, int port, bool tls)
    {
        ProbeTarget target = ProbeTarget.Parse(text);
        Assert.Equal(new ProbeTarget(host, port, tls), target);
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("example.com:0")]
    [InlineData("example.com:65536")]
    [InlineData("example.com:https")]
    [InlineData("ftp://example.com")]
    [InlineData("2001:db8::1:443")]
    [InlineData("[2001:db8::1")]
    [InlineData(":443")]
    [InlineData("example.com..:443")]
    [InlineData("*.example.com:443")]
    [InlineData("[fe80::1%2]:443")]
    [InlineData("[127.0.0.1]:443")]
    [InlineData("256.0.0.1:443")]
    [InlineData("example.com:000443")]
    [InlineData("https://example.com:99999/")]
    [InlineData("https://exa mple.com/")]
    public void Targets_without_a_port_or_with_a_bad_one_are_refused(string text) =>
        Assert.False(ProbeTarget.TryParse(text, out _, out _));

    [Theory]
    [InlineData("sluice; error=http_request_denied; details=\"rule \\\"x\\\", line 3\"", "http_request_denied", "rule \"x\", line 3")]
    [InlineData("inner; error=connection_refused, outer", "connection_refused", null)]
    [InlineData("outer; received-status=502, inner; error=dns_error; details=\"a, b\"", "dns_error", "a, b")]
    [InlineData("sluice", null, null)]
    public void Proxy_status_fields_yield_the_error_and_details(string field, string? error, string? details) =>
        Assert.Equal((error, details), ProxyStatusField.Error(field));

    [Fact]
    public void The_realm_is_read_from_a_basic_challenge() =>
        Assert.Equal("egress proxy", ProxyStatusField.Parameter("Basic realm=\"egress proxy\", charset=\"UTF-8\"", "realm"));

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
