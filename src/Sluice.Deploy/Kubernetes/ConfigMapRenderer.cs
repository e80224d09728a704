using System.Net;
using System.Net.Sockets;
using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using YamlDotNet.RepresentationModel;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The ConfigMap: the user's file with what a pod needs changed, node by node (keys this code does not know
/// survive), under comments that list each change. Every file the pod reads from a Secret is named by its mounted path.
/// </summary>
internal static class ConfigMapRenderer
{
    public static YamlMap Render(ProxyLayout layout, string yaml, string source)
    {
        var data = new YamlMap().Add(PodPaths.ConfigFile, new YamlLiteral(PodConfig(layout, yaml, source)));
        return new YamlMap()
            .Add("apiVersion", "v1")
            .Add("kind", "ConfigMap")
            .Add("metadata", layout.Metadata($"{layout.Name}-config"))
            .Add("data", data);
    }

    /// <summary>The configuration as the pods read it.</summary>
    public static string PodConfig(ProxyLayout layout, string yaml, string source)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        YamlMappingNode root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m ? m : new YamlMappingNode();
        var notes = new List<string>
        {
            $"Rendered by sluice k8s from {source}, for pods. Changed from the original:",
            $"- admin.address is 0.0.0.0:{layout.AdminPort}: the kubelet's readiness (/readyz) and liveness (/healthz) probes",
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
            string wildcard = Endpoints.Format(new IPEndPoint(endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, endpoint.Port));
            if (!seen.Add(wildcard))
            {
                continue;
            }

            listener.Children[new YamlScalarNode("address")] = Quoted(wildcard);
            if (Child(listener, "tls") is YamlMappingNode tls)
            {
                ListenerPort port = layout.Listeners.First(l => l.Port == endpoint.Port);
                foreach ((string key, string configKey) in Secrets.TlsKeys(port.Config.Tls!))
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
        root.Children[new YamlScalarNode("admin")] = new YamlMappingNode { { "address", Quoted($"0.0.0.0:{layout.AdminPort}") } };
        if (layout.Config.Admin is null)
        {
            notes.Add("- admin was off: the probes need it, so it is on.");
        }

        if (Child(root, "auth") is YamlMappingNode auth && Child(auth, "basic") is YamlMappingNode basic)
        {
            basic.Children[new YamlScalarNode("usersFile")] = Quoted($"{PodPaths.AuthDir}/users.htpasswd");
            if (Child(basic, "groupsFile") is not null)
            {
                basic.Children[new YamlScalarNode("groupsFile")] = Quoted($"{PodPaths.AuthDir}/groups");
            }

            notes.Add($"- the users (and groups) file is the Secret {layout.Name}-users mounted at {PodPaths.AuthDir}.");
        }

        if (layout.Listeners.Any(l => l.Tls))
        {
            notes.Add("- TLS files are the Secrets " + string.Join(", ", layout.Listeners.Where(l => l.Tls).Select(l => $"{layout.Name}-{l.SecretSuffix} at {l.MountDir}")) + ".");
        }

        UpstreamSecrets.PointAtMounts(root, layout, notes);
        InspectionSecret.PointAtMounts(root, layout, notes);
        if (layout.LogFile is { } logFile && Child(root, "log") is YamlMappingNode log)
        {
            log.Children[new YamlScalarNode("access")] = Quoted($"{PodPaths.LogDir}/{logFile}");
            notes.Add($"- log.access is {PodPaths.LogDir}/{logFile} on an emptyDir (lost with the pod; stdout is the usual choice in Kubernetes).");
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

    public static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? value : null;

    public static YamlScalarNode Quoted(string text) => new(text) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted };
}
