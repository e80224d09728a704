using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Commands;

/// <summary>Builds the documents of <c>sluice k8s</c> from a validated configuration and the text it was read from.</summary>
internal sealed class K8sRenderer
{
    public const string ConfigDir = "/etc/sluice/config";
    public const string ConfigFile = "sluice.yaml";
    public const string AuthDir = "/etc/sluice/auth";
    public const string LogDir = "/var/log/sluice";
    public const int RunAsUser = 1654; // the "app" user of the .NET runtime images (deploy/Dockerfile)

    // Cluster-internal, cloud-metadata and link-local ranges the proxy pods may not reach unless addresses.allow says so.
    private static readonly string[] InternalV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"];
    private static readonly string[] InternalV6 = ["fc00::/7", "fe80::/10"];

    private readonly SluiceConfig _config;
    private readonly string _yaml;
    private readonly string _source;
    private readonly K8sCommand.Options _options;
    private readonly string _name;
    private readonly int _adminPort;
    private readonly List<ListenerPort> _listeners;

    private sealed record ListenerPort(int Port, bool Tls, ListenerConfig Config)
    {
        public string ContainerPortName => Tls ? $"proxy-tls-{Port}" : $"proxy-{Port}";

        public string ServicePortName => Tls ? $"tcp-tls-{Port}" : $"tcp-proxy-{Port}";

        public string SecretSuffix => $"tls-{Port}";

        public string MountDir => $"/etc/sluice/tls-{Port}";
    }

    public K8sRenderer(SluiceConfig config, string yaml, string source, K8sCommand.Options options)
    {
        _config = config;
        _yaml = yaml;
        _source = source;
        _options = options;
        _name = ResourceName(config.Name);
        _adminPort = config.Admin?.Address.Port ?? 9090;
        _listeners = config.Listeners
            .GroupBy(l => l.Address.Port)
            .Select(g => new ListenerPort(g.Key, g.First().Tls is not null, g.First()))
            .OrderBy(l => l.Port)
            .ToList();
        if (config.Listeners.GroupBy(l => l.Address.Port).Any(g => g.Select(l => l.Tls is null).Distinct().Count() > 1))
        {
            throw new K8sRenderException("two listeners share a port, one with TLS and one without: in a pod both would listen on every address; give them different ports");
        }

        if (_listeners.Any(l => l.Port == _adminPort))
        {
            throw new K8sRenderException($"the admin endpoint and a listener both use port {_adminPort}; in a pod both listen on every address: move admin.address to another port");
        }

        if (config.Admin?.Token is not null)
        {
            throw new K8sRenderException("admin.token is set: a ConfigMap is not a place for a secret, and sluice k8s never writes one. Remove the token from the file you deploy; the rendered proxy NetworkPolicy admits the admin port from the proxy's own namespace only");
        }
    }

    private Dictionary<string, string> SelectorLabels => new(StringComparer.Ordinal)
    {
        ["app.kubernetes.io/name"] = "sluice",
        ["app.kubernetes.io/instance"] = _name,
    };

    private YamlMap Labels()
    {
        var labels = new YamlMap();
        foreach ((string k, string v) in SelectorLabels)
        {
            labels.Add(k, v);
        }

        return labels.Add("app.kubernetes.io/component", "proxy").Add("app.kubernetes.io/managed-by", "sluice-k8s");
    }

    private static YamlMap Map(IReadOnlyDictionary<string, string> labels)
    {
        var map = new YamlMap();
        foreach ((string k, string v) in labels)
        {
            map.Add(k, v);
        }

        return map;
    }

    private YamlMap Metadata(string name) => new YamlMap().Add("name", name).Add("namespace", _options.Namespace).Add("labels", Labels());

    private YamlMap ProxyPods() => new YamlMap().Add("matchLabels", Map(SelectorLabels));

    private YamlMap ClientPods() => new YamlMap().Add("matchLabels", Map(_options.ClientsSelector));

