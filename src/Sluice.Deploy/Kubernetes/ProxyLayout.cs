using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Kubernetes;

/// <summary>One listener port of the pod; listeners on the same port share it (in a pod they listen on every address).</summary>
internal sealed record ListenerPort(int Port, bool Tls, ListenerConfig Config)
{
    public string ContainerPortName => Tls ? $"proxy-tls-{Port}" : $"proxy-{Port}";

    public string ServicePortName => Tls ? $"tcp-tls-{Port}" : $"tcp-proxy-{Port}";

    public string SecretSuffix => $"tls-{Port}";

    public string MountDir => $"/etc/sluice/tls-{Port}";
}

/// <summary>
/// What every rendered object agrees on for one configuration: names, labels, ports, the files a pod mounts.
/// Made once the configuration is known to be deployable.
/// </summary>
internal sealed class ProxyLayout
{
    private ProxyLayout(SluiceConfig config, KubernetesOptions options, List<ListenerPort> listeners)
    {
        Config = config;
        Options = options;
        Name = KubernetesNames.ResourceName(config.Name);
        AdminPort = config.Admin?.Address.Port ?? 9090;
        Listeners = listeners;
        Upstreams = UpstreamSecrets.Create(config);
    }

    public SluiceConfig Config { get; }

    public KubernetesOptions Options { get; }

    /// <summary>The object name (and the prefix of every other object's name).</summary>
    public string Name { get; }

    public int AdminPort { get; }

    /// <summary>By port.</summary>
    public IReadOnlyList<ListenerPort> Listeners { get; }

    /// <summary>The Secrets of the upstreams that need one (files to mount, variables to set), in the configuration's order.</summary>
    public IReadOnlyList<UpstreamSecret> Upstreams { get; }

    public string ServiceHost => $"{Name}.{Options.Namespace}.svc.cluster.local";

    /// <summary>The access log's file name in <see cref="PodPaths.LogDir"/>; null when the log is not a file.</summary>
    public string? LogFile => Config.Log.Access is "stdout" or "stderr" or "off" ? null : Path.GetFileName(Config.Log.Access) is { Length: > 0 } f ? f : "access.log";

    public IReadOnlyDictionary<string, string> SelectorLabels => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["app.kubernetes.io/name"] = "sluice",
        ["app.kubernetes.io/instance"] = Name,
    };

    /// <exception cref="KubernetesRenderException">The configuration cannot run in a pod as it is.</exception>
    public static ProxyLayout Create(SluiceConfig config, KubernetesOptions options)
    {
        List<ListenerPort> listeners = config.Listeners
            .GroupBy(l => l.Address.Port)
            .Select(g => new ListenerPort(g.Key, g.First().Tls is not null, g.First()))
            .OrderBy(l => l.Port)
            .ToList();
        if (config.Listeners.GroupBy(l => l.Address.Port).Any(g => g.Select(l => l.Tls is null).Distinct().Count() > 1))
        {
            throw new KubernetesRenderException("two listeners share a port, one with TLS and one without: in a pod both would listen on every address; give them different ports");
        }

        var layout = new ProxyLayout(config, options, listeners);
        if (listeners.Any(l => l.Port == layout.AdminPort))
        {
            throw new KubernetesRenderException($"the admin endpoint and a listener both use port {layout.AdminPort}; in a pod both listen on every address: move admin.address to another port");
        }

        if (config.Admin?.Token is not null)
        {
            throw new KubernetesRenderException("admin.token is set: a ConfigMap is not a place for a secret, and sluice k8s never writes one. Remove the token from the file you deploy; the rendered proxy NetworkPolicy admits the admin port from the proxy's own namespace only");
        }

        return layout;
    }

    public YamlMap Labels() => Map(SelectorLabels).Add("app.kubernetes.io/component", "proxy").Add("app.kubernetes.io/managed-by", "sluice-k8s");

    public YamlMap Metadata(string name) => new YamlMap().Add("name", name).Add("namespace", Options.Namespace).Add("labels", Labels());

    public YamlMap ProxyPods() => new YamlMap().Add("matchLabels", Map(SelectorLabels));

    public YamlMap ClientPods() => new YamlMap().Add("matchLabels", Map(Options.ClientsSelector));

    public static YamlMap Map(IReadOnlyDictionary<string, string> labels)
    {
        var map = new YamlMap();
        foreach ((string k, string v) in labels)
        {
            map.Add(k, v);
        }

        return map;
    }
}
