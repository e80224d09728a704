using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using YamlDotNet.RepresentationModel;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The Secret of one upstream, named and never rendered: the files its configuration names (credentials.userFile,
/// credentials.passwordFile, ca) mounted at <see cref="MountDir"/>, and the keys its environment variables
/// (credentials.userEnv, credentials.passwordEnv) are taken from.
/// </summary>
internal sealed record UpstreamSecret(UpstreamConfig Upstream, string Suffix)
{
    public string VolumeName => $"upstream-{Suffix}";

    public string MountDir => $"/etc/sluice/upstream-{Suffix}";

    /// <summary>Each mounted file: its key in the Secret and the key of the configuration that names it.</summary>
    public List<(string Key, string ConfigKey)> Files { get; } = [];

    /// <summary>Each environment variable and the key of the Secret it is set from.</summary>
    public List<(string Variable, string Key)> Variables { get; } = [];

    /// <summary>Every key of the Secret, in the order user, password, ca.crt.</summary>
    public IEnumerable<string> Keys => new[] { UpstreamSecrets.User, UpstreamSecrets.Password, UpstreamSecrets.Ca }
        .Where(k => Files.Any(f => f.Key == k) || Variables.Any(v => v.Key == k));

    public string SecretName(ProxyLayout layout) => $"{layout.Name}-{VolumeName}";
}

/// <summary>
/// What the upstreams of a configuration need in a pod: a Secret each for the files and variables their credentials
/// and CA come from, mounted or referenced by the Deployment, with the ConfigMap pointing at the mounted files.
/// Only where a value lives is ever rendered, never the value.
/// </summary>
internal static class UpstreamSecrets
{
    public const string User = "user";
    public const string Password = "password";
    public const string Ca = "ca.crt";

    public static List<UpstreamSecret> Create(SluiceConfig config)
    {
        var secrets = new List<UpstreamSecret>();
        var suffixes = new HashSet<string>(StringComparer.Ordinal);
        foreach (UpstreamConfig upstream in config.Upstreams)
        {
            string suffix = KubernetesNames.ResourceName(upstream.Name);
            for (int i = 2; !suffixes.Add(suffix); i++)
            {
                suffix = $"{KubernetesNames.ResourceName(upstream.Name)}-{i}";
            }

            var secret = new UpstreamSecret(upstream, suffix);
            if (upstream.Credentials is { } credentials)
            {
                Add(secret, credentials.User, User, "userFile");
                Add(secret, credentials.Password, Password, "passwordFile");
            }

            if (upstream.Ca is not null)
            {
                secret.Files.Add((Ca, "ca"));
            }

            if (secret.Keys.Any())
            {
                secrets.Add(secret);
            }
        }

        return secrets;
    }

    private static void Add(UpstreamSecret secret, SecretSource source, string key, string configKey)
    {
        switch (source.Kind)
        {
            case SecretKind.File:
                secret.Files.Add((key, configKey));
                break;
            case SecretKind.Environment:
                secret.Variables.Add((source.Name, key));
                break;
        }
    }

    /// <summary>One line per Secret to create, with the kubectl command that creates it.</summary>
    public static IEnumerable<string> Notes(ProxyLayout layout) => layout.Upstreams.Select(s =>
        $"Create Secret {s.SecretName(layout)} yourself (upstream {s.Upstream.Name}): keys {string.Join(", ", s.Keys)}, "
        + $"e.g. kubectl -n {layout.Options.Namespace} create secret generic {s.SecretName(layout)} {string.Join(" ", s.Keys.Select(k => $"--from-file={k}=..."))}");

    /// <summary>The ConfigMap's upstreams: each file the pod mounts at its mounted path.</summary>
    public static void PointAtMounts(YamlMappingNode root, ProxyLayout layout, List<string> notes)
    {
        if (layout.Upstreams.Count == 0 || ConfigMapRenderer.Child(root, "upstreams") is not YamlSequenceNode upstreams)
        {
            return;
        }

        foreach (YamlMappingNode item in upstreams.Children.OfType<YamlMappingNode>())
        {
            string? name = (ConfigMapRenderer.Child(item, "name") as YamlScalarNode)?.Value;
            if (layout.Upstreams.FirstOrDefault(s => s.Upstream.Name == name) is not { } secret)
            {
                continue;
            }

            foreach ((string key, string configKey) in secret.Files)
            {
                YamlMappingNode? owner = configKey == "ca" ? item : ConfigMapRenderer.Child(item, "credentials") as YamlMappingNode;
                if (owner is not null && ConfigMapRenderer.Child(owner, configKey) is not null)
                {
                    owner.Children[new YamlScalarNode(configKey)] = ConfigMapRenderer.Quoted($"{secret.MountDir}/{key}");
                }
            }
        }

        if (layout.Upstreams.Any(s => s.Files.Count > 0))
        {
            notes.Add("- upstream credential files and CAs are the Secrets " + string.Join(", ", layout.Upstreams.Where(s => s.Files.Count > 0).Select(s => $"{s.SecretName(layout)} at {s.MountDir}")) + ".");
        }
    }

    /// <summary>The Deployment's volumes and mounts for the files, and its variables from the Secrets' keys.</summary>
    public static void Mount(ProxyLayout layout, YamlList mounts, YamlList volumes, YamlList env)
    {
        var variables = new HashSet<string>(env.OfType<YamlMap>().Select(e => (string)e["name"]!), StringComparer.Ordinal);
        foreach (UpstreamSecret secret in layout.Upstreams)
        {
            if (secret.Files.Count > 0)
            {
                var items = new YamlList(secret.Files.Select(f => new YamlMap().Add("key", f.Key).Add("path", f.Key)));
                mounts.Add(new YamlMap().Add("name", secret.VolumeName).Add("mountPath", secret.MountDir).Add("readOnly", true));
                volumes.AddWithComment(new YamlMap().Add("name", secret.VolumeName).Add("secret", new YamlMap()
                    .Add("secretName", secret.SecretName(layout)).Add("defaultMode", 288 /* 0440 */).Add("items", items)),
                    $"Upstream {secret.Upstream.Name}: {string.Join(", ", secret.Files.Select(f => f.Key))}, a Secret you create (the proxy reads the files again when it reloads).");
            }

            foreach ((string variable, string key) in secret.Variables.Where(v => variables.Add(v.Variable)))
            {
                env.AddWithComment(new YamlMap().Add("name", variable).Add("valueFrom", new YamlMap().Add("secretKeyRef",
                    new YamlMap().Add("name", secret.SecretName(layout)).Add("key", key))), $"The {key} for upstream {secret.Upstream.Name}.");
            }
        }
    }
}
