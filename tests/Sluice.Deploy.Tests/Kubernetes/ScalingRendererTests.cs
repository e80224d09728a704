using k8s.Models;
using Sluice.Deploy.Kubernetes;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>The PodDisruptionBudget and the HorizontalPodAutoscaler: one replica at a time, scaling on CPU from the replicas asked for.</summary>
public sealed class ScalingRendererTests
{
    [Fact]
    public void Voluntary_disruptions_take_one_replica_at_a_time()
    {
        ProxyLayout layout = Manifests.Layout(Manifests.ExamplePath("vendor-allowlist"));
        V1PodDisruptionBudget pdb = Manifests.Read<V1PodDisruptionBudget>(PodDisruptionBudgetRenderer.Render(layout));
        Assert.Equal(1, int.Parse(pdb.Spec.MaxUnavailable.Value));
        Assert.Equal(layout.SelectorLabels, pdb.Spec.Selector.MatchLabels);
    }

    [Theory]
    [InlineData(1, 1, 3)]
    [InlineData(2, 2, 6)]
    [InlineData(3, 3, 9)]
    public void The_autoscaler_starts_at_the_replicas_asked_for(int replicas, int min, int max)
    {
        ProxyLayout layout = Manifests.Layout(Manifests.ExamplePath("vendor-allowlist"), replicas: replicas);
        V2HorizontalPodAutoscaler hpa = Manifests.Read<V2HorizontalPodAutoscaler>(HorizontalPodAutoscalerRenderer.Render(layout));
        Assert.Equal(layout.Name, hpa.Spec.ScaleTargetRef.Name);
        Assert.Equal("Deployment", hpa.Spec.ScaleTargetRef.Kind);
        Assert.Equal((min, max), (hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas));
        Assert.Equal("cpu", Assert.Single(hpa.Spec.Metrics).Resource.Name);
        Assert.Equal(70, hpa.Spec.Metrics[0].Resource.Target.AverageUtilization);
        Assert.Equal(600, hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds);
    }
}