    public string Render()
    {
        if (_options.ClientsSelector.All(kv => SelectorLabels.TryGetValue(kv.Key, out string? v) && v == kv.Value)
            || _options.ClientsSelector.All(kv => kv.Key == "app.kubernetes.io/component" && kv.Value == "proxy"))
        {
            throw new K8sRenderException("--clients-selector would select the proxy's own pods; the clients' policy would cut the proxy off");
        }

        string header = $"Rendered by `sluice k8s` from {_source}. Apply with: kubectl apply -f FILE (namespace {_options.Namespace} must exist).";
        var documents = new List<YamlDocument>
        {
            new(ConfigMap(), [header, "The configuration, as the pods read it (the proxy reloads it when the ConfigMap changes)."]),
        };
        foreach (string secret in SecretNotes())
        {
            documents[0] = documents[0] with { Comments = [.. documents[0].Comments, secret] };
        }

        documents.Add(new YamlDocument(Deployment(), ["The proxy: stateless replicas; each has its own limits, status page and failed-login throttle."]));
        documents.Add(new YamlDocument(Service(), ["Clients use http://" + ServiceHost + ":" + _listeners[0].Port.ToString(CultureInfo.InvariantCulture) + " as their proxy (HTTPS_PROXY / HTTP_PROXY)."]));
        documents.Add(new YamlDocument(Pdb(), ["Voluntary disruptions (node drains) take one replica at a time."]));
        documents.Add(new YamlDocument(Hpa(), ["Scale on CPU; scaling down drains tunnels (timeouts.drain), so it is slowed down."]));
        documents.Add(new YamlDocument(ClientsPolicy(), [
            "The clients' way out: the proxy, DNS, their own namespace and the bypass: entries of the configuration.",
            "Every other egress of pods with these labels is dropped.",
        ]));
        documents.Add(new YamlDocument(ProxyPolicy(), [
            "The proxy pods: reached by the clients on the listener ports (and by the namespace on the admin port);",
            "they reach DNS and the internet on the ports the rules allow, never cluster-internal or metadata ranges",
            "unless addresses.allow lists them.",
        ]));
        if (_options.Istio)
        {
            documents.Add(new YamlDocument(ServiceEntry(), [
                "Istio: mesh workloads reach the proxy as a plain TCP service (CONNECT is opaque to the sidecar).",
                "MESH_INTERNAL because the proxy runs in this cluster. A proxy outside the mesh (another cluster, a VM,",
                "a company proxy) is MESH_EXTERNAL, with its address in `addresses`, as in Istio's external-proxy example.",
                "Destinations behind the proxy need no ServiceEntry of their own: the mesh only ever sees connections to the proxy.",
            ]));
        }

        return YamlOut.Write(documents);
    }

    private string ServiceHost => $"{_name}.{_options.Namespace}.svc.cluster.local";

    private IEnumerable<string> SecretNotes()
    {
        foreach (ListenerPort l in _listeners.Where(l => l.Tls))
        {
            yield return $"Create Secret {_name}-{l.SecretSuffix} yourself (never rendered here): keys {string.Join(", ", TlsKeys(l.Config.Tls!).Select(k => k.Key))}, "
                + $"e.g. kubectl -n {_options.Namespace} create secret generic {_name}-{l.SecretSuffix} --from-file=tls.crt=... --from-file=tls.key=...";
        }

        if (_config.Auth is { } auth)
        {
            yield return $"Create Secret {_name}-users yourself: key users.htpasswd{(auth.Basic.GroupsFile is null ? "" : " and groups")}, "
                + $"e.g. kubectl -n {_options.Namespace} create secret generic {_name}-users --from-file=users.htpasswd=...";
        }
    }

    private static List<(string Key, string ConfigKey)> TlsKeys(TlsConfig tls)
    {
        var keys = new List<(string, string)> { ("tls.crt", "certificate"), ("tls.key", "key") };
        if (tls.ClientCa is not null)
        {
            keys.Add(("ca.crt", "clientCa"));
        }

        if (tls.ClientCrl is not null)
        {
            keys.Add(("ca.crl", "clientCrl"));
        }

        if (tls.KeyPassphraseFile is not null || tls.KeyPassphraseEnv is not null)
        {
            keys.Add(("passphrase", "keyPassphraseFile"));
        }

        return keys;
    }

    // ---------------------------------------------------------------------------------------------------------
    // ConfigMap: the user's file with what a pod needs changed, node by node (keys this code does not know survive).

