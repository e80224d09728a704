using Sluice.Deploy.Yaml;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Kubernetes;

/// <summary>The pieces both NetworkPolicies are made of: DNS, the listener ports, port ranges.</summary>
internal static class NetworkPolicyPeers
{
    /// <summary>kube-dns in kube-system, UDP and TCP.</summary>
    public static YamlMap Dns() => new YamlMap()
        .Add("to", new YamlList
        {
            new YamlMap()
                .Add("namespaceSelector", new YamlMap().Add("matchLabels", new YamlMap().Add("kubernetes.io/metadata.name", "kube-system")))
                .Add("podSelector", new YamlMap().Add("matchLabels", new YamlMap().Add("k8s-app", "kube-dns"))),
        })
        .Add("ports", new YamlList
        {
            new YamlMap().Add("protocol", "UDP").Add("port", 53),
            new YamlMap().Add("protocol", "TCP").Add("port", 53),
        });

    public static YamlList ListenerPorts(ProxyLayout layout)
    {
        var ports = new YamlList();
        foreach (ListenerPort l in layout.Listeners)
        {
            ports.Add(new YamlMap().Add("protocol", "TCP").Add("port", l.Port));
        }

        return ports;
    }

    public static YamlMap PolicyPort(PortRange range)
    {
        var port = new YamlMap().Add("protocol", "TCP").Add("port", range.First);
        return range.Last > range.First ? port.Add("endPort", range.Last) : port;
    }

    /// <summary>The rule with these ports; without a ports key (every port) when null.</summary>
    public static YamlMap WithPorts(YamlMap rule, List<PortRange>? ports)
    {
        if (ports is null)
        {
            return rule;
        }

        var list = new YamlList();
        foreach (PortRange range in ports)
        {
            list.Add(PolicyPort(range));
        }

        return rule.Add("ports", list);
    }
}
