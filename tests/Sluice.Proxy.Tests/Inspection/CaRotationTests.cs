using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The inspection CA rotates by replacing its files while the proxy runs: new tunnels are shown leaves of the new CA,
/// open tunnels go on; a replacement that cannot be used keeps the old CA and says so once.
/// </summary>
public sealed class CaRotationTests
{
    /// <summary>Opens tunnels (the CA files are looked at again on a handshake, at most once a second) until one is shown a leaf of <paramref name="ca"/>.</summary>
    private static async Task<TunnelClient> TunnelSignedByAsync(InspectionKit kit, TestProxy proxy, X509Certificate2 ca, params X509Certificate2[] trust)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, trust);
            if (tunnel.Presented!.Issuer == ca.Subject)
            {
                return tunnel;
            }

            last = tunnel.Presented.Issuer;
            await tunnel.DisposeAsync();
            await Task.Delay(250);
        }

        throw new Xunit.Sdk.XunitException($"no tunnel was shown a leaf of {ca.Subject} within 20 s; the last was issued by {last}");
    }

    /// <summary>Opens tunnels until the proxy's log has a line that matches, or fails saying it never came.</summary>
    private static async Task<string> WarningAsync(InspectionKit kit, TestProxy proxy, LogLines log, Func<string, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            await using (TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, kit.Ca))
            {
                Assert.Equal(kit.Ca.Subject, tunnel.Presented!.Issuer); // meanwhile the old CA goes on signing
            }

            if (log.Lines.FirstOrDefault(match) is { } line)
            {
                return line;
            }

            await Task.Delay(250);
        }

        throw new Xunit.Sdk.XunitException($"no such warning within 20 s; the log was:\n{string.Join("\n", log.Lines)}");
    }

    [Fact]
    public async Task New_tunnels_get_leaves_of_the_replaced_ca_and_open_tunnels_keep_working()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient before = await kit.OpenAsync(proxy);
        Assert.Equal(200, (await before.GetAsync("/hello")).Status);

        (string certificate, string key, X509Certificate2 next) = InspectionKit.CreateCa("Sluice Test Inspection CA 2");
        using (next)
        {
            kit.ReplaceCaFiles(certificate, key);
            await using TunnelClient after = await TunnelSignedByAsync(kit, proxy, next, kit.Ca, next);

            using var onlyNext = new X509Chain();
            onlyNext.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            onlyNext.ChainPolicy.CustomTrustStore.Add(next);
            onlyNext.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            Assert.True(onlyNext.Build(after.Presented!), "the new leaf does not chain to the new CA");
            Assert.Equal(200, (await after.GetAsync("/hello")).Status);

            // The tunnel opened before the rotation is the same TLS session, still served.
            Assert.Equal(200, (await before.GetAsync("/hello")).Status);
            Assert.Equal(204, (await before.GetAsync("/status/204")).Status);
        }
    }

    [Fact]
    public async Task A_broken_replacement_keeps_the_old_ca_and_warns_once_then_a_good_one_is_used()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        var log = new LogLines();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Squid, log);
        await using TunnelClient open = await kit.OpenAsync(proxy);

        File.WriteAllText(kit.CaPath, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        File.SetLastWriteTimeUtc(kit.CaPath, DateTime.UtcNow.AddSeconds(5));
        string warning = await WarningAsync(kit, proxy, log, l => l.Contains("cannot be loaded", StringComparison.Ordinal));
        Assert.StartsWith("Warning: ", warning);
        Assert.Contains(kit.CaPath, warning);
        Assert.Contains("keeping the previous one", warning);

        for (int i = 0; i < 3; i++)
        {
            await using TunnelClient again = await kit.OpenAsync(proxy);
            Assert.Equal(200, (await again.GetAsync("/hello")).Status);
        }

        Assert.Single(log.Lines, l => l.Contains("cannot be loaded", StringComparison.Ordinal)); // the same broken files are not retried
        Assert.Equal(200, (await open.GetAsync("/hello")).Status);

        (string certificate, string key, X509Certificate2 next) = InspectionKit.CreateCa("Sluice Test Inspection CA 2");
        using (next)
        {
            kit.ReplaceCaFiles(certificate, key, secondsLater: 10);
            await using TunnelClient fixedUp = await TunnelSignedByAsync(kit, proxy, next, kit.Ca, next);
            Assert.Equal(200, (await fixedUp.GetAsync("/hello")).Status);
        }
    }

    [Fact]
    public async Task A_replacement_that_is_not_a_ca_keeps_the_old_ca_and_warns()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        var log = new LogLines();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Squid, log);

        (string certificate, string key, X509Certificate2 leaf) = InspectionKit.CreateCa("Not A CA", isCa: false);
        leaf.Dispose();
        kit.ReplaceCaFiles(certificate, key);
        string warning = await WarningAsync(kit, proxy, log, l => l.Contains("is not a CA", StringComparison.Ordinal));
        Assert.Contains("keeping the previous one", warning);
    }

    [Fact]
    public async Task A_replaced_key_that_does_not_match_the_certificate_keeps_the_old_ca()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        var log = new LogLines();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Squid, log);

        (_, string otherKey, X509Certificate2 other) = InspectionKit.CreateCa("Other CA");
        other.Dispose();
        File.WriteAllText(kit.KeyPath, otherKey);
        File.SetLastWriteTimeUtc(kit.KeyPath, DateTime.UtcNow.AddSeconds(5));
        string warning = await WarningAsync(kit, proxy, log, l => l.Contains("cannot be loaded", StringComparison.Ordinal));
        Assert.Contains("does not match the certificate", warning);
        Assert.Contains("keeping the previous one", warning);
    }
}