    private YamlMap ConfigMap()
    {
        var data = new YamlMap().Add(ConfigFile, new YamlLiteral(RenderConfig()));
        return new YamlMap()
            .Add("apiVersion", "v1")
            .Add("kind", "ConfigMap")
            .Add("metadata", Metadata($"{_name}-config"))
            .Add("data", data);
    }

    internal string RenderConfig()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(_yaml));
        YamlMappingNode root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m ? m : new YamlMappingNode();
        var notes = new List<string>
        {
            $"Rendered by sluice k8s from {_source}, for pods. Changed from the original:",
            $"- admin.address is 0.0.0.0:{_adminPort}: the kubelet's readiness (/readyz) and liveness (/healthz) probes",
            "  reach it on the pod IP; the proxy NetworkPolicy admits it from this namespace only.",
            "- listeners listen on every address of the pod (0.0.0.0 or [::]) on their configured ports.",
        };

        var listeners = new YamlSequenceNode();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        IEnumerable<YamlMappingNode> originalListeners = Child(root, "listeners") is YamlSequenceNode seq
            ? seq.Children.OfType<YamlMappingNode>()
            : [new YamlMappingNode { { "address", "127.0.0.1:3128" } }];
        foreach (YamlMappingNode listener in originalListeners)
        {
            string text = ((YamlScalarNode)listener.Children[new YamlScalarNode("address")]).Value!;
            if (!Endpoints.TryParse(text, out IPEndPoint endpoint))
            {
                continue; // cannot happen: the file was validated before
            }
            string wildcard = endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[::]:{endpoint.Port}" : $"0.0.0.0:{endpoint.Port}";
            if (!seen.Add(wildcard))
            {
                continue;
            }

            listener.Children[new YamlScalarNode("address")] = Quoted(wildcard);
            if (Child(listener, "tls") is YamlMappingNode tls)
            {
                ListenerPort port = _listeners.First(l => l.Port == endpoint.Port);
                foreach ((string key, string configKey) in TlsKeys(port.Config.Tls!))
                {
                    if (Child(tls, configKey) is not null)
                    {
                        tls.Children[new YamlScalarNode(configKey)] = Quoted($"{port.MountDir}/{key}");
                    }
                }
            }

            listeners.Add(listener);
        }

        root.Children[new YamlScalarNode("listeners")] = listeners;
        root.Children[new YamlScalarNode("admin")] = new YamlMappingNode { { "address", Quoted($"0.0.0.0:{_adminPort}") } };
        if (_config.Admin is null)
        {
            notes.Add("- admin was off: the probes need it, so it is on.");
        }

        if (Child(root, "auth") is YamlMappingNode auth && Child(auth, "basic") is YamlMappingNode basic)
        {
            basic.Children[new YamlScalarNode("usersFile")] = Quoted($"{AuthDir}/users.htpasswd");
            if (Child(basic, "groupsFile") is not null)
            {
                basic.Children[new YamlScalarNode("groupsFile")] = Quoted($"{AuthDir}/groups");
            }

            notes.Add($"- the users (and groups) file is the Secret {_name}-users mounted at {AuthDir}.");
        }

        if (_listeners.Any(l => l.Tls))
        {
            notes.Add("- TLS files are the Secrets " + string.Join(", ", _listeners.Where(l => l.Tls).Select(l => $"{_name}-{l.SecretSuffix} at {l.MountDir}")) + ".");
        }

        if (LogFile is { } logFile && Child(root, "log") is YamlMappingNode log)
        {
            log.Children[new YamlScalarNode("access")] = Quoted($"{LogDir}/{logFile}");
            notes.Add($"- log.access is {LogDir}/{logFile} on an emptyDir (lost with the pod; stdout is the usual choice in Kubernetes).");
        }

        // The node tree goes through the emitter directly (the reflection-based serializer is not AOT-safe).
        var output = new StringWriter { NewLine = "\n" };
        new YamlStream(new YamlDotNet.RepresentationModel.YamlDocument(root)).Save(output, assignAnchors: false);
        string body = output.ToString();
        if (body.EndsWith("...\n", StringComparison.Ordinal))
        {
            body = body[..^4]; // the stream's end-of-document marker; this text is embedded in a ConfigMap
        }
        return string.Join("", notes.Select(n => $"# {n}\n")) + body;
    }

    private string? LogFile => _config.Log.Access is "stdout" or "stderr" or "off" ? null : Path.GetFileName(_config.Log.Access) is { Length: > 0 } f ? f : "access.log";

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? value : null;

    private static YamlScalarNode Quoted(string text) => new(text) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted };

    // ---------------------------------------------------------------------------------------------------------

    private int TerminationGraceSeconds => (int)Math.Ceiling(_config.Timeouts.Drain.TotalSeconds) + PreStopSeconds + 10;

    private const int PreStopSeconds = 5;

    private YamlMap Deployment()
    {
        var ports = new YamlList();
        foreach (ListenerPort l in _listeners)
        {
            ports.Add(new YamlMap().Add("name", l.ContainerPortName).Add("containerPort", l.Port).Add("protocol", "TCP"));
        }

        ports.Add(new YamlMap().Add("name", "admin").Add("containerPort", _adminPort).Add("protocol", "TCP"));

        var mounts = new YamlList
        {
            new YamlMap().Add("name", "config").Add("mountPath", ConfigDir).Add("readOnly", true),
            new YamlMap().Add("name", "tmp").Add("mountPath", "/tmp"),
        };
        var volumes = new YamlList();
        volumes.AddWithComment(new YamlMap().Add("name", "config").Add("configMap", new YamlMap().Add("name", $"{_name}-config")),
            "A directory mount (not subPath), so a changed ConfigMap reaches the pod and the proxy reloads it.");
        volumes.Add(new YamlMap().Add("name", "tmp").Add("emptyDir", new YamlMap().Add("sizeLimit", "64Mi")));
        var env = new YamlList();
        foreach (ListenerPort l in _listeners.Where(l => l.Tls))
        {
            var items = new YamlList();
            foreach ((string key, _) in TlsKeys(l.Config.Tls!))
            {
                items.Add(new YamlMap().Add("key", key).Add("path", key));
            }

            mounts.Add(new YamlMap().Add("name", l.SecretSuffix).Add("mountPath", l.MountDir).Add("readOnly", true));
            volumes.AddWithComment(new YamlMap().Add("name", l.SecretSuffix).Add("secret", new YamlMap()
                .Add("secretName", $"{_name}-{l.SecretSuffix}").Add("defaultMode", 288 /* 0440 */).Add("items", items)),
                $"TLS of the listener on port {l.Port}: a Secret you create (replacing it rotates the certificate without a restart).");
            if (l.Config.Tls!.KeyPassphraseEnv is { } variable)
            {
                env.Add(new YamlMap().Add("name", variable).Add("valueFrom", new YamlMap().Add("secretKeyRef",
                    new YamlMap().Add("name", $"{_name}-{l.SecretSuffix}").Add("key", "passphrase"))));
            }
        }

        if (_config.Auth is { } auth)
        {
            var items = new YamlList { new YamlMap().Add("key", "users.htpasswd").Add("path", "users.htpasswd") };
            if (auth.Basic.GroupsFile is not null)
            {
                items.Add(new YamlMap().Add("key", "groups").Add("path", "groups"));
            }

            mounts.Add(new YamlMap().Add("name", "users").Add("mountPath", AuthDir).Add("readOnly", true));
            volumes.AddWithComment(new YamlMap().Add("name", "users").Add("secret", new YamlMap()
                .Add("secretName", $"{_name}-users").Add("defaultMode", 288 /* 0440 */).Add("items", items)),
                "The htpasswd file: a Secret you create (sluice passwd writes it; users change without a restart).");
        }

        if (LogFile is not null)
        {
            mounts.Add(new YamlMap().Add("name", "log").Add("mountPath", LogDir));
            volumes.Add(new YamlMap().Add("name", "log").Add("emptyDir", new YamlMap().Add("sizeLimit", "1Gi")));
        }

        var container = new YamlMap()
            .Add("name", "sluice")
            .Add("image", _options.Image)
            .Add("imagePullPolicy", "IfNotPresent")
            .Add("args", new YamlList { "run", "--config", $"{ConfigDir}/{ConfigFile}" })
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
            .Add("runAsUser", RunAsUser)
            .Add("runAsGroup", RunAsUser)
            .Add("fsGroup", RunAsUser)
            .Add("seccompProfile", new YamlMap().Add("type", "RuntimeDefault"));
        if (_listeners.Any(l => l.Port < 1024))
        {
            podSecurity.Add("sysctls", new YamlList { new YamlMap().Add("name", "net.ipv4.ip_unprivileged_port_start").Add("value", "0") },
                "A listener port below 1024: let the non-root process bind it (a namespaced, safe sysctl) instead of adding a capability.");
        }

        var affinity = new YamlMap().Add("podAntiAffinity", new YamlMap().Add("preferredDuringSchedulingIgnoredDuringExecution", new YamlList
        {
            new YamlMap().Add("weight", 100).Add("podAffinityTerm", new YamlMap()
                .Add("labelSelector", ProxyPods())
                .Add("topologyKey", "kubernetes.io/hostname")),
        }), "Replicas on different nodes where possible (preferred, so scaling past the node count still works).");

        var podSpec = new YamlMap()
            .Add("terminationGracePeriodSeconds", TerminationGraceSeconds,
                $"Above timeouts.drain ({(int)Math.Ceiling(_config.Timeouts.Drain.TotalSeconds)}s) plus the preStop pause: open tunnels may finish.")
            .Add("automountServiceAccountToken", false)
            .Add("enableServiceLinks", false)
            .Add("securityContext", podSecurity)
            .Add("affinity", affinity)
            .Add("containers", new YamlList { container })
            .Add("volumes", volumes);

        var spec = new YamlMap()
            .Add("replicas", _options.Replicas, "The autoscaler below takes over from here.")
            .Add("revisionHistoryLimit", 5)
            .Add("selector", ProxyPods())
            .Add("strategy", new YamlMap().Add("type", "RollingUpdate").Add("rollingUpdate", new YamlMap().Add("maxUnavailable", 0).Add("maxSurge", 1)),
                "Never fewer ready replicas than asked for during a rollout.")
            .Add("template", new YamlMap()
                .Add("metadata", new YamlMap().Add("labels", Labels()))
                .Add("spec", podSpec));

        return new YamlMap()
            .Add("apiVersion", "apps/v1")
            .Add("kind", "Deployment")
            .Add("metadata", Metadata(_name))
            .Add("spec", spec);
    }

    private static YamlMap Probe(string path, int period, int failures) => new YamlMap()
        .Add("httpGet", new YamlMap().Add("path", path).Add("port", "admin"))
        .Add("periodSeconds", period)
        .Add("timeoutSeconds", 2)
        .Add("failureThreshold", failures);

    private YamlMap Service()
    {
        var ports = new YamlList();
        foreach (ListenerPort l in _listeners)
        {
            ports.Add(new YamlMap()
                .Add("name", l.ServicePortName)
                .Add("port", l.Port)
                .Add("targetPort", l.Port)
                .Add("protocol", "TCP")
                .Add("appProtocol", "tcp", "tcp: a mesh must not parse CONNECT as HTTP; the proxy is a TCP service to it."));
        }

        return new YamlMap()
            .Add("apiVersion", "v1")
            .Add("kind", "Service")
            .Add("metadata", Metadata(_name))
            .Add("spec", new YamlMap()
                .Add("type", "ClusterIP")
                .Add("selector", Map(SelectorLabels))
                .Add("ports", ports));
    }

    private YamlMap Pdb() => new YamlMap()
        .Add("apiVersion", "policy/v1")
        .Add("kind", "PodDisruptionBudget")
        .Add("metadata", Metadata(_name))
        .Add("spec", new YamlMap().Add("maxUnavailable", 1).Add("selector", ProxyPods()));

    private YamlMap Hpa() => new YamlMap()
        .Add("apiVersion", "autoscaling/v2")
        .Add("kind", "HorizontalPodAutoscaler")
        .Add("metadata", Metadata(_name))
        .Add("spec", new YamlMap()
            .Add("scaleTargetRef", new YamlMap().Add("apiVersion", "apps/v1").Add("kind", "Deployment").Add("name", _name))
            .Add("minReplicas", _options.Replicas)
            .Add("maxReplicas", Math.Max(_options.Replicas * 3, _options.Replicas + 1))
            .Add("metrics", new YamlList
            {
                new YamlMap().Add("type", "Resource").Add("resource", new YamlMap()
                    .Add("name", "cpu")
                    .Add("target", new YamlMap().Add("type", "Utilization").Add("averageUtilization", 70))),
            })
            .Add("behavior", new YamlMap().Add("scaleDown", new YamlMap()
                .Add("stabilizationWindowSeconds", 600)
                .Add("policies", new YamlList { new YamlMap().Add("type", "Pods").Add("value", 1).Add("periodSeconds", 120) }))));

    // ---------------------------------------------------------------------------------------------------------
    // NetworkPolicies

    private static YamlList Dns() => new()
    {
        new YamlMap()
            .Add("to", new YamlList
            {
                new YamlMap()
                    .Add("namespaceSelector", new YamlMap().Add("matchLabels", new YamlMap().Add("kubernetes.io/metadata.name", "kube-system")))
                    .Add("podSelector", new YamlMap().Add("matchLabels", new YamlMap().Add("k8s-app", "kube-dns"))),
            })
            .Add("ports", new YamlList
            {
                new YamlMap().Add("protocol", "UDP").Add("port", 53),
                new YamlMap().Add("protocol", "TCP").Add("port", 53),
            }),
    };

    private YamlList ListenerPorts()
    {
        var ports = new YamlList();
        foreach (ListenerPort l in _listeners)
        {
            ports.Add(new YamlMap().Add("protocol", "TCP").Add("port", l.Port));
        }

        return ports;
    }

    private static YamlMap PolicyPort(PortRange range)
    {
        var port = new YamlMap().Add("protocol", "TCP").Add("port", range.First);
        return range.Last > range.First ? port.Add("endPort", range.Last) : port;
    }

    private YamlMap ClientsPolicy()
    {
        var egress = new YamlList();
        egress.AddWithComment(new YamlMap()
            .Add("to", new YamlList { new YamlMap().Add("podSelector", ProxyPods()) })
            .Add("ports", ListenerPorts()), "The proxy's pods on its listener ports.");
        egress.AddWithComment(Dns()[0], "DNS: kube-dns in kube-system, UDP and TCP.");
        egress.AddWithComment(new YamlMap().Add("to", new YamlList { new YamlMap().Add("podSelector", new YamlMap()) }),
            "Pods in this namespace.");
        foreach (BypassConfig bypass in _config.Bypass)
        {
            var to = new YamlList();
            foreach (IPNetwork cidr in bypass.Cidrs)
            {
                to.Add(new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", cidr.ToString())));
            }

            var ports = new YamlList();
            foreach (PortRange range in bypass.Ports)
            {
                ports.Add(PolicyPort(range));
            }

            egress.AddWithComment(new YamlMap().Add("to", to).Add("ports", ports), $"bypass {bypass.Name} (line {bypass.Line}): direct, not through the proxy.");
        }

        return new YamlMap()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", Metadata($"{_name}-clients"))
            .Add("spec", new YamlMap()
                .Add("podSelector", ClientPods())
                .Add("policyTypes", new YamlList { "Egress" })
                .Add("egress", egress));
    }

    private YamlMap ProxyPolicy()
    {
        var ingress = new YamlList();
        ingress.AddWithComment(new YamlMap()
            .Add("from", new YamlList { new YamlMap().Add("podSelector", ClientPods()) })
            .Add("ports", ListenerPorts()), "The clients, on the listener ports.");
        ingress.AddWithComment(new YamlMap()
            .Add("from", new YamlList { new YamlMap().Add("podSelector", new YamlMap()) })
            .Add("ports", new YamlList { new YamlMap().Add("protocol", "TCP").Add("port", _adminPort) }),
            "The admin endpoint (metrics, status page) from this namespace only: it shows who goes where. A Prometheus in another namespace needs a rule of its own; the kubelet's probes come from the node and are not subject to this policy in common network plugins.");

        List<PortRange>? allowed = AllowedPorts();
        var egress = new YamlList();
        egress.AddWithComment(Dns()[0], "DNS: kube-dns in kube-system, UDP and TCP.");
        var to = new YamlList
        {
            new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", "0.0.0.0/0").Add("except", Except(InternalV4, AddressFamily.InterNetwork))),
            new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", "::/0").Add("except", Except(InternalV6, AddressFamily.InterNetworkV6))),
        };
        egress.AddWithComment(WithPorts(new YamlMap().Add("to", to), allowed), allowed is null
            ? "The internet, every port (an allow rule or the default names no ports), except cluster-internal and metadata ranges."
            : "The internet on the ports the allow rules name, except cluster-internal and metadata ranges.");
        if (!_config.Addresses.Allow.IsEmpty)
        {
            var allowTo = new YamlList();
            foreach (IPNetwork network in _config.Addresses.Allow)
            {
                allowTo.Add(new YamlMap().Add("ipBlock", new YamlMap().Add("cidr", network.ToString())));
            }

            egress.AddWithComment(WithPorts(new YamlMap().Add("to", allowTo), allowed), "addresses.allow: non-public ranges the configuration lets the proxy reach.");
        }

        return new YamlMap()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", Metadata($"{_name}-proxy"))
            .Add("spec", new YamlMap()
                .Add("podSelector", ProxyPods())
                .Add("policyTypes", new YamlList { "Ingress", "Egress" })
                .Add("ingress", ingress)
                .Add("egress", egress));
    }

    private static YamlMap WithPorts(YamlMap rule, List<PortRange>? ports)
    {
        if (ports is null)
        {
            return rule;
        }

        var list = new YamlList();
        foreach (PortRange range in ports)
        {
            list.Add(PolicyPort(range));
        }

        return rule.Add("ports", list);
    }

    /// <summary>The internal ranges, less those addresses.allow covers whole, plus the public parts of addresses.deny.</summary>
    private YamlList Except(string[] internalRanges, AddressFamily family)
    {
        var except = new YamlList();
        foreach (string text in internalRanges)
        {
            IPNetwork range = IPNetwork.Parse(text);
            if (!_config.Addresses.Allow.Any(a => Contains(a, range)))
            {
                except.Add(text);
            }
        }

        foreach (IPNetwork deny in _config.Addresses.Deny.Where(d => d.BaseAddress.AddressFamily == family && d.PrefixLength > 0))
        {
            bool covered = internalRanges.Select(IPNetwork.Parse).Any(r => Contains(r, deny) && except.Contains(r.ToString()));
            if (!covered && !except.Contains(deny.ToString()))
            {
                except.Add(deny.ToString());
            }
        }

        return except;
    }

    private static bool Contains(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);

    /// <summary>The destination ports the allow rules can let through, merged; null when that is every port.</summary>
    internal List<PortRange>? AllowedPorts()
    {
        if (_config.Default == RuleAction.Allow)
        {
            return null;
        }

        var ranges = new List<PortRange>();
        foreach (Rule rule in _config.Rules.Where(r => r.Action == RuleAction.Allow))
        {
            if (!rule.Ports.IsEmpty)
            {
                ranges.AddRange(rule.Ports);
            }
            else if (!rule.Destinations.IsEmpty && rule.Destinations.All(d => d.Port is not null))
            {
                ranges.AddRange(rule.Destinations.Select(d => new PortRange(d.Port!.Value, d.Port.Value)));
            }
            else
            {
                return null;
            }
        }

        return PortRange.Merge(ranges);
    }

    private YamlMap ServiceEntry()
    {
        var ports = new YamlList();
        foreach (ListenerPort l in _listeners)
        {
            ports.Add(new YamlMap().Add("number", l.Port).Add("name", l.ServicePortName).Add("protocol", "TCP"));
        }

        return new YamlMap()
            .Add("apiVersion", "networking.istio.io/v1", "networking.istio.io/v1beta1 before Istio 1.22.")
            .Add("kind", "ServiceEntry")
            .Add("metadata", Metadata($"{_name}-proxy"))
            .Add("spec", new YamlMap()
                .Add("hosts", new YamlList { ServiceHost }, "The Service's name; with another cluster domain than cluster.local, change it.")
                .Add("location", "MESH_INTERNAL")
                .Add("resolution", "DNS")
                .Add("ports", ports));
    }

    /// <summary>The config's name as a Kubernetes object name: lower case, letters, digits and '-'.</summary>
    internal static string ResourceName(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        string text = new string(chars).Trim('-');
        if (text.Length > 40)
        {
            text = text[..40].TrimEnd('-');
        }

        return text.Length == 0 || !char.IsAsciiLetter(text[0]) ? "sluice" + (text.Length == 0 ? "" : "-" + text) : text;
    }
}
