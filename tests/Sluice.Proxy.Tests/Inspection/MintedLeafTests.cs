using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Proxy.Inspection;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The certificate an inspected client is shown: for exactly the CONNECT host, ECDSA P-256, short-lived and never
/// outliving the CA, a server certificate of the CA's; minted once per host and CA and kept in a bounded cache.
/// </summary>
public sealed class MintedLeafTests
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";

    private static X509SubjectAlternativeNameExtension San(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();

    private static void AssertIssuedBy(X509Certificate2 leaf, X509Certificate2 ca)
    {
        Assert.Equal(ca.Subject, leaf.Issuer);
        // The CA's own key identifier, or the one RFC 5280 §4.2.1.2 derives from its public key when it carries none.
        X509SubjectKeyIdentifierExtension caSki = ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().SingleOrDefault()
            ?? new X509SubjectKeyIdentifierExtension(ca.PublicKey, false);
        byte[] caKeyId = caSki.SubjectKeyIdentifierBytes.ToArray();
        X509AuthorityKeyIdentifierExtension aki = leaf.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single();
        Assert.Equal(caKeyId, aki.KeyIdentifier!.Value.ToArray());
        Assert.NotNull(leaf.Extensions.OfType<X509SubjectKeyIdentifierExtension>().SingleOrDefault());

        X509BasicConstraintsExtension constraints = leaf.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.False(constraints.CertificateAuthority);
        X509EnhancedKeyUsageExtension usage = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single();
        Assert.Equal([ServerAuth], usage.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));

        using ECDsa? key = leaf.GetECDsaPublicKey();
        Assert.NotNull(key);
        Assert.Equal(256, key!.KeySize);
        Assert.Equal("1.2.840.10045.3.1.7", key.ExportParameters(false).Curve.Oid.Value); // P-256
        Assert.Null(leaf.GetRSAPublicKey());

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuth));
        Assert.True(chain.Build(leaf), string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [Fact]
    public async Task The_leaf_is_for_exactly_the_connect_host_p256_short_lived_and_a_server_certificate_of_the_ca()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        DateTime before = DateTime.UtcNow;
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);
        X509Certificate2 leaf = tunnel.Presented!;

        Assert.Equal([InspectionKit.OriginName], San(leaf).EnumerateDnsNames());
        Assert.Empty(San(leaf).EnumerateIPAddresses());
        Assert.Equal($"CN={InspectionKit.OriginName}", leaf.Subject);
        AssertIssuedBy(leaf, kit.Ca);

        DateTime notBefore = leaf.NotBefore.ToUniversalTime();
        DateTime notAfter = leaf.NotAfter.ToUniversalTime();
        Assert.True(notBefore <= before, $"not yet valid when minted: {notBefore:O}");
        Assert.True(notBefore >= before.AddHours(-1).AddMinutes(-5), $"backdated more than an hour: {notBefore:O}");
        Assert.True(notAfter - notBefore <= TimeSpan.FromHours(73), $"valid for {notAfter - notBefore}");
        Assert.True(notAfter >= before.AddHours(71), $"valid for less than the lifetime: {notAfter:O}");
        Assert.True(notAfter <= kit.Ca.NotAfter.ToUniversalTime());
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
    }

    [Fact]
    public async Task An_ipv4_literal_connect_gets_an_ip_address_san_and_no_name()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, null, IPAddress.Loopback);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(destination: "127.0.0.1"));
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"127.0.0.1:{origin.Port}", kit.Ca);
        X509Certificate2 leaf = tunnel.Presented!;

        Assert.Equal([IPAddress.Loopback], San(leaf).EnumerateIPAddresses());
        Assert.Empty(San(leaf).EnumerateDnsNames());
        AssertIssuedBy(leaf, kit.Ca);
        Assert.Equal(200, (await tunnel.GetAsync("/")).Status);
        Assert.StartsWith($"Host: 127.0.0.1:{origin.Port}", origin.Requests.Single().Split("\r\n")[1]);
    }

    [Fact]
    public async Task The_leaf_never_outlives_the_ca_nor_starts_before_it()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        DateTimeOffset caStart = DateTimeOffset.UtcNow.AddMinutes(-10);
        DateTimeOffset caEnd = DateTimeOffset.UtcNow.AddHours(5);
        (string certificate, string key, X509Certificate2 shortCa) = InspectionKit.CreateCa("Short-lived Inspection CA", caStart, caEnd);
        using (shortCa)
        {
            kit.ReplaceCaFiles(certificate, key);
            await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
            await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, shortCa);
            X509Certificate2 leaf = tunnel.Presented!;

            Assert.Equal(shortCa.Subject, leaf.Issuer);
            Assert.Equal(shortCa.NotAfter, leaf.NotAfter);
            Assert.True(leaf.NotBefore >= shortCa.NotBefore, $"{leaf.NotBefore:O} is before the CA's {shortCa.NotBefore:O}");
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        }
    }

    [Fact]
    public async Task Two_tunnels_to_one_host_are_shown_one_minted_leaf()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient first = await kit.OpenAsync(proxy);
        await using TunnelClient second = await kit.OpenAsync(proxy);

        Assert.Equal(first.Presented!.Thumbprint, second.Presented!.Thumbprint);
        Assert.Equal(200, (await first.GetAsync("/hello")).Status);
        Assert.Equal(200, (await second.GetAsync("/hello")).Status);
    }

    private static X509Certificate2 CaWithKey(string name, bool rsa = false, bool subjectKeyId = true)
    {
        (string certificate, string key, X509Certificate2 publicPart) = InspectionKit.CreateCa(name, rsa: rsa, subjectKeyId: subjectKeyId);
        publicPart.Dispose();
        return X509Certificate2.CreateFromPem(certificate, key);
    }

    [Fact]
    public async Task Concurrent_handshakes_for_one_host_share_one_mint()
    {
        using X509Certificate2 ca = CaWithKey("Unit CA");
        var leaves = new LeafCertificates(capacity: 8);

        Task<SslStreamCertificateContext>[] all = [.. Enumerable.Range(0, 16).Select(_ => leaves.ForAsync(ca, "a.test", null))];
        SslStreamCertificateContext[] contexts = await Task.WhenAll(all);

        Assert.Equal(1, leaves.Mints);
        Assert.Single(contexts.Select(c => c.TargetCertificate.Thumbprint).Distinct());
    }

    [Fact]
    public async Task The_cache_is_bounded_and_evicts_the_least_recently_used_host()
    {
        using X509Certificate2 ca = CaWithKey("Unit CA");
        var leaves = new LeafCertificates(capacity: 2);

        string a = (await leaves.ForAsync(ca, "a.test", null)).TargetCertificate.Thumbprint;
        await leaves.ForAsync(ca, "b.test", null);
        Assert.Equal(a, (await leaves.ForAsync(ca, "a.test", null)).TargetCertificate.Thumbprint); // a is now the most recent
        Assert.Equal(2, leaves.Mints);

        await leaves.ForAsync(ca, "c.test", null); // evicts b, the least recently used
        Assert.Equal(2, leaves.Count);
        Assert.Equal(3, leaves.Mints);

        Assert.Equal(a, (await leaves.ForAsync(ca, "a.test", null)).TargetCertificate.Thumbprint);
        Assert.Equal(3, leaves.Mints);
        await leaves.ForAsync(ca, "b.test", null);
        Assert.Equal(4, leaves.Mints); // b was minted again
        Assert.Equal(2, leaves.Count);
    }

    [Fact]
    public async Task Another_ca_mints_its_own_leaf_for_the_same_host()
    {
        using X509Certificate2 one = CaWithKey("Unit CA one");
        using X509Certificate2 two = CaWithKey("Unit CA two");
        var leaves = new LeafCertificates(capacity: 8);

        X509Certificate2 fromOne = (await leaves.ForAsync(one, "a.test", null)).TargetCertificate;
        X509Certificate2 fromTwo = (await leaves.ForAsync(two, "a.test", null)).TargetCertificate;

        Assert.Equal(2, leaves.Mints);
        Assert.Equal("CN=Unit CA one", fromOne.Issuer);
        Assert.Equal("CN=Unit CA two", fromTwo.Issuer);
    }

    [Fact]
    public async Task Ipv6_literals_and_long_names_are_minted_with_the_full_name_in_the_san()
    {
        using X509Certificate2 ca = CaWithKey("Unit CA");
        var leaves = new LeafCertificates();

        X509Certificate2 v6 = (await leaves.ForAsync(ca, "::1", IPAddress.IPv6Loopback)).TargetCertificate;
        Assert.Equal([IPAddress.IPv6Loopback], San(v6).EnumerateIPAddresses());
        Assert.Empty(San(v6).EnumerateDnsNames());

        string longName = string.Join('.', Enumerable.Repeat("label-of-twenty-char", 6)) + ".test"; // 130 characters
        X509Certificate2 named = (await leaves.ForAsync(ca, longName, null)).TargetCertificate;
        Assert.Equal([longName], San(named).EnumerateDnsNames());
        Assert.True(named.MatchesHostname(longName));
        Assert.True(named.GetNameInfo(X509NameType.SimpleName, false).Length <= 64); // a CN holds at most 64 characters
    }

    [Fact]
    public async Task A_leaf_minted_with_an_rsa_ca_is_still_ecdsa_p256()
    {
        using X509Certificate2 ca = CaWithKey("RSA Unit CA", rsa: true);
        var leaves = new LeafCertificates();

        X509Certificate2 leaf = (await leaves.ForAsync(ca, "a.test", null)).TargetCertificate;
        using var caPublic = X509CertificateLoader.LoadCertificate(ca.RawData);
        AssertIssuedBy(leaf, caPublic);
    }

    [Fact]
    public async Task An_rsa_inspection_ca_serves_inspected_tunnels()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        (string certificate, string key, X509Certificate2 rsaCa) = InspectionKit.CreateCa("RSA Inspection CA", rsa: true);
        using (rsaCa)
        {
            kit.ReplaceCaFiles(certificate, key);
            await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
            await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, rsaCa);

            AssertIssuedBy(tunnel.Presented!, rsaCa);
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        }
    }

    [Fact]
    public async Task A_ca_without_a_subject_key_identifier_still_mints_leaves_with_an_authority_key_identifier()
    {
        using X509Certificate2 ca = CaWithKey("Unit CA without SKI", subjectKeyId: false);
        var leaves = new LeafCertificates();

        X509Certificate2 leaf = (await leaves.ForAsync(ca, "a.test", null)).TargetCertificate;
        using var caPublic = X509CertificateLoader.LoadCertificate(ca.RawData);
        AssertIssuedBy(leaf, caPublic);
    }

    [Fact]
    public async Task An_inspection_ca_without_a_subject_key_identifier_serves_inspected_tunnels()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        (string certificate, string key, X509Certificate2 bareCa) = InspectionKit.CreateCa("Inspection CA without SKI", subjectKeyId: false);
        using (bareCa)
        {
            kit.ReplaceCaFiles(certificate, key);
            await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
            await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, bareCa);

            AssertIssuedBy(tunnel.Presented!, bareCa);
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        }
    }
}
