using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// TLS inspection in a pod: the CA pair (and upstreamCa) is a Secret the operator creates, mounted read-only, with the
/// ConfigMap pointing tls.inspection at the mounted files and keeping neverInspect and the rules as written.
/// </summary>
public sealed class InspectionRendererTests : IDisposable
{
    private readonly InspectingConfig _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Render(bool istio = false) => Manifests.Render(_folder.Path, istio);

    private string PodConfig() => Manifests.Load(Render()).OfType<V1ConfigMap>().Single().Data[PodPaths.ConfigFile];

    [Fact]
    public void Every_document_matches_the_golden_file()
    {
        string yaml = Render(istio: true);
        Assert.Equal(8, Manifests.Load(yaml).Count);
        GoldenFile.AssertMatches("k8s-inspection", yaml);
    }

    [Fact]
    public void The_config_map_points_at_the_mounted_files_and_keeps_never_inspect_and_the_rules()
    {
        string text = PodConfig();
        Assert.Contains("ca: \"/etc/sluice/inspection/ca.crt\"", text, StringComparison.Ordinal);
        Assert.Contains("key: \"/etc/sluice/inspection/ca.key\"", text, StringComparison.Ordinal);
        Assert.Contains("upstreamCa: \"/etc/sluice/inspection/upstream-ca.crt\"", text, StringComparison.Ordinal);
        Assert.Contains("# - tls.inspection's ca, key and upstreamCa are the Secret dev-egress-inspection-ca at /etc/sluice/inspection; neverInspect and the rules are as written.\n", text, StringComparison.Ordinal);

        // Read back as the pod reads it, with the Secret's files where the pod has them.
        string mounted = Path.Combine(_folder.Dir, "mounted");
        Directory.CreateDirectory(mounted);
        foreach (string key in new[] { "ca.crt", "ca.key", "upstream-ca.crt" })
        {
            File.WriteAllText(Path.Combine(mounted, key), "");
        }

        SluiceConfig original = ConfigLoader.LoadFile(_folder.Path);
        SluiceConfig inPod = ConfigLoader.Parse(text.Replace(PodPaths.InspectionDir, mounted, StringComparison.Ordinal), Path.Combine(_folder.Dir, "pod.yaml"));
        Assert.Equal(Path.Combine(mounted, "ca.crt"), inPod.Inspection!.Ca);
        Assert.Equal(Path.Combine(mounted, "ca.key"), inPod.Inspection.Key);
        Assert.Equal(Path.Combine(mounted, "upstream-ca.crt"), inPod.Inspection.UpstreamCa);
        Assert.Equal(original.Inspection!.NeverInspect.Select(p => p.Text), inPod.Inspection.NeverInspect.Select(p => p.Text));
        Assert.Equal(
            original.Rules.Select(r => (r.Name, r.Tls, string.Join(",", r.Paths.Select(p => p.Text)), string.Join(",", r.Methods))),
            inPod.Rules.Select(r => (r.Name, r.Tls, string.Join(",", r.Paths.Select(p => p.Text)), string.Join(",", r.Methods))));
        Assert.Equal(TlsMode.Inspect, inPod.Rules[0].Tls);
    }

    [Fact]
    public void The_deployment_mounts_the_secret_read_only_with_the_key_not_world_readable()
    {
        V1PodSpec pod = Manifests.One<V1Deployment>(Manifests.Load(Render())).Spec.Template.Spec;
        V1Volume volume = pod.Volumes.Single(v => v.Name == "inspection-ca");
        Assert.Equal("dev-egress-inspection-ca", volume.Secret.SecretName);
        Assert.Equal(["ca.crt", "ca.key", "upstream-ca.crt"], volume.Secret.Items.Select(i => i.Key));
        Assert.Equal(["ca.crt", "ca.key", "upstream-ca.crt"], volume.Secret.Items.Select(i => i.Path));
        Assert.Equal(288, volume.Secret.DefaultMode); // 0440: the pod's group (fsGroup), nobody else
        V1VolumeMount mount = Assert.Single(pod.Containers[0].VolumeMounts, m => m.Name == "inspection-ca");
        Assert.Equal((PodPaths.InspectionDir, true), (mount.MountPath, mount.ReadOnlyProperty == true));
        Assert.Null(mount.SubPath); // a subPath mount would never see an updated Secret
        Assert.Null(pod.Containers[0].Env);
    }

    [Fact]
    public void The_first_document_names_the_secret_its_keys_the_command_that_makes_the_ca_and_how_it_rotates()
    {
        string yaml = Render();
        Assert.Contains("# Create Secret dev-egress-inspection-ca yourself (the TLS inspection CA, never rendered here): keys ca.crt, ca.key, upstream-ca.crt, "
            + "e.g. sluice ca init --out ./inspect && kubectl -n egress create secret generic dev-egress-inspection-ca --from-file=ca.crt=./inspect/ca.crt --from-file=ca.key=./inspect/ca.key --from-file=upstream-ca.crt=...\n", yaml, StringComparison.Ordinal);
        Assert.Contains("# Rotate the CA by updating dev-egress-inspection-ca in place", yaml, StringComparison.Ordinal);
        Assert.Contains("the proxy re-reads the CA when they change", yaml, StringComparison.Ordinal);
        Assert.Contains("# Clients must trust ca.crt for origins (sluice env --inspection-ca); only the proxy pods ever see ca.key.\n", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_upstream_ca_the_secret_has_the_pair_only()
    {
        File.WriteAllText(_folder.Path, """
            listeners: [{ address: 0.0.0.0:3128 }]
            tls: { inspection: { ca: inspect/ca.crt, key: inspect/ca.key } }
            rules: [{ name: all, action: allow, tls: inspect }]
            """);
        V1PodSpec pod = Manifests.One<V1Deployment>(Manifests.Load(Render())).Spec.Template.Spec;
        Assert.Equal(["ca.crt", "ca.key"], pod.Volumes.Single(v => v.Name == "inspection-ca").Secret.Items.Select(i => i.Key));
        string text = PodConfig();
        Assert.Contains("# - tls.inspection's ca and key are the Secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("upstream", Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void Inspected_destinations_are_destinations_for_the_network_policy()
    {
        // The inspected tunnel connects where the tunnel would have: the rules' ports, nothing else.
        V1NetworkPolicy proxy = Manifests.Read<V1NetworkPolicy>(ProxyNetworkPolicyRenderer.Render(Manifests.Layout(_folder.Path)));
        Assert.Null(proxy.Spec.Egress[1].Ports); // storage-read and our-org-on-github name no ports: every port, as without inspection
        File.WriteAllText(_folder.Path, """
            listeners: [{ address: 0.0.0.0:3128 }]
            tls: { inspection: { ca: inspect/ca.crt, key: inspect/ca.key } }
            rules: [{ name: gh, action: allow, destinations: [github.com], ports: [443], tls: inspect, paths: ["/our-org"] }]
            """);
        proxy = Manifests.Read<V1NetworkPolicy>(ProxyNetworkPolicyRenderer.Render(Manifests.Layout(_folder.Path)));
        Assert.Equal("443", Assert.Single(proxy.Spec.Egress[1].Ports).Port.Value);
    }
}
