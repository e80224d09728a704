using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>The Service clients name as their proxy.</summary>
public sealed class ServiceRendererTests
{
    public static TheoryData<string> Examples => Manifests.Examples;

    [Theory]
    [MemberData(nameof(Examples))]
    public void One_tcp_port_per_listener_port_selecting_the_proxy_pods(string example)
    {
        SluiceConfig config = ConfigLoader.LoadFile(Manifests.ExamplePath(example));
        ProxyLayout layout = Manifests.Layout(Manifests.ExamplePath(example));
        V1Service service = Manifests.Read<V1Service>(ServiceRenderer.Render(layout));
        int[] listenerPorts = config.Listeners.Select(l => l.Address.Port).Distinct().Order().ToArray();
        Assert.Equal(listenerPorts, service.Spec.Ports.Select(p => p.Port).ToArray());
        Assert.Equal(listenerPorts, service.Spec.Ports.Select(p => int.Parse(p.TargetPort.Value)).ToArray());
        Assert.All(service.Spec.Ports, p => Assert.Equal("TCP", p.Protocol));
        Assert.All(service.Spec.Ports, p => Assert.Equal("tcp", p.AppProtocol)); // a mesh must not parse CONNECT as HTTP
        Assert.Equal("ClusterIP", service.Spec.Type);
        Assert.Equal(Manifests.Read<V1Deployment>(DeploymentRenderer.Render(layout)).Spec.Selector.MatchLabels, service.Spec.Selector);
        Assert.Equal(layout.Name, service.Metadata.Name);
        Assert.Equal("egress", service.Metadata.NamespaceProperty);
    }

    [Fact]
    public void Tls_and_plain_ports_are_named_apart()
    {
        using var folder = new TlsAndUsersConfig();
        V1Service service = Manifests.Read<V1Service>(ServiceRenderer.Render(Manifests.Layout(folder.Path)));
        Assert.Equal([(80, "tcp-proxy-80"), (3129, "tcp-tls-3129")], service.Spec.Ports.Select(p => (p.Port, p.Name)));
    }
}
