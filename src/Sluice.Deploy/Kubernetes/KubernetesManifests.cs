using System.Globalization;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The Kubernetes objects that run the proxy of one configuration (ConfigMap, Deployment, Service,
/// PodDisruptionBudget, HorizontalPodAutoscaler), the NetworkPolicies that make it the only way out for its
/// clients, and optionally Istio's ServiceEntry, as one multi-document YAML stream. Secrets are named, never rendered.
/// </summary>
public static class KubernetesManifests
{
    /// <param name="config">The validated configuration.</param>
    /// <param name="yaml">The text it was read from: the ConfigMap keeps it, changed only where a pod needs it.</param>
    /// <param name="source">Where it was read from, for the comments.</param>
    /// <exception cref="KubernetesRenderException">The configuration or the options cannot be deployed as they are.</exception>
    public static string Render(SluiceConfig config, string yaml, string source, KubernetesOptions options)
    {
        ProxyLayout layout = ProxyLayout.Create(config, options);
        if (options.ClientsSelector.All(kv => layout.SelectorLabels.TryGetValue(kv.Key, out string? v) && v == kv.Value)
            || options.ClientsSelector.All(kv => kv.Key == "app.kubernetes.io/component" && kv.Value == "proxy"))
        {
            throw new KubernetesRenderException("--clients-selector would select the proxy's own pods; the clients' policy would cut the proxy off");
        }

        string header = $"Rendered by `sluice k8s` from {source}. Apply with: kubectl apply -f FILE (namespace {options.Namespace} must exist).";
        var documents = new List<YamlDocument>
        {
            new(ConfigMapRenderer.Render(layout, yaml, source), [header, "The configuration, as the pods read it (the proxy reloads it when the ConfigMap changes).", .. Secrets.Notes(layout)]),
            new(DeploymentRenderer.Render(layout), ["The proxy: stateless replicas; each has its own limits, status page and failed-login throttle."]),
            new(ServiceRenderer.Render(layout), ["Clients use http://" + layout.ServiceHost + ":" + layout.Listeners[0].Port.ToString(CultureInfo.InvariantCulture) + " as their proxy (HTTPS_PROXY / HTTP_PROXY)."]),
            new(PodDisruptionBudgetRenderer.Render(layout), ["Voluntary disruptions (node drains) take one replica at a time."]),
            new(HorizontalPodAutoscalerRenderer.Render(layout), ["Scale on CPU; scaling down drains tunnels (timeouts.drain), so it is slowed down."]),
            new(ClientsNetworkPolicyRenderer.Render(layout), [
                "The clients' way out: the proxy, DNS, their own namespace and the bypass: entries of the configuration.",
                "Every other egress of pods with these labels is dropped.",
            ]),
            new(ProxyNetworkPolicyRenderer.Render(layout), [
                "The proxy pods: reached by the clients on the listener ports (and by the namespace on the admin port);",
                "they reach DNS and the internet on the ports of the rules that go direct, never cluster-internal or metadata",
                "ranges unless addresses.allow lists them" + (config.Upstreams.IsEmpty ? "." : ", and the parent proxies of the upstreams."),
                .. ReportNotes(config),
            ]),
        };
        if (options.Istio)
        {
            List<string> comments =
            [
                "Istio: mesh workloads reach the proxy as a plain TCP service (CONNECT is opaque to the sidecar).",
                "MESH_INTERNAL because the proxy runs in this cluster. A proxy outside the mesh (another cluster, a VM,",
                "a company proxy) is MESH_EXTERNAL, with its address in `addresses`, as in Istio's external-proxy example.",
                "Destinations behind the proxy need no ServiceEntry of their own: the mesh only ever sees connections to the proxy.",
            ];
            if (!config.Upstreams.IsEmpty)
            {
                comments.Add($"Nor do the parent proxies ({string.Join(", ", config.Upstreams.SelectMany(u => u.Proxies).Select(p => p.Endpoint).Distinct())}): the proxy pods reach them as they reach");
                comments.Add("destinations. If the proxy pods get a sidecar with outboundTrafficPolicy REGISTRY_ONLY, give each a MESH_EXTERNAL TCP ServiceEntry.");
            }

            documents.Add(new YamlDocument(ServiceEntryRenderer.Render(layout), comments));
        }

        return YamlWriter.Write(documents);
    }

    // The egress follows what the proxy lets through, and a policy on trial lets its would-denies through.
    private static IEnumerable<string> ReportNotes(SluiceConfig config)
    {
        if (config.Mode == PolicyMode.Report)
        {
            yield return "mode: report: every deny lets its request through (a would-deny), so the egress is what default: allow would";
            yield return "need; set mode: enforce and render again to narrow it.";
        }
        else if (config.Route.Default == RouteConfig.Direct && config.Rules.Where(r => r.Action == RuleAction.Report).Select(r => r.Name).ToArray() is { Length: > 0 } trials)
        {
            yield return $"Report rules ({string.Join(", ", trials)}) let their would-denies through by route.default: their ports are open";
            yield return "too; once they are enforced (action: deny), render again.";
        }
    }
}
