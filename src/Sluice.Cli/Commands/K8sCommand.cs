using System.CommandLine;
using Sluice.Deploy.Kubernetes;
using Sluice.Policy.Config;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice k8s</c>: the Kubernetes objects that run the proxy of one configuration (Deployment, Service,
/// ConfigMap, PodDisruptionBudget, HorizontalPodAutoscaler), the NetworkPolicies that make it the only way out for
/// its clients, and with <c>--istio</c> the ServiceEntry that lets mesh workloads reach it as a TCP service.
/// </summary>
internal static class K8sCommand
{
    public static Command Create()
    {
        var config = ConfigOption.Create("Configuration file (YAML) to deploy.");
        var ns = new Option<string>("--namespace", "-n") { Description = "Namespace of every object (the proxy and its clients).", DefaultValueFactory = _ => "egress" };
        var replicas = new Option<int>("--replicas") { Description = "Replicas of the proxy (the autoscaler's minimum).", DefaultValueFactory = _ => 2 };
        var image = new Option<string>("--image") { Description = "Container image built from deploy/Dockerfile; pin a tag or digest.", DefaultValueFactory = _ => "sluice:latest" };
        var istio = new Option<bool>("--istio") { Description = "Also render an Istio ServiceEntry so mesh workloads reach the proxy as a TCP service." };
        var selector = new Option<string>("--clients-selector") { Description = "Labels of the client pods whose egress is locked to the proxy: k=v[,k2=v2].", DefaultValueFactory = _ => KubernetesNames.DefaultClientsSelector };
        var command = new Command("k8s", "Print the Kubernetes objects for a configuration as multi-document YAML: Deployment, Service, ConfigMap, PodDisruptionBudget, HorizontalPodAutoscaler and NetworkPolicies for the proxy and its clients (plus an Istio ServiceEntry with --istio). Secrets are referenced by name, never rendered. Exit code 0 on success, 1 when the configuration is invalid, 2 on a usage error.")
        {
            config, ns, replicas, image, istio, selector,
        };
        command.SetAction(result => Run(result.GetValue(config), result.GetValue(ns)!, result.GetValue(replicas), result.GetValue(image)!, result.GetValue(istio),
            result.GetValue(selector)!, Console.Out, Console.Error));
        return command;
    }

    internal static int Run(FileInfo? file, string ns, int replicas, string image, bool istio, string selector, TextWriter output, TextWriter errors)
    {
        if (!KubernetesNames.IsDnsLabel(ns))
        {
            errors.WriteLine($"sluice k8s: --namespace '{ns}' is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)");
            return 2;
        }

        if (replicas is < 1 or > 1000)
        {
            errors.WriteLine($"sluice k8s: --replicas {replicas}: give 1 to 1000");
            return 2;
        }

        if (image.Length == 0 || image.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            errors.WriteLine($"sluice k8s: --image '{image}' is not an image reference");
            return 2;
        }

        if (!KubernetesNames.TryParseSelector(selector, out Dictionary<string, string> labels, out string problem))
        {
            errors.WriteLine($"sluice k8s: --clients-selector: {problem}");
            return 2;
        }

        if (!ConfigOption.TryLoad(file, errors, out SluiceConfig config))
        {
            return 1;
        }

        string yaml = file is null ? DefaultConfig.Yaml() : File.ReadAllText(file.FullName);
        string source = file is null ? "the embedded default" : file.Name;
        try
        {
            output.Write(KubernetesManifests.Render(config, yaml, source, new KubernetesOptions(ns, replicas, image, istio, labels)));
            return 0;
        }
        catch (KubernetesRenderException e)
        {
            errors.WriteLine($"sluice k8s: {e.Message}");
            return 2;
        }
    }
}
