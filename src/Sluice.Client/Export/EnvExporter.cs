namespace Sluice.Client.Export;

public enum EnvStyle
{
    /// <summary>POSIX shell: <c>export name='value'</c>.</summary>
    Sh,

    /// <summary>fish: <c>set -gx name 'value'</c>.</summary>
    Fish,

    /// <summary>PowerShell: <c>$env:name = 'value'</c>.</summary>
    PowerShell,

    /// <summary>A .env file: <c>name=value</c>.</summary>
    Dotenv,

    /// <summary>A systemd drop-in: <c>Environment="name=value"</c> lines under <c>[Service]</c>.</summary>
    Systemd,
}

/// <summary>
/// The environment variables most runtimes read (curl, Go, Python, .NET, Node, wget, Ruby): <c>http_proxy</c>,
/// <c>https_proxy</c>, <c>no_proxy</c>, each in lower and upper case (some runtimes read only one of them), and with
/// a CA file the variables that point OpenSSL, Go, requests and Node at it. With an inspecting proxy's CA, every
/// variable that replaces a runtime's roots names the bundle (system roots plus the CA), and
/// <c>NODE_EXTRA_CA_CERTS</c>, which adds to Node's, names the CA alone.
/// </summary>
public static class EnvVariables
{
    /// <summary>Variables that name a CA bundle file, for the generic environment formats.</summary>
    public static IReadOnlyList<string> CaVariables { get; } = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"];

    /// <summary>
    /// The same with an inspecting proxy's CA: OpenSSL (and so Python's ssl, Ruby, .NET on Linux, Go), requests, curl,
    /// git and Node.
    /// </summary>
    public static IReadOnlyList<string> InspectionVariables { get; } = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS"];

    /// <summary>The file a CA variable names: with an inspecting proxy's CA, the bundle, or the CA alone where the variable adds to the roots.</summary>
    public static string? CaValue(ExportRequest request, string variable) => request.Inspection is { } trust
        ? variable == "NODE_EXTRA_CA_CERTS" && !trust.BundleHoldsProxyCa ? trust.CaFile : trust.BundleFile
        : request.CaFile;

    /// <summary>The variables that name the proxy, in the order they are written.</summary>
    public static readonly string[] ProxyVariables = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"];

    public static (List<KeyValuePair<string, string>> Variables, List<ExportLint> Lints) Build(ExportRequest request, NoProxyTranslation noProxy, IReadOnlyList<string> caVariables)
    {
        string url = request.Proxy.ToUrl(includeCredentials: true);
        var variables = ProxyVariables.Select(name => new KeyValuePair<string, string>(name, url)).ToList();
        if (noProxy.Tokens.Count > 0)
        {
            variables.Add(new("no_proxy", noProxy.Join(",")));
            variables.Add(new("NO_PROXY", noProxy.Join(",")));
        }

        var lints = new List<ExportLint>(noProxy.Lints);
        if (request.Inspection is { } trust)
        {
            variables.AddRange(caVariables.Select(name => new KeyValuePair<string, string>(name, CaValue(request, name)!)));
            InspectionLints.ProxyCa(lints, request, "these variables serve the proxy connection and the origins alike");
        }
        else if (request.CaFile is { } ca)
        {
            variables.AddRange(caVariables.Select(name => new KeyValuePair<string, string>(name, ca)));
            string[] replacing = caVariables.Where(v => v is not "NODE_EXTRA_CA_CERTS").ToArray();
            if (replacing.Length > 0)
            {
                lints.Add(new ExportLint("--ca", $"{string.Join(", ", replacing)} replace the default trust store rather than add to it: unless the proxy inspects TLS (so every origin certificate comes from this CA), the file must also hold the public roots; for an inspecting proxy's CA pass --inspection-ca, which builds a bundle with the system roots"));
            }
        }

        if (request.Proxy.Type == ProxyType.Https)
        {
            lints.Add(new ExportLint("type: https", "Python urllib and wget cannot speak TLS to a proxy and will fail; curl ≥ 7.52, Go, Python requests and Node can"));
        }

        return (variables, lints);
    }
}

/// <summary>The environment variables as shell, fish, PowerShell, .env or systemd lines.</summary>
public sealed class EnvExporter(EnvStyle style) : IProxyExporter
{
    public string Format => style switch
    {
        EnvStyle.Sh => "sh",
        EnvStyle.Fish => "fish",
        EnvStyle.PowerShell => "powershell",
        EnvStyle.Dotenv => "dotenv",
        _ => "systemd",
    };

    public string Description => style switch
    {
        EnvStyle.Sh => "export lines for sh/bash/zsh",
        EnvStyle.Fish => "set -gx lines for fish",
        EnvStyle.PowerShell => "$env: lines for PowerShell",
        EnvStyle.Dotenv => "a .env file",
        _ => "a systemd drop-in ([Service] Environment= lines)",
    };

    public ExportResult Export(ExportRequest request)
    {
        (List<KeyValuePair<string, string>> variables, List<ExportLint> lints) = EnvVariables.Build(request, EnvNoProxy.Translate(request.Proxy.Excluded), request.Inspection is null ? EnvVariables.CaVariables : EnvVariables.InspectionVariables);
        InspectionLints.NotByEnvironment(lints, request);
        lints.Add(new ExportLint(ExportLintSubjects.Loopback, "Go sends localhost and loopback addresses direct whatever NO_PROXY says (net/http's ProxyFromEnvironment); the other runtimes send them through the proxy unless they are excluded") { Differs = [ClientRuntime.Go] });
        CommonLints.Add(lints, request, "no environment variable");
        var lines = new List<string>();
        if (style == EnvStyle.Systemd)
        {
            lines.Add("[Service]");
        }

        lines.AddRange(variables.Select(v => Line(style, v.Key, v.Value)));
        return new ExportResult(lines, lints) { Files = InspectionLints.BundleFiles(request) };
    }

    public static string Line(EnvStyle style, string name, string value) => style switch
    {
        EnvStyle.Sh => $"export {name}={ExportText.Sh(value)}",
        EnvStyle.Fish => $"set -gx {name} {ExportText.Fish(value)}",
        EnvStyle.PowerShell => $"$env:{name} = {ExportText.PowerShell(value)}",
        EnvStyle.Dotenv => $"{name}={ExportText.Dotenv(value)}",
        _ => $"Environment={ExportText.Systemd(name, value)}",
    };
}
