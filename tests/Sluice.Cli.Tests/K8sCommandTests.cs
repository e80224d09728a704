using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using Sluice.Cli.Commands;
using Sluice.Policy.Config;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests;

/// <summary>
/// `sluice k8s`: every rendered document is read back with the official Kubernetes client's models, and the fields
/// that decide whether the deployment works and is locked down are checked. Golden files hold the full output.
/// </summary>
public sealed class K8sCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Examples => new() { "vendor-allowlist", "data-platform", "mesh-egress" };

    private static string ExamplePath(string example) => Path.Combine(AppContext.BaseDirectory, "examples", $"{example}.yaml");

    private static (int Exit, string Output, string Errors) Render(string? config, bool istio = false, string selector = K8sCommand.DefaultSelector, int replicas = 2)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = K8sCommand.Run(config is null ? null : new FileInfo(config), "egress", replicas, "registry.example/sluice:1.0", istio, selector, output, errors);
        return (exit, output.ToString(), errors.ToString());
    }

    private static List<object> Load(string yaml) => KubernetesYaml.LoadAllFromString(yaml, new Dictionary<string, Type>
    {
        ["networking.istio.io/v1/ServiceEntry"] = typeof(IstioServiceEntry),
    });

    private static T One<T>(List<object> docs, string? nameSuffix = null) =>
        docs.OfType<T>().Single(d => nameSuffix is null || ((IKubernetesObject<V1ObjectMeta>)d!).Metadata.Name.EndsWith(nameSuffix, StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_document_parses_with_the_kubernetes_models_and_matches_the_golden_file(string example)
    {
        (int exit, string yaml, string errors) = Render(ExamplePath(example), istio: true);
        Assert.Equal("", errors);
        Assert.Equal(0, exit);
        List<object> docs = Load(yaml);
        Assert.Equal(
            ["V1ConfigMap", "V1Deployment", "V1Service", "V1PodDisruptionBudget", "V2HorizontalPodAutoscaler", "V1NetworkPolicy", "V1NetworkPolicy", "IstioServiceEntry"],
            docs.Select(d => d.GetType().Name));
        AssertGolden($"k8s-{example}", yaml);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Probes_ports_and_security_context_are_what_the_proxy_needs(string example)
    {
        SluiceConfig config = ConfigLoader.LoadFile(ExamplePath(example));
        List<object> docs = Load(Render(ExamplePath(example)).Output);
        V1Deployment deployment = One<V1Deployment>(docs);
        V1Container container = Assert.Single(deployment.Spec.Template.Spec.Containers);

        int adminPort = container.Ports.Single(p => p.Name == "admin").ContainerPort;
        Assert.Equal(config.Admin!.Address.Port, adminPort);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("admin", container.ReadinessProbe.HttpGet.Port.Value);
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("admin", container.LivenessProbe.HttpGet.Port.Value);

        // The admin endpoint must listen beyond loopback inside the pod, or the kubelet's probes fail.
        string rendered = One<V1ConfigMap>(docs).Data[K8sRenderer.ConfigFile];
        SluiceConfig inPod = ConfigLoader.Parse(rendered, Path.Combine(_dir, "sluice.yaml"));
        Assert.Equal($"0.0.0.0:{adminPort}", Endpoints.Format(inPod.Admin!.Address));
        Assert.All(inPod.Listeners, l => Assert.True(l.Address.Address.Equals(System.Net.IPAddress.Any) || l.Address.Address.Equals(System.Net.IPAddress.IPv6Any)));
        Assert.Equal(config.Rules.Select(r => r.Name), inPod.Rules.Select(r => r.Name));
        Assert.Equal(config.Bypass.Length, inPod.Bypass.Length);

        int[] listenerPorts = config.Listeners.Select(l => l.Address.Port).Distinct().Order().ToArray();
        V1Service service = One<V1Service>(docs);
        Assert.Equal(listenerPorts, service.Spec.Ports.Select(p => p.Port).ToArray());
        Assert.Equal(listenerPorts, service.Spec.Ports.Select(p => int.Parse(p.TargetPort.Value)).ToArray());
        Assert.All(service.Spec.Ports, p => Assert.Equal("TCP", p.Protocol));
        Assert.Equal(deployment.Spec.Selector.MatchLabels, service.Spec.Selector);

        Assert.Equal(0, int.Parse(deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value));
        Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds > config.Timeouts.Drain.TotalSeconds);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.True(container.SecurityContext.RunAsNonRoot);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.Null(container.SecurityContext.Capabilities.Add);
        Assert.Equal("RuntimeDefault", deployment.Spec.Template.Spec.SecurityContext.SeccompProfile.Type);
        Assert.Equal("kubernetes.io/hostname", Assert.Single(deployment.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution).PodAffinityTerm.TopologyKey);
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(container.Resources.Limits["memory"]);
        Assert.Equal($"{K8sRenderer.ConfigDir}/{K8sRenderer.ConfigFile}", container.Args[^1]);

        Assert.Equal(1, int.Parse(One<V1PodDisruptionBudget>(docs).Spec.MaxUnavailable.Value));
        V2HorizontalPodAutoscaler hpa = One<V2HorizontalPodAutoscaler>(docs);
        Assert.Equal(deployment.Metadata.Name, hpa.Spec.ScaleTargetRef.Name);
        Assert.Equal("cpu", Assert.Single(hpa.Spec.Metrics).Resource.Name);
        Assert.DoesNotContain(docs, d => d is V1Secret);
    }

    [Fact]
    public void The_clients_policy_allows_exactly_the_proxy_dns_the_namespace_and_the_bypasses()
    {
        SluiceConfig config = ConfigLoader.LoadFile(ExamplePath("vendor-allowlist"));
        Assert.Equal(3, config.Bypass.Length);
        List<object> docs = Load(Render(ExamplePath("vendor-allowlist"), selector: "app=carto,tier=backend").Output);
        V1NetworkPolicy clients = One<V1NetworkPolicy>(docs, "-clients");
        Assert.Equal(new Dictionary<string, string> { ["app"] = "carto", ["tier"] = "backend" }, clients.Spec.PodSelector.MatchLabels);
        Assert.Equal(["Egress"], clients.Spec.PolicyTypes);
        IList<V1NetworkPolicyEgressRule> egress = clients.Spec.Egress;
        Assert.Equal(3 + config.Bypass.Length, egress.Count);

        V1Deployment deployment = One<V1Deployment>(docs);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, Assert.Single(egress[0].To).PodSelector.MatchLabels);
        Assert.Equal([3128], egress[0].Ports.Select(p => int.Parse(p.Port.Value)));

        V1NetworkPolicyPeer dns = Assert.Single(egress[1].To);
        Assert.Equal("kube-system", dns.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Equal("kube-dns", dns.PodSelector.MatchLabels["k8s-app"]);
        Assert.Equal(["UDP/53", "TCP/53"], egress[1].Ports.Select(p => $"{p.Protocol}/{p.Port.Value}"));

        V1NetworkPolicyPeer sameNamespace = Assert.Single(egress[2].To);
        Assert.Null(sameNamespace.NamespaceSelector);
        Assert.Null(sameNamespace.IpBlock);
        Assert.True(sameNamespace.PodSelector.MatchLabels is null or { Count: 0 });

        for (int i = 0; i < config.Bypass.Length; i++)
        {
            V1NetworkPolicyEgressRule rule = egress[3 + i];
            Assert.Equal(config.Bypass[i].Cidrs.Select(c => c.ToString()), rule.To.Select(t => t.IpBlock.Cidr));
            Assert.All(rule.To, t => Assert.Null(t.IpBlock.Except));
            Assert.Equal(config.Bypass[i].Ports.Select(p => p.First), rule.Ports.Select(p => int.Parse(p.Port.Value)));
            Assert.All(rule.Ports, p => Assert.Equal("TCP", p.Protocol));
        }
    }

    [Fact]
    public void The_proxy_policy_admits_clients_and_reaches_the_internet_on_the_allowed_ports_only()
    {
        List<object> docs = Load(Render(ExamplePath("data-platform")).Output);
        V1NetworkPolicy proxy = One<V1NetworkPolicy>(docs, "-proxy");
        Assert.Equal(["Ingress", "Egress"], proxy.Spec.PolicyTypes);
        Assert.Equal("true", Assert.Single(proxy.Spec.Ingress[0].FromProperty).PodSelector.MatchLabels["egress.sluice.io/client"]);
        Assert.Equal([3128], proxy.Spec.Ingress[0].Ports.Select(p => int.Parse(p.Port.Value)));
        Assert.Equal([9090], proxy.Spec.Ingress[1].Ports.Select(p => int.Parse(p.Port.Value)));

        V1NetworkPolicyEgressRule internet = proxy.Spec.Egress[1];
        V1IPBlock v4 = internet.To[0].IpBlock;
        V1IPBlock v6 = internet.To[1].IpBlock;
        Assert.Equal("0.0.0.0/0", v4.Cidr);
        Assert.Equal(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"], v4.Except);
        Assert.Equal("::/0", v6.Cidr);
        Assert.Contains("fe80::/10", v6.Except);
        // object-storage 443, partner-ftp 21 and 1024-65535, on-prem-metadata 10.1.2.3:8443 (inside the range).
        Assert.Equal(["21", "443", "1024-65535"], internet.Ports.Select(p => p.EndPort is null ? p.Port.Value : $"{p.Port.Value}-{p.EndPort}"));
        // addresses.allow: its own rule, since an except list cannot have holes.
        Assert.Equal("10.1.2.3/32", Assert.Single(proxy.Spec.Egress[2].To).IpBlock.Cidr);

        // An allow rule without ports (and no port in its destinations) opens every port.
        string config = Path.Combine(_dir, "open.yaml");
        File.WriteAllText(config, "listeners: [{ address: 0.0.0.0:3128 }]\nrules:\n  - { name: any, action: allow, destinations: [\".example.com\"] }\naddresses: { deny: [\"198.51.100.0/24\"] }\n");
        V1NetworkPolicy open = One<V1NetworkPolicy>(Load(Render(config).Output), "-proxy");
        Assert.Null(open.Spec.Egress[1].Ports);
        Assert.Contains("198.51.100.0/24", open.Spec.Egress[1].To[0].IpBlock.Except);
    }

    [Fact]
    public void Tls_files_and_users_come_from_secrets_referenced_by_name_never_inline()
    {
        foreach (string name in new[] { "proxy.crt", "proxy.key", "clients-ca.crt", "users.htpasswd" })
        {
            File.WriteAllText(Path.Combine(_dir, name), "SECRET-CONTENT-" + name);
        }

        string config = Path.Combine(_dir, "tls.yaml");
        File.WriteAllText(config, """
            name: corp-egress
            listeners:
              - address: 0.0.0.0:3129
                tls: { certificate: proxy.crt, key: proxy.key, clientCa: clients-ca.crt, keyPassphraseEnv: KEY_PASS }
              - address: 0.0.0.0:80
            auth:
              basic: { realm: egress, usersFile: users.htpasswd }
            rules:
              - { name: web, action: allow, ports: [443] }
            """);
        (int exit, string yaml, string errors) = Render(config);
        Assert.Equal(0, exit);
        Assert.Equal("", errors);
        Assert.DoesNotContain("SECRET-CONTENT", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain(_dir, yaml, StringComparison.Ordinal);
        List<object> docs = Load(yaml);
        Assert.DoesNotContain(docs, d => d is V1Secret);
        V1PodSpec pod = One<V1Deployment>(docs).Spec.Template.Spec;
        Assert.Equal("corp-egress-tls-3129", pod.Volumes.Single(v => v.Name == "tls-3129").Secret.SecretName);
        Assert.Equal(["tls.crt", "tls.key", "ca.crt", "passphrase"], pod.Volumes.Single(v => v.Name == "tls-3129").Secret.Items.Select(i => i.Key));
        Assert.Equal("corp-egress-users", pod.Volumes.Single(v => v.Name == "users").Secret.SecretName);
        V1EnvVar pass = Assert.Single(pod.Containers[0].Env);
        Assert.Equal(("KEY_PASS", "corp-egress-tls-3129", "passphrase"), (pass.Name, pass.ValueFrom.SecretKeyRef.Name, pass.ValueFrom.SecretKeyRef.Key));
        Assert.Contains(pod.Containers[0].VolumeMounts, m => m.Name == "tls-3129" && m.MountPath == "/etc/sluice/tls-3129" && m.ReadOnlyProperty == true);
        // Port 80 as non-root: the namespaced sysctl, not a capability.
        Assert.Equal("0", pod.SecurityContext.Sysctls.Single(s => s.Name == "net.ipv4.ip_unprivileged_port_start").Value);
        Assert.Null(pod.Containers[0].SecurityContext.Capabilities.Add);

        // The config in the ConfigMap points at the mounted files.
        var stream = new YamlStream();
        stream.Load(new StringReader(One<V1ConfigMap>(docs).Data["sluice.yaml"]));
        string text = One<V1ConfigMap>(docs).Data["sluice.yaml"];
        Assert.Contains("certificate: \"/etc/sluice/tls-3129/tls.crt\"", text, StringComparison.Ordinal);
        Assert.Contains("clientCa: \"/etc/sluice/tls-3129/ca.crt\"", text, StringComparison.Ordinal);
        Assert.Contains("usersFile: \"/etc/sluice/auth/users.htpasswd\"", text, StringComparison.Ordinal);
        Assert.Equal([80, 3129], One<V1Service>(docs).Spec.Ports.Select(p => p.Port));
    }

    [Fact]
    public void Istio_gets_a_tcp_service_entry_for_the_proxy_service()
    {
        List<object> docs = Load(Render(ExamplePath("mesh-egress"), istio: true).Output);
        IstioServiceEntry entry = Assert.Single(docs.OfType<IstioServiceEntry>());
        Assert.Equal(["egress-mesh.egress.svc.cluster.local"], entry.Spec.Hosts);
        Assert.Equal("MESH_INTERNAL", entry.Spec.Location);
        Assert.Equal("DNS", entry.Spec.Resolution);
        Assert.Equal([(3128, "TCP")], entry.Spec.Ports.Select(p => (p.Number, p.Protocol)));
        Assert.Empty(Load(Render(ExamplePath("mesh-egress")).Output).OfType<IstioServiceEntry>());
        Assert.Equal("tcp", Assert.Single(One<V1Service>(docs).Spec.Ports).AppProtocol);
    }

    [Theory]
    [InlineData("app", "not a label")]
    [InlineData("app.kubernetes.io/name=sluice", "select the proxy's own pods")]
    public void A_bad_selector_is_a_usage_error(string selector, string message)
    {
        (int exit, string output, string errors) = Render(ExamplePath("mesh-egress"), selector: selector);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains(message, errors, StringComparison.Ordinal);
    }

    [Fact]
    public void An_admin_token_is_never_put_in_a_config_map()
    {
        string config = Path.Combine(_dir, "token.yaml");
        File.WriteAllText(config, "admin: { address: 127.0.0.1:9090, token: abcdefghijklmnopqrstuvwxyz }\n");
        (int exit, string output, string errors) = Render(config);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains("admin.token", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void The_embedded_default_renders_too()
    {
        (int exit, string yaml, _) = Render(null, replicas: 3);
        Assert.Equal(0, exit);
        List<object> docs = Load(yaml);
        Assert.Equal(3, One<V1Deployment>(docs).Spec.Replicas);
        Assert.Equal(3, One<V2HorizontalPodAutoscaler>(docs).Spec.MinReplicas);
        Assert.Equal(["80", "443"], One<V1NetworkPolicy>(docs, "-proxy").Spec.Egress[1].Ports.Select(p => p.Port.Value));
    }

    private static void AssertGolden(string name, string actual, [CallerFilePath] string source = "")
    {
        string file = Path.Combine(Path.GetDirectoryName(source)!, "Golden", $"{name}.txt");
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("SLUICE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(file, actual);
            return;
        }

        Assert.True(File.Exists(file), $"golden file {file} is missing; run with SLUICE_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(file), actual);
    }
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
