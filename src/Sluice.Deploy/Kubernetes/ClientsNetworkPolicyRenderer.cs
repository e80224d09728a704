using System.Net;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The clients' NetworkPolicy: their way out is the proxy, DNS, their own namespace and the bypass entries of the
/// configuration; every other egress of pods with these labels is dropped.
/// </summary>
internal static class ClientsNetworkPolicyRenderer
{
    public static YamlMap Render(ProxyLayout layout)
    {
        var egress = new YamlList();
        egress.AddWithComment(new YamlMap()
            .Add("to", new YamlList { new YamlMap().Add("podSelector", layout.ProxyPods()) })
            .Add("ports", NetworkPolicyPeers.ListenerPorts(layout)), "The proxy's pods on its listener ports.");
        egress.AddWithComment(NetworkPolicyPeers.Dns(), "DNS: kube-dns in kube-system, UDP and TCP.");
        egress.AddWithComment(new YamlMap().Add("to", new YamlList { new YamlMap().Add("podSelector", new YamlMap()) }),
            "Pods in this namespace.");
        foreach (BypassConfig bypass in layout.Config.Bypass)
        {
            var to = new YamlList();
            foreach (IPNetwork cidr in bypass.Cidrs)
            {
                to.Add(new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", cidr.ToString())));
            }

            var ports = new YamlList();
            foreach (PortRange range in bypass.Ports)
            {
                ports.Add(NetworkPolicyPeers.PolicyPort(range));
            }

            egress.AddWithComment(new YamlMap().Add("to", to).Add("ports", ports), $"bypass {bypass.Name} (line {bypass.Line}): direct, not through the proxy.");
        }

        return new YamlMap()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", layout.Metadata($"{layout.Name}-clients"))
            .Add("spec", new YamlMap()
                .Add("podSelector", layout.ClientPods())
                .Add("policyTypes", new YamlList { "Egress" })
                .Add("egress", egress));
    }
}
