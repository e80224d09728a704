using Sluice.Deploy.Kubernetes;
using Sluice.Deploy.Yaml;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>Istio's ServiceEntry: the proxy Service as a TCP service inside the mesh.</summary>
public sealed class ServiceEntryRendererTests
{
    [Fact]
    public void Istio_gets_a_tcp_service_entry_for_the_proxy_service()
    {
        IstioServiceEntry entry = Manifests.Read<IstioServiceEntry>(ServiceEntryRenderer.Render(Manifests.Layout(Manifests.ExamplePath("mesh-egress"), istio: true)));
        Assert.Equal("networking.istio.io/v1", entry.ApiVersion);
        Assert.Equal("egress-mesh-proxy", entry.Metadata.Name);
        Assert.Equal(["egress-mesh.egress.svc.cluster.local"], entry.Spec.Hosts);
        Assert.Equal("MESH_INTERNAL", entry.Spec.Location);
        Assert.Equal("DNS", entry.Spec.Resolution);
        Assert.Equal([(3128, "TCP", "tcp-proxy-3128")], entry.Spec.Ports.Select(p => (p.Number, p.Protocol, p.Name)));
    }

    [Fact]
    public void Every_listener_port_is_a_port_of_the_entry()
    {
        using var folder = new TlsAndUsersConfig();
        IstioServiceEntry entry = Manifests.Read<IstioServiceEntry>(ServiceEntryRenderer.Render(Manifests.Layout(folder.Path, istio: true)));
        Assert.Equal([80, 3129], entry.Spec.Ports.Select(p => p.Number));
        Assert.Equal(["corp-egress.egress.svc.cluster.local"], entry.Spec.Hosts);
    }

    [Fact]
    public void Report_mode_changes_nothing_in_the_entry_the_mesh_only_sees_the_proxy()
    {
        // The mesh sees connections to the proxy, never to the destinations behind it: whatever report mode lets
        // through leaves through the proxy pods' egress (their NetworkPolicy), not through this entry.
        string dir = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;
        try
        {
            const string rules = "listeners: [{ address: 0.0.0.0:3128 }]\nrules:\n  - { name: trial, action: report, ports: [22] }\n  - { name: web, action: allow, ports: [443] }\n";
            string enforce = Path.Combine(dir, "enforce.yaml");
            string report = Path.Combine(dir, "report.yaml");
            File.WriteAllText(enforce, rules);
            File.WriteAllText(report, "mode: report\n" + rules);
            Assert.Equal(YamlWriter.Write(ServiceEntryRenderer.Render(Manifests.Layout(enforce, istio: true)), []),
                YamlWriter.Write(ServiceEntryRenderer.Render(Manifests.Layout(report, istio: true)), []));
            Assert.Contains("Destinations behind the proxy need no ServiceEntry of their own", Manifests.Render(report, istio: true), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
