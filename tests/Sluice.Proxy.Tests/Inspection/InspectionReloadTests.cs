using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// Configuration changes and inspected tunnels: an open tunnel keeps the snapshot it started with; a CA that cannot
/// be used is refused at reload (nothing changes) and at start.
/// </summary>
public sealed class InspectionReloadTests
{
    private static SluiceConfig WithRules(SluiceConfig config, params Rule[] rules) => config with { Rules = [.. rules] };

    [Fact]
    public async Task An_open_tunnel_keeps_its_snapshot_and_new_tunnels_get_the_reloaded_rules()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        await using TunnelClient before = await kit.OpenAsync(proxy);
        Assert.Equal(200, (await before.GetAsync("/hello")).Status);

        proxy.Server.Reload(WithRules(proxy.Server.CurrentConfig, InspectionKit.Inspect(paths: ["/headers"])));

        Assert.Equal(200, (await before.GetAsync("/hello")).Status);
        Assert.Equal(403, (await before.GetAsync("/headers")).Status);

        await using TunnelClient after = await kit.OpenAsync(proxy);
        Assert.Equal(403, (await after.GetAsync("/hello")).Status);
        Assert.Equal(200, (await after.GetAsync("/headers")).Status);
    }

    [Fact]
    public async Task A_reload_that_stops_inspecting_leaves_the_open_inspected_tunnel_working()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        await using TunnelClient before = await kit.OpenAsync(proxy);

        proxy.Server.Reload(proxy.Server.CurrentConfig with { Inspection = null, Rules = [InspectionKit.Plain()] });

        Assert.Equal(200, (await before.GetAsync("/hello")).Status);
        await using TunnelClient after = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, kit.Origins.Ca);
        Assert.Equal(kit.Origin.Certificate!.Thumbprint, after.Presented!.Thumbprint); // a plain tunnel now
    }

    [Fact]
    public async Task A_reload_whose_ca_is_not_a_ca_is_refused_and_the_old_configuration_stays()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        SluiceConfig before = proxy.Server.CurrentConfig;
        (string certificate, string key, X509Certificate2 leaf) = NotACa(kit);
        using (leaf)
        {
            SluiceConfig broken = WithRules(before, InspectionKit.Inspect(paths: ["/headers"])) with
            {
                Inspection = before.Inspection! with { Ca = certificate, Key = key },
            };

            ConfigException refused = Assert.Throws<ConfigException>(() => proxy.Server.Reload(broken));
            Assert.Contains("is not a CA", refused.Message);
            Assert.Contains(certificate, refused.Message);
        }

        Assert.Same(before, proxy.Server.CurrentConfig);
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);
        Assert.Equal(kit.Ca.Subject, tunnel.Presented!.Issuer);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status); // the old rules
        Assert.Equal(403, (await tunnel.GetAsync("/headers")).Status);
    }

    [Fact]
    public async Task A_reload_whose_key_belongs_to_another_certificate_is_refused_as_a_configuration_error()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        (_, string otherKey, X509Certificate2 other) = InspectionKit.CreateCa("Other CA");
        other.Dispose();
        string keyPath = Path.Combine(kit.Directory, "other.key");
        File.WriteAllText(keyPath, otherKey);
        SluiceConfig before = proxy.Server.CurrentConfig;

        ConfigException refused = Assert.Throws<ConfigException>(() => proxy.Server.Reload(before with { Inspection = before.Inspection! with { Key = keyPath } }));
        Assert.Contains("does not match the certificate", refused.Message);
        Assert.Same(before, proxy.Server.CurrentConfig);
    }

    [Fact]
    public async Task A_reload_whose_upstream_ca_holds_no_certificate_is_refused()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        string empty = Path.Combine(kit.Directory, "empty.pem");
        File.WriteAllText(empty, "nothing here\n");
        SluiceConfig before = proxy.Server.CurrentConfig;

        ConfigException refused = Assert.Throws<ConfigException>(() => proxy.Server.Reload(before with { Inspection = before.Inspection! with { UpstreamCa = empty } }));
        Assert.Contains("holds no PEM certificate", refused.Message);
        Assert.Same(before, proxy.Server.CurrentConfig);
    }

    public enum BadCa
    {
        NotACa,
        Expired,
        KeyOfAnotherCa,
        MissingFile,
    }

    [Theory]
    [InlineData(BadCa.NotACa, "is not a CA")]
    [InlineData(BadCa.Expired, "expired on")]
    [InlineData(BadCa.KeyOfAnotherCa, "does not match the certificate")]
    [InlineData(BadCa.MissingFile, "tls.inspection: ")]
    public async Task A_proxy_whose_ca_cannot_be_used_does_not_start(BadCa bad, string named)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        switch (bad)
        {
            case BadCa.NotACa:
                (string certificate, string key, X509Certificate2 leaf) = NotACa(kit);
                leaf.Dispose();
                kit.ReplaceCaFiles(File.ReadAllText(certificate), File.ReadAllText(key));
                break;
            case BadCa.Expired:
                (string expired, string expiredKey, X509Certificate2 old) = InspectionKit.CreateCa("Expired CA", DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1));
                old.Dispose();
                kit.ReplaceCaFiles(expired, expiredKey);
                break;
            case BadCa.KeyOfAnotherCa:
                (_, string otherKey, X509Certificate2 other) = InspectionKit.CreateCa("Other CA");
                other.Dispose();
                File.WriteAllText(kit.KeyPath, otherKey);
                break;
            case BadCa.MissingFile:
                File.Delete(kit.CaPath);
                break;
        }

        StartupException refused = await Assert.ThrowsAsync<StartupException>(() => kit.ProxyAsync(InspectionKit.Inspect()));
        Assert.Equal(StartupFailure.Inspection, refused.Kind);
        Assert.Contains(named, refused.Message);
    }

    /// <summary>A certificate and key that are a valid pair but not a CA (CA:FALSE), as files.</summary>
    private static (string Certificate, string Key, X509Certificate2 Leaf) NotACa(InspectionKit kit)
    {
        (string certificate, string key, X509Certificate2 leaf) = InspectionKit.CreateCa("Just A Leaf", isCa: false);
        string certificatePath = Path.Combine(kit.Directory, "leaf.crt");
        string keyPath = Path.Combine(kit.Directory, "leaf.key");
        File.WriteAllText(certificatePath, certificate);
        File.WriteAllText(keyPath, key);
        return (certificatePath, keyPath, leaf);
    }
}
