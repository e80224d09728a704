using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using YamlDotNet.RepresentationModel;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The TLS inspection CA in a pod: one Secret, named and never rendered, holding the CA certificate and its key (and
/// <c>upstreamCa</c>, the extra roots trusted for origins, when the configuration has one), mounted at
/// <see cref="PodPaths.InspectionDir"/>; the ConfigMap points <c>tls.inspection</c> at the mounted files.
/// </summary>
/// <remarks>
/// <c>upstreamCa</c> is public, but it lives in the same Secret: one object to create and to update, one mount, as an
/// upstream's <c>ca</c> lives in that upstream's Secret; a ConfigMap of its own would be a second object for the
/// operator to create (this renderer never copies a file into a manifest either way).
/// </remarks>
internal static class InspectionSecret
{
    public const string Certificate = "ca.crt";
    public const string Key = "ca.key";
    public const string UpstreamCa = "upstream-ca.crt";
    public const string VolumeName = "inspection-ca";

    public static string Name(ProxyLayout layout) => $"{layout.Name}-inspection-ca";

    /// <summary>Each key of the Secret with the <c>tls.inspection</c> key that names its file; empty without inspection.</summary>
    public static List<(string Key, string ConfigKey)> Keys(SluiceConfig config)
    {
        if (config.Inspection is not { } inspection)
        {
            return [];
        }

        var keys = new List<(string, string)> { (Certificate, "ca"), (Key, "key") };
        if (inspection.UpstreamCa is not null)
        {
            keys.Add((UpstreamCa, "upstreamCa"));
        }

        return keys;
    }

    /// <summary>What to create and how it rotates, for the first document's comments.</summary>
    public static IEnumerable<string> Notes(ProxyLayout layout)
    {
        List<(string Key, string ConfigKey)> keys = Keys(layout.Config);
        if (keys.Count == 0)
        {
            yield break;
        }

        string name = Name(layout);
        string upstream = keys.Any(k => k.Key == UpstreamCa) ? $" --from-file={UpstreamCa}=..." : "";
        yield return $"Create Secret {name} yourself (the TLS inspection CA, never rendered here): keys {string.Join(", ", keys.Select(k => k.Key))}, "
            + $"e.g. sluice ca init --out ./inspect && kubectl -n {layout.Options.Namespace} create secret generic {name} --from-file={Certificate}=./inspect/ca.crt --from-file={Key}=./inspect/ca.key{upstream}";
        yield return $"Rotate the CA by updating {name} in place (kubectl create secret ... --dry-run=client -o yaml | kubectl apply -f -): the kubelet replaces the mounted files "
            + "and the proxy re-reads the CA when they change, so new tunnels get the new CA without a restart (open ones keep theirs).";
        yield return $"Clients must trust {Certificate} for origins (sluice env --inspection-ca); only the proxy pods ever see {Key}.";
    }

    /// <summary>The ConfigMap's <c>tls.inspection</c>: each file at its mounted path; <c>neverInspect</c> stays as written.</summary>
    public static void PointAtMounts(YamlMappingNode root, ProxyLayout layout, List<string> notes)
    {
        List<(string Key, string ConfigKey)> keys = Keys(layout.Config);
        if (keys.Count == 0 || ConfigMapRenderer.Child(root, "tls") is not YamlMappingNode tls
            || ConfigMapRenderer.Child(tls, "inspection") is not YamlMappingNode inspection)
        {
            return;
        }

        foreach ((string key, string configKey) in keys)
        {
            if (ConfigMapRenderer.Child(inspection, configKey) is not null)
            {
                inspection.Children[new YamlScalarNode(configKey)] = ConfigMapRenderer.Quoted($"{PodPaths.InspectionDir}/{key}");
            }
        }

        string files = keys.Any(k => k.Key == UpstreamCa) ? "tls.inspection's ca, key and upstreamCa are" : "tls.inspection's ca and key are";
        notes.Add($"- {files} the Secret {Name(layout)} at {PodPaths.InspectionDir}; neverInspect and the rules are as written.");
    }

    /// <summary>The Deployment's volume and mount for the Secret.</summary>
    public static void Mount(ProxyLayout layout, YamlList mounts, YamlList volumes)
    {
        List<(string Key, string ConfigKey)> keys = Keys(layout.Config);
        if (keys.Count == 0)
        {
            return;
        }

        var items = new YamlList(keys.Select(k => new YamlMap().Add("key", k.Key).Add("path", k.Key)));
        mounts.Add(new YamlMap().Add("name", VolumeName).Add("mountPath", PodPaths.InspectionDir).Add("readOnly", true));
        volumes.AddWithComment(new YamlMap().Add("name", VolumeName).Add("secret", new YamlMap()
            .Add("secretName", Name(layout)).Add("defaultMode", 288 /* 0440 */).Add("items", items)),
            "The TLS inspection CA: a Secret you create (sluice ca init); an updated Secret reaches these files and the proxy re-reads the CA when they change.");
    }
}
