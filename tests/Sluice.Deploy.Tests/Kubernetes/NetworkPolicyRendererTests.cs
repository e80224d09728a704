using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// The two NetworkPolicies: the clients reach only the proxy, DNS, their namespace and the bypasses; the proxy
/// reaches the internet on the ports its allow rules name, never cluster-internal ranges unless addresses.allow says so.
/// </summary>
public sealed class NetworkPolicyRendererTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string yaml)
    {
        string path = Path.Combine(_dir, "sluice.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static V1NetworkPolicy Proxy(string path) => Manifests.Read<V1NetworkPolicy>(ProxyNetworkPolicyRenderer.Render(Manifests.Layout(path)));

    [Fact]
    public void The_clients_policy_allows_exactly_the_proxy_dns_the_namespace_and_the_bypasses()
    {
        SluiceConfig config = ConfigLoader.LoadFile(Manifests.ExamplePath("vendor-allowlist"));
        Assert.Equal(3, config.Bypass.Length);
        ProxyLayout layout = Manifests.Layout(Manifests.ExamplePath("vendor-allowlist"), selector: "app=carto,tier=backend");
        V1NetworkPolicy clients = Manifests.Read<V1NetworkPolicy>(ClientsNetworkPolicyRenderer.Render(layout));
        Assert.Equal("egress-vendor-clients", clients.Metadata.Name);
        Assert.Equal(new Dictionary<string, string> { ["app"] = "carto", ["tier"] = "backend" }, clients.Spec.PodSelector.MatchLabels);
        Assert.Equal(["Egress"], clients.Spec.PolicyTypes);
        IList<V1NetworkPolicyEgressRule> egress = clients.Spec.Egress;
        Assert.Equal(3 + config.Bypass.Length, egress.Count);

        Assert.Equal(layout.SelectorLabels, Assert.Single(egress[0].To).PodSelector.MatchLabels);
        Assert.Equal([3128], egress[0].Ports.Select(p => int.Parse(p.Port.Value)));

        V1NetworkPolicyPeer dns = Assert.Single(egress[1].To);
        Assert.Equal("kube-system", dns.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Equal("kube-dns", dns.PodSelector.MatchLabels["k8s-app"]);
        Assert.Equal(["UDP/53", "TCP/53"], egress[1].Ports.Select(p => $"{p.Protocol}/{p.Port.Value}"));

        V1NetworkPolicyPeer sameNamespace = Assert.Single(egress[2].To);
        Assert.Null(sameNamespace.NamespaceSelector);
        Assert.Null(sameNamespace.IpBlock);
        Assert.True(sameNamespace.PodSelector.MatchLabels is null or { Count: 0 });

        for (int i = 0; i < config.Bypass.Length; i++)
        {
            V1NetworkPolicyEgressRule rule = egress[3 + i];
            Assert.Equal(config.Bypass[i].Cidrs.Select(c => c.ToString()), rule.To.Select(t => t.IpBlock.Cidr));
            Assert.All(rule.To, t => Assert.Null(t.IpBlock.Except));
            Assert.Equal(config.Bypass[i].Ports.Select(p => p.First), rule.Ports.Select(p => int.Parse(p.Port.Value)));
            Assert.All(rule.Ports, p => Assert.Equal("TCP", p.Protocol));
        }
    }

    [Fact]
    public void A_bypass_port_range_has_an_end_port()
    {
        string path = Write("bypass:\n  - { name: db, cidrs: [\"10.0.5.0/24\"], ports: [\"5432-5439\"] }\n");
        V1NetworkPolicy clients = Manifests.Read<V1NetworkPolicy>(ClientsNetworkPolicyRenderer.Render(Manifests.Layout(path)));
        V1NetworkPolicyPort port = Assert.Single(clients.Spec.Egress[3].Ports);
        Assert.Equal(("5432", 5439), (port.Port.Value, port.EndPort));
    }

    [Fact]
    public void The_proxy_policy_admits_clients_and_reaches_the_internet_on_the_allowed_ports_only()
    {
        V1NetworkPolicy proxy = Proxy(Manifests.ExamplePath("data-platform"));
        Assert.Equal(["Ingress", "Egress"], proxy.Spec.PolicyTypes);
        Assert.Equal("true", Assert.Single(proxy.Spec.Ingress[0].FromProperty).PodSelector.MatchLabels["egress.sluice.io/client"]);
        Assert.Equal([3128], proxy.Spec.Ingress[0].Ports.Select(p => int.Parse(p.Port.Value)));
        Assert.Equal([9090], proxy.Spec.Ingress[1].Ports.Select(p => int.Parse(p.Port.Value)));

        V1NetworkPolicyEgressRule internet = proxy.Spec.Egress[1];
        V1IPBlock v4 = internet.To[0].IpBlock;
        V1IPBlock v6 = internet.To[1].IpBlock;
        Assert.Equal("0.0.0.0/0", v4.Cidr);
        Assert.Equal(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"], v4.Except);
        Assert.Equal("::/0", v6.Cidr);
        Assert.Contains("fe80::/10", v6.Except);
        // object-storage 443, partner-ftp 21 and 1024-65535, on-prem-metadata 10.1.2.3:8443 (inside the range).
        Assert.Equal(["21", "443", "1024-65535"], internet.Ports.Select(p => p.EndPort is null ? p.Port.Value : $"{p.Port.Value}-{p.EndPort}"));
        // addresses.allow: its own rule, since an except list cannot have holes.
        Assert.Equal("10.1.2.3/32", Assert.Single(proxy.Spec.Egress[2].To).IpBlock.Cidr);
    }

    [Fact]
    public void An_allow_rule_without_ports_opens_every_port()
    {
        V1NetworkPolicy open = Proxy(Write("listeners: [{ address: 0.0.0.0:3128 }]\nrules:\n  - { name: any, action: allow, destinations: [\".example.com\"] }\naddresses: { deny: [\"198.51.100.0/24\"] }\n"));
        Assert.Null(open.Spec.Egress[1].Ports);
        Assert.Contains("198.51.100.0/24", open.Spec.Egress[1].To[0].IpBlock.Except);
    }

    [Theory]
    [InlineData("", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16", "fc00::/7,fe80::/10")]
    [InlineData("allow: [\"10.0.0.0/8\"]", "172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16", "fc00::/7,fe80::/10")]
    [InlineData("allow: [\"10.1.0.0/16\"]", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16", "fc00::/7,fe80::/10")]
    [InlineData("allow: [\"fc00::/7\"]", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16", "fe80::/10")]
    [InlineData("deny: [\"198.51.100.0/24\", \"2001:db8::/32\"]", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,198.51.100.0/24", "fc00::/7,fe80::/10,2001:db8::/32")]
    [InlineData("deny: [\"10.9.0.0/16\", \"0.0.0.0/0\"]", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16", "fc00::/7,fe80::/10")]
    [InlineData("allow: [\"10.0.0.0/8\"]\n  deny: [\"10.9.0.0/16\"]", "172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,10.9.0.0/16", "fc00::/7,fe80::/10")]
    public void The_internet_excludes_internal_ranges_less_what_addresses_allow_covers_plus_what_they_deny(string addresses, string exceptV4, string exceptV6)
    {
        V1NetworkPolicy proxy = Proxy(Write($"listeners: [{{ address: 0.0.0.0:3128 }}]\nrules: [{{ name: web, action: allow, ports: [443] }}]\naddresses:\n  {(addresses.Length == 0 ? "allow: []" : addresses)}\n"));
        Assert.Equal(exceptV4, string.Join(",", proxy.Spec.Egress[1].To[0].IpBlock.Except));
        Assert.Equal(exceptV6, string.Join(",", proxy.Spec.Egress[1].To[1].IpBlock.Except));
    }

    [Theory]
    [InlineData("default: allow\nrules:\n  - { name: a, action: allow, ports: [443] }", null)]
    [InlineData("rules:\n  - { name: a, action: allow, ports: [443] }\n  - { name: b, action: allow, ports: [80, 444-500] }", "80,443-500")]
    [InlineData("rules:\n  - { name: a, action: allow, destinations: [\"a.example:8443\", \"10.1.2.3:22\"] }", "22,8443")]
    [InlineData("rules:\n  - { name: a, action: allow, destinations: [\"a.example:8443\", \"b.example\"] }", null)]
    [InlineData("rules:\n  - { name: d, action: deny, destinations: [\"a.example\"] }\n  - { name: a, action: allow, ports: [443] }", "443")]
    [InlineData("rules:\n  - { name: d, action: deny, ports: [22] }", "")]
    // What the proxy lets through, report mode included: a report rule's would-denies go by route.default like an
    // allow rule's requests; under mode: report every deny does, as under default: allow.
    [InlineData("rules:\n  - { name: r, action: report, ports: [22] }\n  - { name: a, action: allow, ports: [443] }", "22,443")]
    [InlineData("rules:\n  - { name: r, action: report, destinations: [\"a.example:8080\"] }", "8080")]
    [InlineData("rules:\n  - { name: r, action: report, destinations: [\"a.example\"] }\n  - { name: a, action: allow, ports: [443] }", null)]
    [InlineData("mode: report\nrules:\n  - { name: d, action: deny, ports: [22] }\n  - { name: a, action: allow, ports: [443] }", null)]
    [InlineData("mode: report\nrules:\n  - { name: a, action: allow, ports: [443] }", null)]
    [InlineData("mode: enforce\nrules:\n  - { name: d, action: deny, ports: [22] }\n  - { name: a, action: allow, ports: [443] }", "443")]
    public void The_allowed_ports_are_those_every_allow_rule_names(string rules, string? expected)
    {
        SluiceConfig config = ConfigLoader.LoadFile(Write($"listeners: [{{ address: 0.0.0.0:3128 }}]\nreload: {{ allowNoRules: true }}\n{rules}\n"));
        List<PortRange>? ports = ProxyNetworkPolicyRenderer.AllowedPorts(config);
        Assert.Equal(expected, ports is null ? null : string.Join(",", ports));
    }

    [Fact]
    public void Mode_report_renders_the_egress_of_default_allow_and_says_why()
    {
        const string rules = "rules:\n  - { name: d, action: deny, destinations: [\".svc.cluster.local\"] }\n  - { name: a, action: allow, ports: [443] }\ndefault: deny\n";
        string enforce = Write($"listeners: [{{ address: 0.0.0.0:3128 }}]\n{rules}");
        V1NetworkPolicy enforced = Proxy(enforce);
        Assert.Equal(["443"], enforced.Spec.Egress[1].Ports.Select(p => p.Port.Value));

        string allowAll = Write($"listeners: [{{ address: 0.0.0.0:3128 }}]\n{rules.Replace("default: deny", "default: allow", StringComparison.Ordinal)}");
        V1NetworkPolicy byDefault = Proxy(allowAll);
        string report = Write($"listeners: [{{ address: 0.0.0.0:3128 }}]\nmode: report\n{rules}");
        V1NetworkPolicy reported = Proxy(report);
        Assert.Null(reported.Spec.Egress[1].Ports); // every port, as default: allow renders it
        Assert.Equal(byDefault.Spec.Egress.Select(e => string.Join(";", e.To.Select(t => $"{t.IpBlock?.Cidr}-{string.Join(",", t.IpBlock?.Except ?? [])}"))),
            reported.Spec.Egress.Select(e => string.Join(";", e.To.Select(t => $"{t.IpBlock?.Cidr}-{string.Join(",", t.IpBlock?.Except ?? [])}"))));
        Assert.Contains("mode: report lets every deny through", YamlWriter.Write(ProxyNetworkPolicyRenderer.Render(Manifests.Layout(report)), []), StringComparison.Ordinal);
        string manifests = Manifests.Render(report);
        Assert.Contains("# mode: report: every deny lets its request through (a would-deny), so the egress is what default: allow would", manifests, StringComparison.Ordinal);
        string enforceAgain = Write($"listeners: [{{ address: 0.0.0.0:3128 }}]\n{rules}"); // Write reuses one path
        Assert.DoesNotContain("every deny lets its request through", Manifests.Render(enforceAgain), StringComparison.Ordinal);
    }

    [Fact]
    public void A_report_rule_opens_its_ports_with_a_note_unless_route_default_is_a_parent()
    {
        string path = Write("listeners: [{ address: 0.0.0.0:3128 }]\nrules:\n  - { name: trial-ssh, action: report, ports: [22] }\n  - { name: web, action: allow, ports: [443] }\n");
        Assert.Equal(["22", "443"], Proxy(path).Spec.Egress[1].Ports.Select(p => p.Port.Value));
        string rendered = Manifests.Render(path);
        Assert.Contains("# Report rules (trial-ssh) let their would-denies through by route.default: their ports are open", rendered, StringComparison.Ordinal);
        Assert.Contains("those of the report rules", rendered, StringComparison.Ordinal);

        string viaParent = Write("listeners: [{ address: 0.0.0.0:3128 }]\nupstreams:\n  - { name: corp, proxies: [\"http://203.0.113.7:3128\"] }\nroute: { default: corp }\n"
            + "rules:\n  - { name: trial-ssh, action: report, ports: [22] }\n  - { name: web, action: allow, ports: [443], via: direct }\n");
        Assert.Equal("443", string.Join(",", ProxyNetworkPolicyRenderer.AllowedPorts(ConfigLoader.LoadFile(viaParent))!));
        Assert.DoesNotContain("Report rules", Manifests.Render(viaParent), StringComparison.Ordinal);
    }
}
