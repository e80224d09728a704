using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>The ConfigMap: the user's file, changed only where a pod needs it, and still a valid configuration.</summary>
public sealed class ConfigMapRendererTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Examples => Manifests.Examples;

    private static string PodConfig(string path) =>
        Manifests.Read<V1ConfigMap>(ConfigMapRenderer.Render(Manifests.Layout(path), File.ReadAllText(path), Path.GetFileName(path))).Data[PodPaths.ConfigFile];

    [Theory]
    [MemberData(nameof(Examples))]
    public void The_pods_listen_on_every_address_and_the_admin_endpoint_is_reachable_by_the_probes(string example)
    {
        SluiceConfig config = ConfigLoader.LoadFile(Manifests.ExamplePath(example));
        // The admin endpoint must listen beyond loopback inside the pod, or the kubelet's probes fail.
        SluiceConfig inPod = ConfigLoader.Parse(PodConfig(Manifests.ExamplePath(example)), Path.Combine(_dir, "sluice.yaml"));
        Assert.Equal($"0.0.0.0:{config.Admin!.Address.Port}", Endpoints.Format(inPod.Admin!.Address));
        Assert.All(inPod.Listeners, l => Assert.True(l.Address.Address.Equals(System.Net.IPAddress.Any) || l.Address.Address.Equals(System.Net.IPAddress.IPv6Any)));
        Assert.Equal(config.Listeners.Select(l => l.Address.Port).Distinct(), inPod.Listeners.Select(l => l.Address.Port).Distinct());
        Assert.Equal(config.Rules.Select(r => r.Name), inPod.Rules.Select(r => r.Name));
        Assert.Equal(config.Bypass.Length, inPod.Bypass.Length);
        Assert.Equal(config.Default, inPod.Default);
    }

    [Fact]
    public void Tls_users_and_log_files_point_at_what_the_pod_mounts_and_the_comments_say_so()
    {
        using var folder = new TlsAndUsersConfig();
        string text = PodConfig(folder.Path);
        Assert.Contains("certificate: \"/etc/sluice/tls-3129/tls.crt\"", text, StringComparison.Ordinal);
        Assert.Contains("key: \"/etc/sluice/tls-3129/tls.key\"", text, StringComparison.Ordinal);
        Assert.Contains("clientCa: \"/etc/sluice/tls-3129/ca.crt\"", text, StringComparison.Ordinal);
        Assert.Contains("usersFile: \"/etc/sluice/auth/users.htpasswd\"", text, StringComparison.Ordinal);
        Assert.Contains("groupsFile: \"/etc/sluice/auth/groups\"", text, StringComparison.Ordinal);
        Assert.Contains("access: \"/var/log/sluice/access.log\"", text, StringComparison.Ordinal);
        Assert.Contains("keyPassphraseEnv: KEY_PASS", text, StringComparison.Ordinal);
        Assert.StartsWith("# Rendered by sluice k8s from tls.yaml, for pods. Changed from the original:\n", text, StringComparison.Ordinal);
        Assert.Contains("# - the users (and groups) file is the Secret corp-egress-users mounted at /etc/sluice/auth.\n", text, StringComparison.Ordinal);
        Assert.Contains("# - TLS files are the Secrets corp-egress-tls-3129 at /etc/sluice/tls-3129.\n", text, StringComparison.Ordinal);
        Assert.Contains("# - log.access is /var/log/sluice/access.log on an emptyDir", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET-CONTENT", text, StringComparison.Ordinal);
        Assert.DoesNotContain(folder.Dir, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Admin_off_is_turned_on_for_the_probes_and_unknown_keys_survive()
    {
        string path = Path.Combine(_dir, "off.yaml");
        File.WriteAllText(path, "# mine\nadmin: off\nlisteners:\n  - address: 127.0.0.1:3128\n  - address: 127.0.0.2:3128\nlimits: { maxConnections: 10 }\n");
        string text = PodConfig(path);
        Assert.Contains("# - admin was off: the probes need it, so it is on.\n", text, StringComparison.Ordinal);
        Assert.Contains("address: \"0.0.0.0:9090\"", text, StringComparison.Ordinal);
        Assert.Single(ConfigLoader.Parse(text, Path.Combine(_dir, "sluice.yaml")).Listeners); // one wildcard for both
        Assert.Contains("maxConnections: 10", text, StringComparison.Ordinal);
        Assert.False(text.EndsWith("...\n", StringComparison.Ordinal), "the end-of-document marker is left out");
    }

    [Fact]
    public void The_config_map_is_named_after_the_configuration_and_holds_one_key()
    {
        V1ConfigMap map = Manifests.Read<V1ConfigMap>(ConfigMapRenderer.Render(Manifests.Layout(Manifests.ExamplePath("mesh-egress")), "{}", "x.yaml"));
        Assert.Equal("egress-mesh-config", map.Metadata.Name);
        Assert.Equal([PodPaths.ConfigFile], map.Data.Keys);
        Assert.Equal("sluice-k8s", map.Metadata.Labels["app.kubernetes.io/managed-by"]);
    }
}
