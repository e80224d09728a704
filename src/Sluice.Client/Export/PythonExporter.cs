namespace Sluice.Client.Export;

/// <summary>
/// Environment for Python: urllib's <c>proxy_bypass_environment</c> strips leading dots and matches a name and its
/// subdomains, honours <c>*</c> only as the whole value, has no CIDR and compares <c>host:port</c> only when the URL
/// writes the port; requests first matches every entry as a plain suffix (so a bare <c>example.com</c> also matches
/// <c>badexample.com</c>) and honours IPv4 CIDRs. With a CA: <c>REQUESTS_CA_BUNDLE</c>, <c>SSL_CERT_FILE</c>, <c>PIP_CERT</c>
/// (each replaces the roots: with an inspecting proxy's CA they name the bundle of the system roots plus the CA).
/// </summary>
public sealed class PythonExporter : IProxyExporter
{
    public string Format => "python";

    public string Description => "environment for urllib, requests and pip, with the CA bundle variables";

    public static NoProxyTranslation TranslateNoProxy(NoProxyList list)
    {
        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        if (list.Entries.Any(e => e.Kind == NoProxyKind.All))
        {
            return new NoProxyTranslation(["*"], list.Entries.Count > 1 ? [new ExportLint("*", "written alone (it covers the other entries): Python honours * only as the whole value")] : []);
        }

        foreach (NoProxyEntry entry in list.Entries)
        {
            string bare = ExportText.Bare(entry);
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                    tokens.Add("." + ExportText.HostPort(entry.Name, entry.Port));
                    if (!entry.Text.StartsWith('.'))
                    {
                        lints.Add(new ExportLint(entry.Text, $"written .{entry.Name}: requests matches a bare name as a plain suffix (bad{entry.Name} too); with the dot urllib still matches {entry.Name} itself"));
                    }

                    Unicode(entry, tokens, lints);
                    break;
                case NoProxyKind.SubdomainsOnly:
                    tokens.Add("." + ExportText.HostPort(entry.Name, entry.Port));
                    lints.Add(new ExportLint(entry.Text, $"Python reads {bare} literally and matches nothing; written .{entry.Name}, which urllib and requests read as {entry.Name} and its subdomains, so it also sends {entry.Name} itself direct") { Differs = [ClientRuntime.PythonUrllib, ClientRuntime.PythonRequests] });
                    Unicode(entry, tokens, lints);
                    break;
                default:
                    if (ExportText.IsSingleAddress(entry) && ExportText.IsIPv6(entry) && entry.Port is null)
                    {
                        tokens.Add(bare);
                        tokens.Add($"[{bare}]");
                        lints.Add(new ExportLint(entry.Text, $"written {bare},[{bare}]: requests compares the bare address, urllib the bracketed host"));
                    }
                    else
                    {
                        tokens.Add(ExportText.HostPort(bare, entry.Port));
                        if (!ExportText.IsSingleAddress(entry))
                        {
                            lints.Add(ExportText.IsIPv6(entry)
                                ? new ExportLint(entry.Text, "a CIDR: urllib and requests read an IPv6 CIDR as a host name and match nothing; list the addresses") { Differs = [ClientRuntime.PythonUrllib, ClientRuntime.PythonRequests] }
                                : new ExportLint(entry.Text, "a CIDR: requests honours it, urllib reads it as a host name and matches nothing; list the addresses for urllib") { Differs = [ClientRuntime.PythonUrllib] });
                        }
                    }

                    break;
            }

            if (entry.Port is { } port)
            {
                lints.Add(entry.Kind == NoProxyKind.Network
                    ? new ExportLint(entry.Text, $"requests never matches an address entry with a port (it compares the bare address, so {bare} goes through the proxy on every port); urllib compares the port only when the URL writes :{port}") { Differs = [ClientRuntime.PythonRequests] }
                    : new ExportLint(entry.Text, $"Python compares the port only when the URL writes :{port} explicitly"));
            }
        }

        DestinationLints.TrailingDot(lints, list, "urllib and requests", ClientRuntime.PythonUrllib, ClientRuntime.PythonRequests);
        return new NoProxyTranslation(tokens, lints);
    }

    /// <summary>urllib compares the host as a URL writes it: an internationalised name is written in Unicode too.</summary>
    private static void Unicode(NoProxyEntry entry, List<string> tokens, List<ExportLint> lints)
    {
        if (DestinationLints.Unicode(entry) is { } unicode)
        {
            tokens.Add("." + ExportText.HostPort(unicode, entry.Port));
            lints.Add(new ExportLint(entry.Text, $"also written .{unicode}: urllib compares the host as a URL writes it (Unicode), requests the punycode {entry.Name}"));
        }
    }

    public ExportResult Export(ExportRequest request)
    {
        (List<KeyValuePair<string, string>> variables, List<ExportLint> lints) = EnvVariables.Build(request, TranslateNoProxy(request.Proxy.Excluded), ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT"]);
        lints.RemoveAll(l => l.Subject == "type: https");
        if (request.Proxy.Type == ProxyType.Https)
        {
            lints.Add(new ExportLint("type: https", "urllib cannot speak TLS to a proxy (it sends plain HTTP to this port); requests and pip can (urllib3 ≥ 1.26)"));
        }

        CommonLints.Add(lints, request, "Python");
        return new ExportResult(variables.Select(v => EnvExporter.Line(EnvStyle.Sh, v.Key, v.Value)).ToArray(), lints) { Files = InspectionLints.BundleFiles(request) };
    }
}
