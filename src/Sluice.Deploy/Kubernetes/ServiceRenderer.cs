using Sluice.Deploy.Yaml;

namespace Sluice.Deploy.Kubernetes;

/// <summary>The Service clients name as their proxy: one TCP port per listener port.</summary>
internal static class ServiceRenderer
{
    public static YamlMap Render(ProxyLayout layout)
    {
        var ports = new YamlList();
        foreach (ListenerPort l in layout.Listeners)
        {
            ports.Add(new YamlMap()
                .Add("name", l.ServicePortName)
                .Add("port", l.Port)
                .Add("targetPort", l.Port)
                .Add("protocol", "TCP")
                .Add("appProtocol", "tcp", "tcp: a mesh must not parse CONNECT as HTTP; the proxy is a TCP service to it."));
        }

        return new YamlMap()
            .Add("apiVersion", "v1")
            .Add("kind", "Service")
            .Add("metadata", layout.Metadata(layout.Name))
            .Add("spec", new YamlMap()
                .Add("type", "ClusterIP")
                .Add("selector", ProxyLayout.Map(layout.SelectorLabels))
                .Add("ports", ports));
    }
}
