using Sluice.Deploy.Kubernetes;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// All documents of one configuration, in order, each read back with the official Kubernetes client's models;
/// golden files hold the full output.
/// </summary>
public sealed class KubernetesManifestsTests
{
    public static TheoryData<string> Examples => Manifests.Examples;

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_document_parses_with_the_kubernetes_models_and_matches_the_golden_file(string example)
    {
        string yaml = Manifests.Render(Manifests.ExamplePath(example), istio: true);
        List<object> docs = Manifests.Load(yaml);
        Assert.Equal(
            ["V1ConfigMap", "V1Deployment", "V1Service", "V1PodDisruptionBudget", "V2HorizontalPodAutoscaler", "V1NetworkPolicy", "V1NetworkPolicy", "IstioServiceEntry"],
            docs.Select(d => d.GetType().Name));
        GoldenFile.AssertMatches($"k8s-{example}", yaml);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Without_istio_there_is_no_service_entry(string example)
    {
        List<object> docs = Manifests.Load(Manifests.Render(Manifests.ExamplePath(example)));
        Assert.Equal(7, docs.Count);
        Assert.Empty(docs.OfType<IstioServiceEntry>());
    }

    [Fact]
    public void The_first_document_says_how_to_apply_and_which_secrets_to_create()
    {
        string yaml = Manifests.Render(Manifests.ExamplePath("mesh-egress"));
        Assert.StartsWith("---\n# Rendered by `sluice k8s` from mesh-egress.yaml. Apply with: kubectl apply -f FILE (namespace egress must exist).\n", yaml, StringComparison.Ordinal);
        Assert.Contains("# Clients use http://egress-mesh.egress.svc.cluster.local:3128 as their proxy (HTTPS_PROXY / HTTP_PROXY).\n", yaml, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("app.kubernetes.io/name=sluice")]
    [InlineData("app.kubernetes.io/name=sluice,app.kubernetes.io/instance=egress-mesh")]
    [InlineData("app.kubernetes.io/component=proxy")]
    public void A_selector_that_selects_the_proxys_own_pods_is_refused(string selector)
    {
        var e = Assert.Throws<KubernetesRenderException>(() => Manifests.Render(Manifests.ExamplePath("mesh-egress"), selector: selector));
        Assert.Equal("--clients-selector would select the proxy's own pods; the clients' policy would cut the proxy off", e.Message);
    }

    [Fact]
    public void A_selector_sharing_one_label_with_the_proxy_is_not_the_proxy()
    {
        string yaml = Manifests.Render(Manifests.ExamplePath("mesh-egress"), selector: "app.kubernetes.io/name=sluice,role=client");
        Assert.Equal(2, Manifests.Load(yaml).OfType<k8s.Models.V1NetworkPolicy>().Count());
    }
}
