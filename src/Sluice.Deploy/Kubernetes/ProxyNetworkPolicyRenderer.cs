using System.Net;
using System.Net.Sockets;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Addresses;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The proxy's NetworkPolicy: reached by the clients on the listener ports (and by the namespace on the admin port);
/// it reaches DNS, the internet on the ports of the rules that go direct, never cluster-internal or metadata ranges
/// unless addresses.allow lists them, and the parent proxies of its upstreams.
/// </summary>
internal static class ProxyNetworkPolicyRenderer
{
    // Cluster-internal, cloud-metadata and link-local ranges the proxy pods may not reach unless addresses.allow says so.
    private static readonly string[] InternalV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"];
    private static readonly string[] InternalV6 = ["fc00::/7", "fe80::/10"];

    public static YamlMap Render(ProxyLayout layout)
    {
        var ingress = new YamlList();
        ingress.AddWithComment(new YamlMap()
            .Add("from", new YamlList { new YamlMap().Add("podSelector", layout.ClientPods()) })
            .Add("ports", NetworkPolicyPeers.ListenerPorts(layout)), "The clients, on the listener ports.");
        ingress.AddWithComment(new YamlMap()
            .Add("from", new YamlList { new YamlMap().Add("podSelector", new YamlMap()) })
            .Add("ports", new YamlList { new YamlMap().Add("protocol", "TCP").Add("port", layout.AdminPort) }),
            "The admin endpoint (metrics, status page) from this namespace only: it shows who goes where. A Prometheus in another namespace needs a rule of its own; the kubelet's probes come from the node and are not subject to this policy in common network plugins.");

        List<PortRange>? allowed = AllowedPorts(layout.Config);
        var egress = new YamlList();
        egress.AddWithComment(NetworkPolicyPeers.Dns(), "DNS: kube-dns in kube-system, UDP and TCP.");
        if (allowed is not { Count: 0 })
        {
            // An empty ports list would mean every port: with no direct allow rule there is no direct egress at all.
            bool reporting = layout.Config.Mode == PolicyMode.Report;
            bool trials = layout.Config.Rules.Any(r => r.Action == RuleAction.Report);
            egress.AddWithComment(NetworkPolicyPeers.WithPorts(new YamlMap().Add("to", Internet(layout)), allowed), allowed is null
                ? reporting && layout.Config.Default == RuleAction.Deny
                    ? "The internet, every port, except cluster-internal and metadata ranges: mode: report lets every deny through (by route.default), as default: allow would; with mode: enforce, render again to narrow it to the allow rules' ports."
                    : $"The internet, every port (an allow {(trials ? "or report " : "")}rule or the default names no ports), except cluster-internal and metadata ranges."
                : trials
                    ? "The internet on the ports the allow rules name and those of the report rules (their would-denies go through, by route.default), except cluster-internal and metadata ranges."
                    : "The internet on the ports the allow rules name, except cluster-internal and metadata ranges.");
            if (!layout.Config.Addresses.Allow.IsEmpty)
            {
                egress.AddWithComment(NetworkPolicyPeers.WithPorts(new YamlMap().Add("to", AddressesAllow(layout)), allowed), "addresses.allow: non-public ranges the configuration lets the proxy reach.");
            }
        }

        ParentEgress.AddRules(layout, egress, [.. Internet(layout), .. AddressesAllow(layout)]);
        return new YamlMap()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", layout.Metadata($"{layout.Name}-proxy"))
            .Add("spec", new YamlMap()
                .Add("podSelector", layout.ProxyPods())
                .Add("policyTypes", new YamlList { "Ingress", "Egress" })
                .Add("ingress", ingress)
                .Add("egress", egress));
    }

    /// <summary>Every address but the cluster-internal and metadata ranges (less addresses.allow, plus addresses.deny).</summary>
    private static YamlList Internet(ProxyLayout layout) =>
    [
        new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", "0.0.0.0/0").Add("except", Except(layout.Config.Addresses, InternalV4, AddressFamily.InterNetwork))),
        new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", "::/0").Add("except", Except(layout.Config.Addresses, InternalV6, AddressFamily.InterNetworkV6))),
    ];

    private static YamlList AddressesAllow(ProxyLayout layout) => [.. layout.Config.Addresses.Allow.Select(n => new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", n.ToString())))];

    /// <summary>The internal ranges, less those addresses.allow covers whole, plus the public parts of addresses.deny.</summary>
    private static YamlList Except(AddressesConfig addresses, string[] internalRanges, AddressFamily family)
    {
        var except = new YamlList();
        foreach (string text in internalRanges)
        {
            IPNetwork range = IPNetwork.Parse(text);
            if (!addresses.Allow.Any(a => Networks.Contains(a, range)))
            {
                except.Add(text);
            }
        }

        foreach (IPNetwork deny in addresses.Deny.Where(d => d.BaseAddress.AddressFamily == family && d.PrefixLength > 0))
        {
            bool covered = internalRanges.Select(IPNetwork.Parse).Any(r => Networks.Contains(r, deny) && except.Contains(r.ToString()));
            if (!covered && !except.Contains(deny.ToString()))
            {
                except.Add(deny.ToString());
            }
        }

        return except;
    }

    /// <summary>
    /// The destination ports the proxy connects to directly, merged; null when that is every port. Requests that
    /// leave through an upstream (their rule's via, or route.default) reach only the parent proxies' ports. What the
    /// proxy lets through decides, not what the rules say they enforce: a report rule's would-denies go by route.default
    /// like an allow rule's requests, and under <c>mode: report</c> every deny does, as with <c>default: allow</c>.
    /// </summary>
    public static List<PortRange>? AllowedPorts(SluiceConfig config)
    {
        bool Direct(string? via) => (via ?? config.Route.Default) == RouteConfig.Direct;
        if ((config.Default == RuleAction.Allow || config.Mode == PolicyMode.Report) && Direct(null))
        {
            return null;
        }

        var ranges = new List<PortRange>();
        foreach (Rule rule in config.Rules.Where(r => r.Action is RuleAction.Allow or RuleAction.Report && Direct(r.Via)))
        {
            if (!rule.Ports.IsEmpty)
            {
                ranges.AddRange(rule.Ports);
            }
            else if (!rule.Destinations.IsEmpty && rule.Destinations.All(d => d.Port is not null))
            {
                ranges.AddRange(rule.Destinations.Select(d => new PortRange(d.Port!.Value, d.Port.Value)));
            }
            else
            {
                return null;
            }
        }

        return PortRange.Merge(ranges);
    }
}
