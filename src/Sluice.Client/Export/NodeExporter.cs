namespace Sluice.Client.Export;

/// <summary>
/// Node (22.21+/24.5+) with <c>NODE_USE_ENV_PROXY=1</c>, and npm's <c>.npmrc</c>. Node's NO_PROXY: <c>*</c>, a bare
/// name is that host only, <c>.name</c> a suffix, <c>*.name</c> subdomains, addresses and address ranges
/// (<c>a-b</c>, no CIDR), optional <c>:port</c>. npm's <c>noproxy</c> compares dot-separated labels from the end, so
/// <c>name</c> and <c>.name</c> match the name and its subdomains; no wildcard, CIDR or port, and without
/// <c>.npmrc</c> proxy lines npm takes the proxy from HTTP(S)_PROXY: so with <c>*</c> the lines unset those variables.
/// </summary>
public sealed class NodeExporter : IProxyExporter
{
    public string Format => "node";

    public string Description => "NODE_USE_ENV_PROXY and environment for Node, and .npmrc proxy lines";

    /// <summary>The variable that makes Node's own clients read the proxy variables.</summary>
    public const string NodeEnvProxy = "NODE_USE_ENV_PROXY";

    public static NoProxyTranslation TranslateNodeNoProxy(NoProxyList list)
    {
        if (list.Entries.Any(e => e.Kind == NoProxyKind.All))
        {
            return new NoProxyTranslation(["*"], []);
        }

        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        foreach (NoProxyEntry entry in list.Entries)
        {
            string bare = ExportText.Bare(entry);
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                    string a = ExportText.HostPort(entry.Name, entry.Port);
                    tokens.Add(a);
                    tokens.Add("." + a);
                    lints.Add(new ExportLint(entry.Text, $"Node reads a bare name as that host only: written {a},.{a}"));
                    break;
                case NoProxyKind.SubdomainsOnly:
                    tokens.Add(ExportText.HostPort("*." + entry.Name, entry.Port));
                    break;
                default:
                    if (ExportText.IsSingleAddress(entry))
                    {
                        tokens.Add(ExportText.HostPort(bare, entry.Port));
                        if (ExportText.IsIPv6(entry) && entry.Port is null)
                        {
                            tokens.Add($"[{bare}]");
                        }
                    }
                    else if (!ExportText.IsIPv6(entry))
                    {
                        (System.Net.IPAddress first, System.Net.IPAddress last) = ExportText.Range(entry.Network!.Value);
                        string range = $"{first}-{last}";
                        tokens.Add(range);
                        lints.Add(new ExportLint(entry.Text, $"Node has no CIDR: written as the range {range}"));
                    }
                    else
                    {
                        lints.Add(new ExportLint(entry.Text, "Node has no CIDR: an IPv6 network is left out, so these addresses go through the proxy") { Differs = [ClientRuntime.NodeFetch] });
                    }

                    break;
            }
        }

