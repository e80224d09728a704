namespace Sluice.Client.Export;

/// <summary>
/// <c>git config --global</c> lines: <c>http.proxy</c>, <c>http.proxySSLCAInfo</c> for an HTTPS proxy,
/// <c>http.sslCAInfo</c> (the bundle of the system roots and an inspecting proxy's CA), and for each
/// excluded host <c>http.&lt;url&gt;.proxy ""</c> (an empty proxy disables proxying, environment included). Git
/// matches such a URL's scheme and host exactly (<c>*</c> stands for one label), and its port exactly, a missing port
/// meaning the scheme's default; so both http:// and https:// keys are written.
/// </summary>
public sealed class GitExporter : IProxyExporter
{
    public string Format => "git";

    public string Description => "git config lines: http.proxy, http.proxySSLCAInfo, http.<url>.proxy \"\" per excluded host";

    /// <summary>The excluded list as git URL patterns (<c>http://host[:port]/</c>, <c>https://…</c>).</summary>
    public static NoProxyTranslation TranslateUrls(NoProxyList list)
    {
        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        foreach (NoProxyEntry entry in list.Entries.Where(e => e.Kind != NoProxyKind.All))
        {
            string bare = ExportText.Bare(entry);
            var hosts = new List<string>();
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                    hosts.Add(entry.Name);
                    hosts.Add("*." + entry.Name);
                    lints.Add(new ExportLint(entry.Text, $"written for {entry.Name} and *.{entry.Name}: git's * stands for one label, so deeper names (a.b.{entry.Name}) still go through the proxy") { Differs = [ClientRuntime.Git] });
                    break;
                case NoProxyKind.SubdomainsOnly:
                    hosts.Add("*." + entry.Name);
                    lints.Add(new ExportLint(entry.Text, $"git's * stands for one label: deeper names (a.b.{entry.Name}) still go through the proxy") { Differs = [ClientRuntime.Git] });
                    break;
                default:
                    if (ExportText.IsSingleAddress(entry))
                    {
                        hosts.Add(ExportText.IsIPv6(entry) ? $"[{bare}]" : bare);
                    }
                    else
                    {
                        lints.Add(new ExportLint(entry.Text, "git matches URLs, not address ranges: left out, so these addresses go through the proxy; list the addresses") { Differs = [ClientRuntime.Git] });
                    }

                    break;
            }

            if (hosts.Count == 0)
            {
                continue;
            }

            if (entry.Port is null)
            {
                lints.Add(new ExportLint(entry.Text, "git compares ports exactly and a key without one means the default port (80 for http://, 443 for https://): other ports still go through the proxy; add host:port entries for them") { Differs = [ClientRuntime.Git] });
            }

            foreach (string scheme in (string[])["http", "https"])
            {
                foreach (string host in hosts)
                {
                    tokens.Add($"{scheme}://{(entry.Port is { } port ? $"{host}:{port}" : host)}/");
                }
            }
        }

        DestinationLints.TrailingDot(lints, list, "git", ClientRuntime.Git);
        return new NoProxyTranslation(tokens, lints);
    }

    public ExportResult Export(ExportRequest request)
    {
        ProxySettings proxy = request.Proxy;
        var lints = new List<ExportLint>();
        var lines = new List<string>();
        if (proxy.Excluded.Entries.Any(e => e.Kind == NoProxyKind.All))
        {
            lints.Add(new ExportLint("*", "every destination bypasses the proxy: written http.proxy \"\", which disables proxying (environment variables included)"));
            lines.Add(Line("http.proxy", ""));
        }
        else
        {
            lines.Add(Line("http.proxy", proxy.ToUrl(includeCredentials: true)));
            if (request.CaFile is { } ca)
            {
                if (proxy.Type == ProxyType.Https)
                {
                    lines.Add(Line("http.proxySSLCAInfo", ca));
                }
                else if (request.Inspection is null)
                {
                    lints.Add(new ExportLint("--ca", "http.proxySSLCAInfo is for an https proxy and this one is http: not written; if the proxy inspects TLS, pass its CA with --inspection-ca (http.sslCAInfo, with the system roots)"));
                }
            }

            NoProxyTranslation urls = TranslateUrls(proxy.Excluded);
            lints.AddRange(urls.Lints);
            lines.AddRange(urls.Tokens.Select(url => Line($"http.{url}.proxy", "")));
        }

        if (request.Inspection is { } trust)
        {
            lines.Add(Line("http.sslCAInfo", trust.BundleFile)); // replaces git's roots for origins: the bundle keeps the system's
            InspectionLints.ProxyCa(lints, request, "http.sslCAInfo names the bundle the environment formats share");
        }

        CommonLints.Add(lints, request, "git");
        return new ExportResult(lines, lints) { Files = InspectionLints.BundleFiles(request) };
    }

    private static string Line(string key, string value) => $"git config --global {ExportText.ShWord(key)} {ExportText.Sh(value)}";
}
