using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sluice.Client.Export;

/// <summary>
/// The Docker client's <c>~/.docker/config.json</c> <c>proxies</c> block: Docker sets HTTP_PROXY, HTTPS_PROXY and
/// NO_PROXY (both cases) in every container it starts, so the excluded list follows the environment rules.
/// </summary>
public sealed class DockerExporter : IProxyExporter
{

    public string Format => "docker";

    public string Description => "the proxies block of ~/.docker/config.json (JSON)";

    public ExportResult Export(ExportRequest request)
    {
        NoProxyTranslation noProxy = EnvNoProxy.Translate(request.Proxy.Excluded);
        var lints = new List<ExportLint>(noProxy.Lints);
        string url = request.Proxy.ToUrl(includeCredentials: true);
        var proxies = new Dictionary<string, string> { ["httpProxy"] = url, ["httpsProxy"] = url };
        if (noProxy.Tokens.Count > 0)
        {
            proxies["noProxy"] = noProxy.Join(",");
        }

        if (request.CaFile is not null)
        {
            lints.Add(new ExportLint("--ca", "config.json cannot carry a CA: mount the file into the container and set SSL_CERT_FILE (or install it in the image's trust store)"));
        }

        if (request.Inspection is { } trust)
        {
            lints.Add(new ExportLint("--inspection-ca", $"config.json cannot carry a CA: mount {trust.BundleFile} into the container and point SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and GIT_SSL_CAINFO at it, and NODE_EXTRA_CA_CERTS at {trust.CaFile} (--format dotenv writes them for --env-file); or install the CA in the image (--format system in the Dockerfile)"));
        }

        CommonLints.Add(lints, request, "Docker");
        // Written with Utf8JsonWriter, not the reflection-based serializer, so the native (AOT) build keeps it.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("proxies");
            json.WriteStartObject("default");
            foreach ((string name, string value) in proxies)
            {
                json.WriteString(name, value);
            }

            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        string text = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        return new ExportResult(text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray(), lints) { Files = InspectionLints.BundleFiles(request) };
    }
}

/// <summary>A container's <c>env:</c> list (YAML), with the same variables as the environment formats.</summary>
public sealed class KubernetesExporter : IProxyExporter
{
    public string Format => "k8s";

    public string Description => "a container env: list (YAML)";

    public ExportResult Export(ExportRequest request)
    {
        (List<KeyValuePair<string, string>> variables, List<ExportLint> lints) = EnvVariables.Build(request, EnvNoProxy.Translate(request.Proxy.Excluded), request.Inspection is null ? EnvVariables.CaVariables : EnvVariables.InspectionVariables);
        if (request.Proxy.Credentials is not null)
        {
            lints.Add(new ExportLint("credentials", "the proxy URLs carry the credentials in clear text in the pod spec: keep them in a Secret and use valueFrom.secretKeyRef"));
        }

        if (request.Inspection is { } trust)
        {
            lints.Add(new ExportLint("--inspection-ca", $"the CA variables point at {trust.BundleFile} and {trust.CaFile} inside the container: mount both there (a ConfigMap volume: kubectl create configmap sluice-trust --from-file={trust.BundleFile} --from-file={trust.CaFile})"));
            InspectionLints.NotByEnvironment(lints, request);
        }
        else if (request.CaFile is { } ca)
        {
            lints.Add(new ExportLint("--ca", $"the CA variables point at {ca} inside the container: mount the file there (a ConfigMap volume)"));
        }

        CommonLints.Add(lints, request, "no environment variable");
        var lines = new List<string> { "env:" };
        foreach ((string name, string value) in variables)
        {
            lines.Add($"  - name: {name}");
            lines.Add($"    value: {ExportText.JsonString(value)}");
        }

        return new ExportResult(lines, lints) { Files = InspectionLints.BundleFiles(request) };
    }
}
