using System.Net;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Inspection;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Inspection;

namespace Sluice.Proxy.Tests.InspectionAttacks;

/// <summary>The leaf cache under many hosts, reloads and CA rotation under open tunnels, and the CA key kept secret.</summary>
public sealed class AuthorityAttacks
{
    private static LeafCertificates Leaves(TestProxy proxy) =>
        (LeafCertificates)typeof(ProxyServer).GetField("_leaves", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(proxy.Server)!;

    [Fact]
    public async Task The_leaf_cache_stays_within_its_capacity_and_one_host_is_minted_once_under_concurrency()
    {
        var leaves = new LeafCertificates(capacity: 8);
        (_, _, X509Certificate2 caPublic) = InspectionKit.CreateCa("Bound CA");
        (string certPem, string keyPem, _) = InspectionKit.CreateCa("Bound CA 2");
        using X509Certificate2 ca = X509Certificate2.CreateFromPem(certPem, keyPem);
        caPublic.Dispose();

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => leaves.ForAsync(ca, $"h{i}.bound.test", null)));
        Assert.True(leaves.Count <= 8, $"{leaves.Count} leaves kept with a capacity of 8");
        Assert.Equal(50, leaves.Mints);

        long before = leaves.Mints;
        await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(() => leaves.ForAsync(ca, "same.bound.test", null))));
        Assert.Equal(before + 1, leaves.Mints);
        Assert.True(leaves.Count <= 8);
    }

    [Fact]
    public async Task Many_concurrent_inspected_tunnels_to_distinct_hosts_each_get_their_own_leaf_and_all_complete()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        using X509Certificate2 wildcard = certs.Leaf("CN=*.many.test", ["*.many.test"]);
        await using var origin = new TlsOrigin(OriginCerts.Context(wildcard), TlsOrigin.Echo);
        var rule = new Rule { Name = "many", Action = RuleAction.Allow, Destinations = [InspectionKit.Pattern(".many.test")], Tls = TlsMode.Inspect };
        await using TestProxy proxy = await kit.ProxyAsync(rule);
        const int hosts = 24;
        for (int i = 0; i < hosts; i++)
        {
            proxy.Resolver.Map($"h{i}.many.test", IPAddress.Loopback);
        }

        string[] answers = await Task.WhenAll(Enumerable.Range(0, hosts).Select(async i =>
        {
            string authority = $"h{i}.many.test:{origin.Port}";
            using InsideClient inside = await InsideClient.OpenAsync(proxy, authority, kit.Ca);
            Assert.True(inside.Leaf!.MatchesHostname($"h{i}.many.test"));
            await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\n\r\n");
            (_, string body) = await inside.ReadResponseAsync();
            return body;
        }));

        Assert.All(answers, a => Assert.Equal("origin saw GET /hello HTTP/1.1", a));
        LeafCertificates leaves = Leaves(proxy);
        Assert.Equal(hosts, leaves.Mints);
        Assert.True(leaves.Count <= hosts);
    }

    [Fact]
    public async Task A_reload_that_removes_the_inspect_rule_leaves_the_open_tunnel_on_its_snapshot_and_refuses_new_CONNECTs()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        string authority = $"{InspectionKit.OriginName}:{kit.Origin.Port}";
        using InsideClient open = await InsideClient.OpenAsync(proxy, authority, kit.Ca);

        SluiceConfig without = proxy.Server.CurrentConfig with { Rules = [] };
        SluiceConfig with = proxy.Server.CurrentConfig;
        for (int i = 0; i < 20; i++)
        {
            proxy.Server.Reload(i % 2 == 0 ? without : with); // a storm, ending without the rule
            await open.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\n\r\n");
            (string? head, _) = await open.ReadResponseAsync();
            Assert.StartsWith("HTTP/1.1 200", head);
        }

        proxy.Server.Reload(without);
        await open.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", (await open.ReadResponseAsync()).Head);
        await open.SendAsync($"GET /headers HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", (await open.ReadResponseAsync()).Head); // the snapshot's paths still apply

        (string fresh, RawClient raw) = await InsideClient.ConnectAsync(proxy, authority);
        raw.Dispose();
        Assert.StartsWith("HTTP/1.1 403", fresh);
    }

    private static async Task<(TestProxy Proxy, LogLines Log)> ProxyWithLogAsync(InspectionKit kit, Func<SluiceConfig, SluiceConfig>? more = null)
    {
        var log = new LogLines();
        TestProxy proxy = await TestProxy.StartAsync(c => (more ?? (x => x))(c with { Inspection = kit.Inspection(), Rules = [InspectionKit.Inspect()], Default = RuleAction.Deny }), log: log);
        proxy.Resolver.Map(InspectionKit.OriginName, IPAddress.Loopback);
        return (proxy, log);
    }

    [Fact]
    public async Task A_broken_CA_file_during_rotation_keeps_the_old_CA_and_a_good_pair_rotates_new_tunnels_only()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        (TestProxy proxy, LogLines log) = await ProxyWithLogAsync(kit);
        await using (proxy)
        {
            string authority = $"{InspectionKit.OriginName}:{kit.Origin.Port}";
            using InsideClient before = await InsideClient.OpenAsync(proxy, authority, kit.Ca);
            string oldKey = File.ReadAllText(kit.KeyPath);

            // half a rotation: a new certificate whose key is not there yet, then garbage
            (string newCert, string newKey, X509Certificate2 newCa) = InspectionKit.CreateCa("Rotated Inspection CA");
            using (newCa)
            {
                File.WriteAllText(kit.CaPath, newCert);
                await Task.Delay(1200); // past the proxy's once-a-second look at the files
                using (InsideClient during = await InsideClient.OpenAsync(proxy, authority, kit.Ca))
                {
                    Assert.Equal(kit.Ca.Subject, during.Leaf!.Issuer);
                }

                File.WriteAllText(kit.CaPath, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
                await Task.Delay(1200);
                using (InsideClient broken = await InsideClient.OpenAsync(proxy, authority, kit.Ca))
                {
                    Assert.Equal(kit.Ca.Subject, broken.Leaf!.Issuer);
                }

                // the whole new pair
                File.WriteAllText(kit.KeyPath, newKey);
                File.WriteAllText(kit.CaPath, newCert);
                await Task.Delay(1200);
                using (InsideClient after = await InsideClient.OpenAsync(proxy, authority, newCa))
                {
                    Assert.Equal(newCa.Subject, after.Leaf!.Issuer);
                    await after.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\n\r\n");
                    Assert.StartsWith("HTTP/1.1 200", (await after.ReadResponseAsync()).Head);
                }

                // the tunnel opened before the rotation goes on with its leaf
                await before.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\n\r\n");
                Assert.StartsWith("HTTP/1.1 200", (await before.ReadResponseAsync()).Head);
            }

            Assert.Contains(log.Lines, l => l.Contains("cannot be loaded", StringComparison.Ordinal));
            SecretScan.AssertAbsent(oldKey, log.Lines.Concat(proxy.AccessLog.Lines));
        }
    }

    [Fact]
    public async Task The_CA_key_appears_in_no_log_line_error_body_Proxy_Status_metrics_or_admin_API()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        string key = File.ReadAllText(kit.KeyPath);
        (TestProxy proxy, LogLines log) = await ProxyWithLogAsync(kit, c => c with { Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } });
        var seen = new List<string>();
        await using (proxy)
        {
            string authority = $"{InspectionKit.OriginName}:{kit.Origin.Port}";
            // a good tunnel, refusals inside, a refused CONNECT, an origin with a bad certificate, a broken TLS client
            using (InsideClient inside = await InsideClient.OpenAsync(proxy, authority, kit.Ca))
            {
                await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\n\r\n");
                (string? h1, string b1) = await inside.ReadResponseAsync();
                await inside.SendAsync($"GET /hello HTTP/1.1\r\nHost: other.test\r\n\r\n");
                (string? h2, string b2) = await inside.ReadResponseAsync();
                await inside.SendAsync($"GET /%00 HTTP/1.1\r\nHost: {authority}\r\n\r\n");
                (string? h3, string b3) = await inside.ReadResponseAsync();
                seen.AddRange([h1 ?? "", b1, h2 ?? "", b2, h3 ?? "", b3]);
            }

            (string refused, RawClient r1) = await InsideClient.ConnectAsync(proxy, "denied.test:443");
            r1.Dispose();
            seen.Add(refused);
            await using var selfSigned = await TestOrigin.StartAsync(tls: true);
            (string badCert, RawClient r2) = await InsideClient.ConnectAsync(proxy, $"{InspectionKit.OriginName}:{selfSigned.Port}");
            r2.Dispose();
            seen.Add(badCert);
            (string untrusting, RawClient r3) = await InsideClient.ConnectAsync(proxy, authority);
            using (r3)
            {
                seen.Add(untrusting);
                await r3.SendAsync("\x16\x03\x01\x00\x05hello");
                seen.Add(System.Text.Encoding.Latin1.GetString(await r3.ReadToEndAsync()));
            }

            // a CA that breaks: the warning names the file, not its contents
            File.WriteAllText(kit.CaPath, "garbage " + key);
            await Task.Delay(1200);
            using (InsideClient again = await InsideClient.OpenAsync(proxy, authority, kit.Ca))
            {
            }

            using var admin = new HttpClient { BaseAddress = new Uri($"http://{proxy.Server.AdminEndpoint}") };
            foreach (string path in new[] { "/metrics", "/api/connections", "/api/stats", "/api/upstreams", "/healthz", "/readyz", "/" })
            {
                HttpResponseMessage response = await admin.GetAsync(path);
                seen.Add(await response.Content.ReadAsStringAsync());
            }

            await proxy.StopAsync();
        }

        Assert.Contains(seen, s => s.Contains("sluice_inspection_leaves_minted_total", StringComparison.Ordinal));
        SecretScan.AssertAbsent(key, seen.Concat(log.Lines).Concat(proxy.AccessLog.Lines));
    }
}

/// <summary>Looks for a PEM private key, whole or in pieces, in what the proxy wrote.</summary>
public static class SecretScan
{
    public static void AssertAbsent(string keyPem, IEnumerable<string> texts)
    {
        string body = string.Concat(keyPem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)).Select(l => l.Trim()));
        var chunks = new List<string>();
        for (int i = 0; i + 16 <= body.Length; i += 8)
        {
            chunks.Add(body.Substring(i, 16));
        }

        byte[] der = Convert.FromBase64String(body);
        string hex = Convert.ToHexString(der.AsSpan(der.Length - 32)); // the tail of the key's DER holds the private scalar's neighbourhood
        foreach (string text in texts)
        {
            Assert.DoesNotContain("PRIVATE KEY", text);
            Assert.DoesNotContain(hex, text, StringComparison.OrdinalIgnoreCase);
            foreach (string chunk in chunks)
            {
                Assert.DoesNotContain(chunk, text);
            }
        }
    }
}
