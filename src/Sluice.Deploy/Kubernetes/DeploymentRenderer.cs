using Sluice.Deploy.Yaml;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The Deployment: stateless replicas, non-root on a read-only root filesystem, probes on the admin endpoint, a
/// termination grace period longer than the drain, and the ConfigMap and Secrets mounted as directories.
/// </summary>
internal static class DeploymentRenderer
{
    private const int PreStopSeconds = 5;

    public static YamlMap Render(ProxyLayout layout)
    {
        int drainSeconds = (int)Math.Ceiling(layout.Config.Timeouts.Drain.TotalSeconds);
        var ports = new YamlList();
        foreach (ListenerPort l in layout.Listeners)
        {
            ports.Add(new YamlMap().Add("name", l.ContainerPortName).Add("containerPort", l.Port).Add("protocol", "TCP"));
        }

        ports.Add(new YamlMap().Add("name", "admin").Add("containerPort", layout.AdminPort).Add("protocol", "TCP"));

        var mounts = new YamlList
        {
            new YamlMap().Add("name", "config").Add("mountPath", PodPaths.ConfigDir).Add("readOnly", true),
            new YamlMap().Add("name", "tmp").Add("mountPath", "/tmp"),
        };
        var volumes = new YamlList();
        volumes.AddWithComment(new YamlMap().Add("name", "config").Add("configMap", new YamlMap().Add("name", $"{layout.Name}-config")),
            "A directory mount (not subPath), so a changed ConfigMap reaches the pod and the proxy reloads it.");
        volumes.Add(new YamlMap().Add("name", "tmp").Add("emptyDir", new YamlMap().Add("sizeLimit", "64Mi")));
        var env = new YamlList();
        foreach (ListenerPort l in layout.Listeners.Where(l => l.Tls))
        {
            var items = new YamlList();
            foreach ((string key, _) in Secrets.TlsKeys(l.Config.Tls!))
            {
                items.Add(new YamlMap().Add("key", key).Add("path", key));
            }

            mounts.Add(new YamlMap().Add("name", l.SecretSuffix).Add("mountPath", l.MountDir).Add("readOnly", true));
            volumes.AddWithComment(new YamlMap().Add("name", l.SecretSuffix).Add("secret", new YamlMap()
                .Add("secretName", $"{layout.Name}-{l.SecretSuffix}").Add("defaultMode", 288 /* 0440 */).Add("items", items)),
                $"TLS of the listener on port {l.Port}: a Secret you create (replacing it rotates the certificate without a restart).");
            if (l.Config.Tls!.KeyPassphraseEnv is { } variable)
            {
                env.Add(new YamlMap().Add("name", variable).Add("valueFrom", new YamlMap().Add("secretKeyRef",
                    new YamlMap().Add("name", $"{layout.Name}-{l.SecretSuffix}").Add("key", "passphrase"))));
            }
        }

        if (layout.Config.Auth is { } auth)
        {
            var items = new YamlList { new YamlMap().Add("key", "users.htpasswd").Add("path", "users.htpasswd") };
            if (auth.Basic.GroupsFile is not null)
            {
                items.Add(new YamlMap().Add("key", "groups").Add("path", "groups"));
            }

            mounts.Add(new YamlMap().Add("name", "users").Add("mountPath", PodPaths.AuthDir).Add("readOnly", true));
            volumes.AddWithComment(new YamlMap().Add("name", "users").Add("secret", new YamlMap()
                .Add("secretName", $"{layout.Name}-users").Add("defaultMode", 288 /* 0440 */).Add("items", items)),
                "The htpasswd file: a Secret you create (sluice passwd writes it; users change without a restart).");
        }

        UpstreamSecrets.Mount(layout, mounts, volumes, env);
        InspectionSecret.Mount(layout, mounts, volumes);
        if (layout.LogFile is not null)
        {
            mounts.Add(new YamlMap().Add("name", "log").Add("mountPath", PodPaths.LogDir));
            volumes.Add(new YamlMap().Add("name", "log").Add("emptyDir", new YamlMap().Add("sizeLimit", "1Gi")));
        }

        var container = new YamlMap()
            .Add("name", "sluice")
            .Add("image", layout.Options.Image)
            .Add("imagePullPolicy", "IfNotPresent")
            .Add("args", new YamlList { "run", "--config", $"{PodPaths.ConfigDir}/{PodPaths.ConfigFile}" })
            .Add("ports", ports)
            .Add("env", env.Count > 0 ? env : null)
            .Add("readinessProbe", Probe("/readyz", 5, 2), "503 from the first SIGTERM: the Service stops sending new clients before the listeners close.")
            .Add("livenessProbe", Probe("/healthz", 10, 3))
            .Add("lifecycle", new YamlMap().Add("preStop", new YamlMap().Add("sleep", new YamlMap().Add("seconds", PreStopSeconds))),
                "Give endpoint removal time to reach every node before SIGTERM stops accepting (Kubernetes 1.30+).")
            .Add("resources", new YamlMap()
                .Add("requests", new YamlMap().Add("cpu", "250m").Add("memory", "128Mi"))
                .Add("limits", new YamlMap().Add("cpu", "2").Add("memory", "512Mi")))
            .Add("securityContext", new YamlMap()
                .Add("runAsNonRoot", true)
                .Add("allowPrivilegeEscalation", false)
                .Add("readOnlyRootFilesystem", true)
                .Add("capabilities", new YamlMap().Add("drop", new YamlList { "ALL" })))
            .Add("volumeMounts", mounts);

        var podSecurity = new YamlMap()
            .Add("runAsNonRoot", true)
            .Add("runAsUser", PodPaths.RunAsUser)
            .Add("runAsGroup", PodPaths.RunAsUser)
            .Add("fsGroup", PodPaths.RunAsUser)
            .Add("seccompProfile", new YamlMap().Add("type", "RuntimeDefault"));
        if (layout.Listeners.Any(l => l.Port < 1024))
        {
            podSecurity.Add("sysctls", new YamlList { new YamlMap().Add("name", "net.ipv4.ip_unprivileged_port_start").Add("value", "0") },
                "A listener port below 1024: let the non-root process bind it (a namespaced, safe sysctl) instead of adding a capability.");
        }

        var affinity = new YamlMap().Add("podAntiAffinity", new YamlMap().Add("preferredDuringSchedulingIgnoredDuringExecution", new YamlList
        {
            new YamlMap().Add("weight", 100).Add("podAffinityTerm", new YamlMap()
                .Add("labelSelector", layout.ProxyPods())
                .Add("topologyKey", "kubernetes.io/hostname")),
        }), "Replicas on different nodes where possible (preferred, so scaling past the node count still works).");

        var podSpec = new YamlMap()
            .Add("terminationGracePeriodSeconds", drainSeconds + PreStopSeconds + 10,
                $"Above timeouts.drain ({drainSeconds}s) plus the preStop pause: open tunnels may finish.")
            .Add("automountServiceAccountToken", false)
            .Add("enableServiceLinks", false)
            .Add("securityContext", podSecurity)
            .Add("affinity", affinity)
            .Add("containers", new YamlList { container })
            .Add("volumes", volumes);

        var spec = new YamlMap()
            .Add("replicas", layout.Options.Replicas, "The autoscaler below takes over from here.")
            .Add("revisionHistoryLimit", 5)
            .Add("selector", layout.ProxyPods())
            .Add("strategy", new YamlMap().Add("type", "RollingUpdate").Add("rollingUpdate", new YamlMap().Add("maxUnavailable", 0).Add("maxSurge", 1)),
                "Never fewer ready replicas than asked for during a rollout.")
            .Add("template", new YamlMap()
                .Add("metadata", new YamlMap().Add("labels", layout.Labels()))
                .Add("spec", podSpec));

        return new YamlMap()
            .Add("apiVersion", "apps/v1")
            .Add("kind", "Deployment")
            .Add("metadata", layout.Metadata(layout.Name))
            .Add("spec", spec);
    }

    private static YamlMap Probe(string path, int period, int failures) => new YamlMap()
        .Add("httpGet", new YamlMap().Add("path", path).Add("port", "admin"))
        .Add("periodSeconds", period)
        .Add("timeoutSeconds", 2)
        .Add("failureThreshold", failures);
}
