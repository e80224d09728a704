using k8s.Models;
using Sluice.Deploy.Kubernetes;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>The Deployment: probes, ports and a locked-down pod; Secrets mounted by name, never inlined.</summary>
public sealed class DeploymentRendererTests
{
    public static TheoryData<string> Examples => Manifests.Examples;

    private static V1Deployment Render(string path, int replicas = 2) => Manifests.Read<V1Deployment>(DeploymentRenderer.Render(Manifests.Layout(path, replicas: replicas)));

    [Theory]
    [MemberData(nameof(Examples))]
    public void Probes_ports_and_security_context_are_what_the_proxy_needs(string example)
    {
        SluiceConfig config = ConfigLoader.LoadFile(Manifests.ExamplePath(example));
        V1Deployment deployment = Render(Manifests.ExamplePath(example));
        V1Container container = Assert.Single(deployment.Spec.Template.Spec.Containers);

        int adminPort = container.Ports.Single(p => p.Name == "admin").ContainerPort;
        Assert.Equal(config.Admin!.Address.Port, adminPort);
        Assert.Equal(config.Listeners.Select(l => l.Address.Port).Distinct().Order(), container.Ports.Where(p => p.Name != "admin").Select(p => p.ContainerPort));
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("admin", container.ReadinessProbe.HttpGet.Port.Value);
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("admin", container.LivenessProbe.HttpGet.Port.Value);

        Assert.Equal(0, int.Parse(deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value));
        Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds > config.Timeouts.Drain.TotalSeconds);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.True(container.SecurityContext.RunAsNonRoot);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.Null(container.SecurityContext.Capabilities.Add);
        Assert.Equal("RuntimeDefault", deployment.Spec.Template.Spec.SecurityContext.SeccompProfile.Type);
        Assert.Equal(PodPaths.RunAsUser, deployment.Spec.Template.Spec.SecurityContext.RunAsUser);
        Assert.Equal("kubernetes.io/hostname", Assert.Single(deployment.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution).PodAffinityTerm.TopologyKey);
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(container.Resources.Limits["memory"]);
        Assert.Equal($"{PodPaths.ConfigDir}/{PodPaths.ConfigFile}", container.Args[^1]);
        Assert.Equal(Manifests.Image, container.Image);
        Assert.False(deployment.Spec.Template.Spec.AutomountServiceAccountToken);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, deployment.Spec.Template.Metadata.Labels.Where(l => deployment.Spec.Selector.MatchLabels.ContainsKey(l.Key)).ToDictionary());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Replicas_are_the_ones_asked_for(int replicas) => Assert.Equal(replicas, Render(Manifests.ExamplePath("mesh-egress"), replicas).Spec.Replicas);

    [Fact]
    public void The_grace_period_covers_the_drain_the_prestop_pause_and_a_margin()
    {
        using var folder = new TlsAndUsersConfig();
        string path = Path.Combine(folder.Dir, "drain.yaml");
        File.WriteAllText(path, "timeouts: { drain: 90500ms }\n");
        V1PodSpec pod = Render(path).Spec.Template.Spec;
        Assert.Equal(91 + 5 + 10, pod.TerminationGracePeriodSeconds);
        Assert.Equal(5, pod.Containers[0].Lifecycle.PreStop.Sleep.Seconds);
    }

    [Fact]
    public void Tls_files_and_users_come_from_secrets_referenced_by_name()
    {
        using var folder = new TlsAndUsersConfig();
        V1PodSpec pod = Render(folder.Path).Spec.Template.Spec;
        Assert.Equal("corp-egress-tls-3129", pod.Volumes.Single(v => v.Name == "tls-3129").Secret.SecretName);
        Assert.Equal(["tls.crt", "tls.key", "ca.crt", "passphrase"], pod.Volumes.Single(v => v.Name == "tls-3129").Secret.Items.Select(i => i.Key));
        Assert.Equal("corp-egress-users", pod.Volumes.Single(v => v.Name == "users").Secret.SecretName);
        Assert.Equal(["users.htpasswd", "groups"], pod.Volumes.Single(v => v.Name == "users").Secret.Items.Select(i => i.Key));
        Assert.All(pod.Volumes.Where(v => v.Secret is not null), v => Assert.Equal(288, v.Secret.DefaultMode)); // 0440
        V1EnvVar pass = Assert.Single(pod.Containers[0].Env);
        Assert.Equal(("KEY_PASS", "corp-egress-tls-3129", "passphrase"), (pass.Name, pass.ValueFrom.SecretKeyRef.Name, pass.ValueFrom.SecretKeyRef.Key));
        Assert.Contains(pod.Containers[0].VolumeMounts, m => m.Name == "tls-3129" && m.MountPath == "/etc/sluice/tls-3129" && m.ReadOnlyProperty == true);
        Assert.Contains(pod.Containers[0].VolumeMounts, m => m.Name == "users" && m.MountPath == PodPaths.AuthDir && m.ReadOnlyProperty == true);
        Assert.Contains(pod.Containers[0].VolumeMounts, m => m.Name == "log" && m.MountPath == PodPaths.LogDir);
        Assert.Equal("1Gi", pod.Volumes.Single(v => v.Name == "log").EmptyDir.SizeLimit.ToString());
        // Port 80 as non-root: the namespaced sysctl, not a capability.
        Assert.Equal("0", pod.SecurityContext.Sysctls.Single(s => s.Name == "net.ipv4.ip_unprivileged_port_start").Value);
        Assert.Null(pod.Containers[0].SecurityContext.Capabilities.Add);
    }

    [Fact]
    public void Without_tls_users_or_a_log_file_only_the_config_and_tmp_are_mounted()
    {
        V1PodSpec pod = Render(Manifests.ExamplePath("mesh-egress")).Spec.Template.Spec;
        Assert.Equal(["config", "tmp"], pod.Volumes.Select(v => v.Name));
        Assert.Equal("egress-mesh-config", pod.Volumes[0].ConfigMap.Name);
        Assert.Null(pod.Containers[0].Env);
        Assert.Null(pod.SecurityContext.Sysctls);
    }
}
