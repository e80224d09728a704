using k8s;
using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>Rendering for the tests, and reading the objects back with the official Kubernetes client's models.</summary>
internal static class Manifests
{
    public const string Image = "registry.example/sluice:1.0";

    public static TheoryData<string> Examples => new() { "vendor-allowlist", "data-platform", "mesh-egress" };

    public static string ExamplePath(string example) => Path.Combine(AppContext.BaseDirectory, "examples", $"{example}.yaml");

    public static KubernetesOptions Options(bool istio = false, string selector = KubernetesNames.DefaultClientsSelector, int replicas = 2)
    {
        Assert.True(KubernetesNames.TryParseSelector(selector, out Dictionary<string, string> labels, out string problem), problem);
        return new KubernetesOptions("egress", replicas, Image, istio, labels);
    }

    /// <summary>Every document for the configuration file at <paramref name="path"/>.</summary>
    public static string Render(string path, bool istio = false, string selector = KubernetesNames.DefaultClientsSelector, int replicas = 2) =>
        KubernetesManifests.Render(ConfigLoader.LoadFile(path), File.ReadAllText(path), Path.GetFileName(path), Options(istio, selector, replicas));

    public static ProxyLayout Layout(string path, bool istio = false, string selector = KubernetesNames.DefaultClientsSelector, int replicas = 2) =>
        ProxyLayout.Create(ConfigLoader.LoadFile(path), Options(istio, selector, replicas));

    public static List<object> Load(string yaml) => KubernetesYaml.LoadAllFromString(yaml, new Dictionary<string, Type>
    {
        ["networking.istio.io/v1/ServiceEntry"] = typeof(IstioServiceEntry),
    });

    /// <summary>One rendered object, read back as its Kubernetes model.</summary>
    public static T Read<T>(YamlMap rendered) => Assert.IsType<T>(Assert.Single(Load(YamlWriter.Write(rendered, []))));

    public static T One<T>(List<object> docs, string? nameSuffix = null) =>
        docs.OfType<T>().Single(d => nameSuffix is null || ((IKubernetesObject<V1ObjectMeta>)d!).Metadata.Name.EndsWith(nameSuffix, StringComparison.Ordinal));
}

/// <summary>The fields of Istio's ServiceEntry the tests read (Istio's types are not in the Kubernetes client).</summary>
public sealed class IstioServiceEntry : IKubernetesObject<V1ObjectMeta>
{
    public string ApiVersion { get; set; } = "";

    public string Kind { get; set; } = "";

    public V1ObjectMeta Metadata { get; set; } = new();

    public IstioServiceEntrySpec Spec { get; set; } = new();
}

public sealed class IstioServiceEntrySpec
{
    public List<string> Hosts { get; set; } = [];

    public string Location { get; set; } = "";

    public string Resolution { get; set; } = "";

    public List<IstioPort> Ports { get; set; } = [];
}

public sealed class IstioPort
{
    public int Number { get; set; }

    public string Name { get; set; } = "";

    public string Protocol { get; set; } = "";
}
