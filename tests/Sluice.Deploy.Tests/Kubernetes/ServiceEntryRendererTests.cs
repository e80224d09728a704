using Sluice.Deploy.Kubernetes;

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
}
