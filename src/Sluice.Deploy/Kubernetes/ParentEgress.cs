using System.Net;
using System.Net.Sockets;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The proxy's egress to the parent proxies of its upstreams. A parent given as an IP address is that address
/// (/32 or /128) on its port. A NetworkPolicy cannot name hosts, so a parent given by name gets its port on the
/// ranges the address guard lets the proxy reach (the internet and addresses.allow), which it checks again, for
/// each address the name resolves to, when it connects.
/// </summary>
internal static class ParentEgress
{
    /// <param name="guardRanges">The internet less the internal ranges, and addresses.allow.</param>
    public static void AddRules(ProxyLayout layout, YamlList egress, YamlList guardRanges)
    {
        List<ParentProxyAddress> parents = [.. layout.Config.Upstreams.SelectMany(u => u.Proxies).DistinctBy(p => p.Endpoint)];
        foreach (IGrouping<IPAddress, ParentProxyAddress> byAddress in parents.Where(p => p.Address.Address is not null).GroupBy(p => p.Address.Address!))
        {
            IPAddress address = byAddress.Key;
            string cidr = $"{address}/{(address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32)}";
            var rule = new YamlMap().Add("to", new YamlList { new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", cidr)) });
            egress.AddWithComment(NetworkPolicyPeers.WithPorts(rule, Ports(byAddress)), $"Parent proxy {string.Join(", ", byAddress.Select(p => p.Endpoint))}.");
        }

        List<ParentProxyAddress> named = [.. parents.Where(p => p.Address.Address is null)];
        if (named.Count > 0)
        {
            egress.AddWithComment(NetworkPolicyPeers.WithPorts(new YamlMap().Add("to", guardRanges), Ports(named)),
                $"Parent proxies by name ({string.Join(", ", named.Select(p => p.Endpoint))}): a NetworkPolicy cannot name hosts, so their ports are open "
                + "to the ranges the address guard allows, which checks each parent's address again when the proxy connects (a parent on a private address needs addresses.allow).");
        }
    }

    private static List<PortRange> Ports(IEnumerable<ParentProxyAddress> parents) =>
        PortRange.Merge([.. parents.Select(p => new PortRange(p.Address.Port, p.Address.Port))]);
}
