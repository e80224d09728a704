using Sluice.Deploy.Kubernetes;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>What every object agrees on, and the configurations that cannot run in a pod as they are.</summary>
public sealed class ProxyLayoutTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SluiceConfig Config(string yaml)
    {
        File.WriteAllText(Path.Combine(_dir, "c.crt"), "x");
        File.WriteAllText(Path.Combine(_dir, "c.key"), "x");
        return ConfigLoader.Parse(yaml, Path.Combine(_dir, "sluice.yaml"));
    }

    [Theory]
    [InlineData("admin: { address: 127.0.0.1:9090, token: abcdefghijklmnopqrstuvwxyz }\n", "admin.token is set: a ConfigMap is not a place for a secret, and sluice k8s never writes one.")]
    [InlineData("listeners: [{ address: 0.0.0.0:9090 }]\n", "the admin endpoint and a listener both use port 9090; in a pod both listen on every address: move admin.address to another port")]
    [InlineData("listeners: [{ address: 0.0.0.0:8000 }]\nadmin: { address: 127.0.0.1:8000 }\n", "the admin endpoint and a listener both use port 8000")]
    [InlineData("listeners:\n  - address: 0.0.0.0:3129\n    tls: { certificate: c.crt, key: c.key }\n  - address: \"[::]:3129\"\n", "two listeners share a port, one with TLS and one without")]
    public void Cannot_deploy(string yaml, string message)
    {
        var e = Assert.Throws<KubernetesRenderException>(() => ProxyLayout.Create(Config(yaml), Manifests.Options()));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Listeners_on_one_port_share_it_and_ports_are_in_order()
    {
        ProxyLayout layout = ProxyLayout.Create(Config("listeners: [{ address: 0.0.0.0:8080 }, { address: \"[::1]:8080\" }, { address: 127.0.0.1:80 }]\nadmin: off\n"), Manifests.Options());
        Assert.Equal([80, 8080], layout.Listeners.Select(l => l.Port));
        Assert.Equal(["proxy-80", "proxy-8080"], layout.Listeners.Select(l => l.ContainerPortName));
        Assert.Equal(9090, layout.AdminPort); // off in the file; the pod needs it for its probes
        Assert.Equal("sluice.egress.svc.cluster.local", layout.ServiceHost);
    }

    [Theory]
    [InlineData("stdout", null)]
    [InlineData("stderr", null)]
    [InlineData("off", null)]
    [InlineData("/var/log/squid/access.log", "access.log")]
    [InlineData("egress.log", "egress.log")]
    public void The_access_log_is_a_file_in_the_pod_only_when_it_is_one_in_the_configuration(string access, string? file) =>
        Assert.Equal(file, ProxyLayout.Create(Config($"log: {{ access: \"{access}\" }}\n"), Manifests.Options()).LogFile);
}
