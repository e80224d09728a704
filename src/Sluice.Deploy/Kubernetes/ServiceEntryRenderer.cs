using Sluice.Deploy.Yaml;

namespace Sluice.Deploy.Kubernetes;

/// <summary>Istio's ServiceEntry: mesh workloads reach the proxy as a plain TCP service inside the mesh.</summary>
internal static class ServiceEntryRenderer
{
    public static YamlMap Render(ProxyLayout layout)
    {
        var ports = new YamlList();
        foreach (ListenerPort l in layout.Listeners)
        {
            ports.Add(new YamlMap().Add("number", l.Port).Add("name", l.ServicePortName).Add("protocol", "TCP"));
        }

        return new YamlMap()
            .Add("apiVersion", "networking.istio.io/v1", "networking.istio.io/v1beta1 before Istio 1.22.")
            .Add("kind", "ServiceEntry")
            .Add("metadata", layout.Metadata($"{layout.Name}-proxy"))
            .Add("spec", new YamlMap()
                .Add("hosts", new YamlList { layout.ServiceHost }, "The Service's name; with another cluster domain than cluster.local, change it.")
                .Add("location", "MESH_INTERNAL")
                .Add("resolution", "DNS")
                .Add("ports", ports));
    }
}