        return new NoProxyTranslation(tokens, lints);
    }

    public static NoProxyTranslation TranslateNpmNoProxy(NoProxyList list)
    {
        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        foreach (NoProxyEntry entry in list.Entries.Where(e => e.Kind != NoProxyKind.All))
        {
            string bare = ExportText.Bare(entry);
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                    Add(entry.Name);
                    break;
                case NoProxyKind.SubdomainsOnly:
                    Add(entry.Name);
                    lints.Add(new ExportLint(entry.Text, $"npm reads {bare} literally and matches nothing; written {entry.Name} in noproxy, which also sends {entry.Name} itself direct") { Differs = [ClientRuntime.Npm] });
                    break;
                default:
                    if (ExportText.IsSingleAddress(entry))
                    {
                        Add(ExportText.IsIPv6(entry) ? $"[{bare}]" : bare);
                        if (ExportText.IsIPv6(entry))
                        {
                            lints.Add(new ExportLint(entry.Text, "npm cannot reach an IPv6 address directly: its agent looks the bracketed host up as a name (ENOTFOUND); through the proxy it works") { Differs = [ClientRuntime.Npm] });
                        }
                    }
                    else
                    {
                        lints.Add(new ExportLint(entry.Text, "npm's noproxy has no CIDR: left out, so npm reaches these addresses through the proxy") { Differs = [ClientRuntime.Npm] });
                    }

                    break;
            }

            if (entry.Port is not null)
            {
                lints.Add(new ExportLint(entry.Text, $"npm's noproxy has no ports: written without one, so npm reaches every port of {bare} directly") { Differs = [ClientRuntime.Npm] });
            }
        }

        DestinationLints.TrailingDot(lints, list, "npm", ClientRuntime.Npm);

        return new NoProxyTranslation(tokens, lints);

        void Add(string token)
        {
            if (!tokens.Contains(token))
            {
                tokens.Add(token);
            }
        }
    }

    public ExportResult Export(ExportRequest request)
    {
        ProxySettings proxy = request.Proxy;
        bool all = proxy.Excluded.Entries.Any(e => e.Kind == NoProxyKind.All);
        (List<KeyValuePair<string, string>> variables, List<ExportLint> lints) = EnvVariables.Build(request, TranslateNodeNoProxy(proxy.Excluded), ["NODE_EXTRA_CA_CERTS"]);
        lints.RemoveAll(l => l.Subject == "type: https");
        lints.Add(new ExportLint(NodeEnvProxy, "read by Node ≥ 22.21 and ≥ 24.5 only: older Node (20.20.2 verified) ignores it and the proxy variables, so its fetch and http go direct to every destination; npm reads .npmrc and the variables whatever the version") { Differs = [ClientRuntime.NodeFetch] });
        var lines = new List<string> { EnvExporter.Line(EnvStyle.Sh, NodeEnvProxy, "1") };
        if (all)
        {
            // npm has no wildcard, and without .npmrc proxy lines it falls back to HTTP(S)_PROXY: with every
            // destination direct, the proxy variables are unset rather than written.
            variables.RemoveAll(v => EnvVariables.ProxyVariables.Contains(v.Key));
            lines.Add("unset " + string.Join(' ', EnvVariables.ProxyVariables));
        }

        lines.AddRange(variables.Select(v => EnvExporter.Line(EnvStyle.Sh, v.Key, v.Value)));

        var npmrc = new List<string>();
        if (all)
        {
            lints.Add(new ExportLint("*", "npm's noproxy has no wildcard and npm falls back to HTTP(S)_PROXY when .npmrc names no proxy: no proxy variable or .npmrc proxy line is written and the lines unset the variables, so Node and npm go direct"));
        }
        else
        {
            string url = proxy.ToUrl(includeCredentials: true);
            npmrc.Add($"proxy={url}");
            npmrc.Add($"https-proxy={url}");
            NoProxyTranslation npm = TranslateNpmNoProxy(proxy.Excluded);
            lints.AddRange(npm.Lints);
            if (npm.Tokens.Count > 0)
            {
                npmrc.Add($"noproxy={npm.Join(",")}");
            }
        }

        if (request.Inspection is { } trust)
        {
            npmrc.Add($"cafile={trust.BundleFile}"); // cafile replaces npm's roots: the bundle keeps the system's
            InspectionLints.ProxyCa(lints, request, "NODE_EXTRA_CA_CERTS and npm's cafile serve the proxy connection and the origins alike");
        }
        else if (request.CaFile is { } ca)
        {
            npmrc.Add($"cafile={ca}");
            lints.Add(new ExportLint("--ca", "npm's cafile replaces its trust store (NODE_EXTRA_CA_CERTS adds to Node's): unless the proxy inspects TLS, the file must also hold the public roots; for an inspecting proxy's CA pass --inspection-ca"));
        }

        if (npmrc.Count > 0)
        {
            lines.Add("cat >> ~/.npmrc <<'EOF'");
            lines.AddRange(npmrc);
            lines.Add("EOF");
        }

        CommonLints.Add(lints, request, "Node");
        return new ExportResult(lines, lints) { Files = InspectionLints.BundleFiles(request) };
    }
}
