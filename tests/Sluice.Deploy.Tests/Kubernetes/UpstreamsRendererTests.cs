using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// Upstreams in a pod: their files are Secret mounts the ConfigMap points at, their variables come from Secret keys,
/// the proxy's NetworkPolicy reaches the parents, and no secret value is in any manifest.
/// </summary>
public sealed class UpstreamsRendererTests : IDisposable
{
    private readonly UpstreamsConfig _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Render(bool istio = false) => Manifests.Render(_folder.Path, istio);

    [Fact]
    public void Every_document_matches_the_golden_file_and_holds_no_secret_value_and_no_path_of_this_machine()
    {
        string yaml = Render(istio: true);
        Assert.All(UpstreamsConfig.SecretValues, value => Assert.DoesNotContain(value, yaml, StringComparison.Ordinal));
        Assert.DoesNotContain(_folder.Dir, yaml, StringComparison.Ordinal);
        Assert.Equal(8, Manifests.Load(yaml).Count);
        GoldenFile.AssertMatches("k8s-upstreams", yaml);
    }

    [Fact]
    public void The_config_map_points_at_the_mounted_files_and_keeps_the_variable_names()
    {
        string text = Manifests.Load(Render()).OfType<V1ConfigMap>().Single().Data[PodPaths.ConfigFile];
        Assert.Contains("passwordFile: \"/etc/sluice/upstream-corp/password\"", text, StringComparison.Ordinal);
        Assert.Contains("ca: \"/etc/sluice/upstream-corp/ca.crt\"", text, StringComparison.Ordinal);
        Assert.Contains($"userEnv: {UpstreamsConfig.UserVariable}", text, StringComparison.Ordinal);
        Assert.Contains($"passwordEnv: {UpstreamsConfig.PasswordVariable}", text, StringComparison.Ordinal);
        Assert.Contains("user: svc-branch", text, StringComparison.Ordinal);
        Assert.Contains("# - upstream credential files and CAs are the Secrets branch-egress-upstream-corp at /etc/sluice/upstream-corp.\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_deployment_mounts_the_files_and_sets_the_variables_from_secret_keys()
    {
        V1PodSpec pod = Manifests.One<V1Deployment>(Manifests.Load(Render())).Spec.Template.Spec;
        V1Container container = Assert.Single(pod.Containers);
        V1Volume volume = pod.Volumes.Single(v => v.Name == "upstream-corp");
        Assert.Equal("branch-egress-upstream-corp", volume.Secret.SecretName);
        Assert.Equal(["password", "ca.crt"], volume.Secret.Items.Select(i => i.Key));
        Assert.Equal(288, volume.Secret.DefaultMode);
        V1VolumeMount mount = container.VolumeMounts.Single(m => m.Name == "upstream-corp");
        Assert.Equal(("/etc/sluice/upstream-corp", true), (mount.MountPath, mount.ReadOnlyProperty == true));
        Assert.DoesNotContain(pod.Volumes, v => v.Name == "upstream-vendor"); // its secrets are variables only

        Assert.Equal(
            [(UpstreamsConfig.UserVariable, "branch-egress-upstream-corp", "user"), (UpstreamsConfig.PasswordVariable, "branch-egress-upstream-vendor", "password")],
            container.Env.Select(e => (e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)));
        Assert.All(container.Env, e => Assert.Null(e.Value));
    }

    [Fact]
    public void The_first_document_says_which_secrets_to_create()
    {
        string yaml = Render();
        Assert.Contains("# Create Secret branch-egress-upstream-corp yourself (upstream corp): keys user, password, ca.crt, e.g. kubectl -n egress create secret generic branch-egress-upstream-corp --from-file=user=... --from-file=password=... --from-file=ca.crt=...\n", yaml, StringComparison.Ordinal);
        Assert.Contains("# Create Secret branch-egress-upstream-vendor yourself (upstream vendor): keys password, e.g. kubectl -n egress create secret generic branch-egress-upstream-vendor --from-file=password=...\n", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void The_proxy_reaches_parents_by_address_on_their_ports_and_parents_by_name_on_the_guards_ranges()
    {
        V1NetworkPolicy proxy = Manifests.Read<V1NetworkPolicy>(ProxyNetworkPolicyRenderer.Render(Manifests.Layout(_folder.Path)));
        IList<V1NetworkPolicyEgressRule> egress = proxy.Spec.Egress;
        string Ports(V1NetworkPolicyEgressRule rule) => string.Join(",", rule.Ports.Select(p => p.EndPort is null ? p.Port.Value : $"{p.Port.Value}-{p.EndPort}"));

        // Only the rule that goes direct (updates, port 80) needs the internet itself.
        Assert.Equal("80", Ports(egress[1]));
        Assert.Equal("0.0.0.0/0", egress[1].To[0].IpBlock.Cidr);

        Assert.Equal("198.51.100.7/32", Assert.Single(egress[2].To).IpBlock.Cidr);
        Assert.Equal("8080-8081", Ports(egress[2]));
        Assert.Equal("2001:db8::7/128", Assert.Single(egress[3].To).IpBlock.Cidr);
        Assert.Equal("8080", Ports(egress[3]));

        V1NetworkPolicyEgressRule named = egress[4];
        Assert.Equal(["0.0.0.0/0", "::/0"], named.To.Select(t => t.IpBlock.Cidr));
        Assert.Contains("10.0.0.0/8", named.To[0].IpBlock.Except);
        Assert.Equal("3128-3129", Ports(named));
        Assert.Equal(5, egress.Count);
    }

    [Fact]
    public void Everything_through_a_parent_opens_no_direct_port_at_all()
    {
        File.WriteAllText(_folder.Path, """
            listeners: [{ address: 0.0.0.0:3128 }]
            upstreams: [{ name: corp, proxies: ["http://10.20.0.5:3128"] }]
            addresses: { allow: ["10.20.0.5/32"] }
            default: allow
            route: { default: corp }
            """);
        IList<V1NetworkPolicyEgressRule> egress = Manifests.Read<V1NetworkPolicy>(ProxyNetworkPolicyRenderer.Render(Manifests.Layout(_folder.Path))).Spec.Egress;
        Assert.Equal(2, egress.Count); // DNS and the parent: an empty ports list would have meant every port
        Assert.Equal("10.20.0.5/32", Assert.Single(egress[1].To).IpBlock.Cidr);
    }

    [Fact]
    public void Istio_is_told_that_parents_need_no_service_entry_of_their_own()
    {
        string yaml = Render(istio: true);
        Assert.Contains("# Nor do the parent proxies (proxy-a.corp.example:3128, proxy-b.corp.example:3129, 198.51.100.7:8080, [2001:db8::7]:8080, 198.51.100.7:8081)", yaml, StringComparison.Ordinal);
        Assert.Single(Manifests.Load(yaml).OfType<IstioServiceEntry>());
    }
}
