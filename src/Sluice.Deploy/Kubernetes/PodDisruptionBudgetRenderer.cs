using Sluice.Deploy.Yaml;

namespace Sluice.Deploy.Kubernetes;

/// <summary>The PodDisruptionBudget: voluntary disruptions take one replica at a time.</summary>
internal static class PodDisruptionBudgetRenderer
{
    public static YamlMap Render(ProxyLayout layout) => new YamlMap()
        .Add("apiVersion", "policy/v1")
        .Add("kind", "PodDisruptionBudget")
        .Add("metadata", layout.Metadata(layout.Name))
        .Add("spec", new YamlMap().Add("maxUnavailable", 1).Add("selector", layout.ProxyPods()));
}
