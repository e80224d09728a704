using Sluice.Deploy.Yaml;

namespace Sluice.Deploy.Kubernetes;

/// <summary>The HorizontalPodAutoscaler: on CPU, from the replicas asked for, scaling down slowly (it drains tunnels).</summary>
internal static class HorizontalPodAutoscalerRenderer
{
    public static YamlMap Render(ProxyLayout layout) => new YamlMap()
        .Add("apiVersion", "autoscaling/v2")
        .Add("kind", "HorizontalPodAutoscaler")
        .Add("metadata", layout.Metadata(layout.Name))
        .Add("spec", new YamlMap()
            .Add("scaleTargetRef", new YamlMap().Add("apiVersion", "apps/v1").Add("kind", "Deployment").Add("name", layout.Name))
            .Add("minReplicas", layout.Options.Replicas)
            .Add("maxReplicas", Math.Max(layout.Options.Replicas * 3, layout.Options.Replicas + 1))
            .Add("metrics", new YamlList
            {
                new YamlMap().Add("type", "Resource").Add("resource", new YamlMap()
                    .Add("name", "cpu")
                    .Add("target", new YamlMap().Add("type", "Utilization").Add("averageUtilization", 70))),
            })
            .Add("behavior", new YamlMap().Add("scaleDown", new YamlMap()
                .Add("stabilizationWindowSeconds", 600)
                .Add("policies", new YamlList { new YamlMap().Add("type", "Pods").Add("value", 1).Add("periodSeconds", 120) }))));
}
