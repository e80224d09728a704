using k8s;
using k8s.Models;

namespace Sluice.Cli.Tests;

/// <summary>
/// `sluice k8s` as an operator runs it: the objects on standard output, exit code 0; usage errors and configurations
/// that cannot be deployed exit 2 with nothing on standard output; an invalid configuration exits 1. What is
/// rendered is tested object by object in Sluice.Deploy.Tests.
/// </summary>
public sealed class K8sCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string ExamplePath(string example) => Path.Combine(AppContext.BaseDirectory, "examples", $"{example}.yaml");

    private string Write(string name, string yaml)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public async Task An_example_renders_every_object_on_standard_output()
    {
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("k8s", "--config", ExamplePath("mesh-egress"), "--namespace", "team-a", "--image", "registry.example/sluice:1.0");
        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.StartsWith("---\n# Rendered by `sluice k8s` from mesh-egress.yaml. Apply with: kubectl apply -f FILE (namespace team-a must exist).", stdout, StringComparison.Ordinal);
        List<object> docs = KubernetesYaml.LoadAllFromString(stdout);
        Assert.Equal(7, docs.Count);
        Assert.All(docs.OfType<IKubernetesObject<V1ObjectMeta>>(), d => Assert.Equal("team-a", d.Metadata.NamespaceProperty));
        Assert.Equal("registry.example/sluice:1.0", docs.OfType<V1Deployment>().Single().Spec.Template.Spec.Containers[0].Image);

        (exit, string withIstio, _) = await SluiceProcess.RunAsync("k8s", "--config", ExamplePath("mesh-egress"), "--istio");
        Assert.Equal(0, exit);
        Assert.Contains("\nkind: ServiceEntry\n", withIstio, StringComparison.Ordinal);
        Assert.DoesNotContain("ServiceEntry", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_embedded_default_renders_too()
    {
        (int exit, string yaml, _) = await SluiceProcess.RunAsync("k8s", "--replicas", "3");
        Assert.Equal(0, exit);
        Assert.Contains("from the embedded default.", yaml, StringComparison.Ordinal);
        List<object> docs = KubernetesYaml.LoadAllFromString(yaml);
        Assert.Equal(3, docs.OfType<V1Deployment>().Single().Spec.Replicas);
        Assert.Equal(3, docs.OfType<V2HorizontalPodAutoscaler>().Single().Spec.MinReplicas);
        Assert.Equal("egress", docs.OfType<V1Service>().Single().Metadata.NamespaceProperty);
        Assert.Equal(["80", "443"], docs.OfType<V1NetworkPolicy>().Single(p => p.Metadata.Name.EndsWith("-proxy", StringComparison.Ordinal)).Spec.Egress[1].Ports.Select(p => p.Port.Value));
    }

    [Theory]
    [InlineData("--clients-selector", "app", "sluice k8s: --clients-selector: 'app' is not a label key=value")]
    [InlineData("--clients-selector", "app.kubernetes.io/name=sluice", "sluice k8s: --clients-selector would select the proxy's own pods")]
    [InlineData("--namespace", "Egress", "sluice k8s: --namespace 'Egress' is not a Kubernetes namespace name")]
    [InlineData("--replicas", "0", "sluice k8s: --replicas 0: give 1 to 1000")]
    [InlineData("--image", "a b", "sluice k8s: --image 'a b' is not an image reference")]
    [InlineData("--replicas", "many", "sluice: ")]
    public async Task A_bad_option_is_a_usage_error(string option, string value, string message)
    {
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("k8s", "--config", ExamplePath("mesh-egress"), option, value);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_token_is_never_put_in_a_config_map()
    {
        string config = Write("token.yaml", "admin: { address: 127.0.0.1:9090, token: abcdefghijklmnopqrstuvwxyz }\n");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("k8s", "--config", config);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("sluice k8s: admin.token is set", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_configuration_exits_1()
    {
        string config = Write("bad.yaml", "listeners: [{ address: nowhere }]\n");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("k8s", "--config", config);
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith($"sluice: {config}:", stderr, StringComparison.Ordinal);
    }
}
