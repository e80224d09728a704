namespace Sluice.Client.Export;

/// <summary>An excluded list in one runtime's syntax, with the lints for what that runtime reads differently.</summary>
public sealed record NoProxyTranslation(IReadOnlyList<string> Tokens, IReadOnlyList<ExportLint> Lints)
{
    public string Join(string separator) => string.Join(separator, Tokens);
}

/// <summary>
/// <c>NO_PROXY</c> as the environment-reading runtimes share it (curl, Go, Python, .NET, Node with
/// NODE_USE_ENV_PROXY, wget, Ruby), written so that they agree with Sluice wherever their syntaxes allow:
/// <list type="bullet">
/// <item><c>*</c> is honoured by curl and Python only as the whole value: written alone.</item>
/// <item>A name means the name and its subdomains in Sluice; .NET and Node read a bare name as that host only and Go
/// reads <c>.name</c> as subdomains only, so both spellings are written.</item>
/// <item><c>*.name</c> is read literally (matching nothing) by curl, Python, .NET and wget: written <c>.name</c>.</item>
/// <item>IPv6 addresses: curl and Go compare the bare form, .NET and Python urllib the bracketed one: both written.</item>
/// <item>CIDRs (IPv4: curl ≥ 7.86, Go, requests; IPv6: Go only, curl 7.88.1 ignores them) and ports (Go, Node) are
/// kept, with a lint for the others.</item>
/// <item>An internationalised name is written as punycode and in Unicode (urllib and .NET compare the URL's spelling).</item>
/// </list>
/// Entries are separated by commas only: Python, wget, Go and Node split at commas only (curl 7.88.1 takes whitespace too).
/// </summary>
public static class EnvNoProxy
{
    public static NoProxyTranslation Translate(NoProxyList list)
    {
        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        if (list.Entries.Any(e => e.Kind == NoProxyKind.All))
        {
            lints.Add(new ExportLint("*", (list.Entries.Count > 1 ? "written alone (it covers the other entries), because curl and Python honour * only as the whole value; " : "")
                + ".NET and wget have no wildcard and read * as a host name, so they still use the proxy for every destination: leave HTTP(S)_PROXY unset for them instead") { Differs = [ClientRuntime.DotNet, ClientRuntime.Wget] });
            return new NoProxyTranslation(["*"], lints);
        }

        foreach (NoProxyEntry entry in list.Entries)
        {
            string bare = ExportText.Bare(entry);
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                {
                    string a = ExportText.HostPort(entry.Name, entry.Port);
                    string b = "." + a;
                    tokens.Add(a);
                    tokens.Add(b);
                    lints.Add(new ExportLint(entry.Text, $"written {a},{b}: .NET and Node read a bare name as that host only and Go reads a leading dot as subdomains only; together every runtime matches {entry.Name} and its subdomains"));
                    Unicode(entry, tokens, lints);
                    break;
                }

                case NoProxyKind.SubdomainsOnly:
                {
                    string token = "." + ExportText.HostPort(entry.Name, entry.Port);
                    tokens.Add(token);
                    lints.Add(new ExportLint(entry.Text, $"curl, Python, .NET and wget read {bare} literally and match nothing; written {token}, which curl, Python, .NET, Node and Sluice.Client's ProxyEnvironment read as {entry.Name} and its subdomains, so {entry.Name} itself goes direct too (Go and wget: subdomains only, as meant)")
                    {
                        Differs = [ClientRuntime.Curl, ClientRuntime.PythonUrllib, ClientRuntime.PythonRequests, ClientRuntime.DotNet, ClientRuntime.NodeFetch, ClientRuntime.SluiceClient],
                    });
                    Unicode(entry, tokens, lints);
                    break;
                }

                default:
                    if (ExportText.IsSingleAddress(entry) && ExportText.IsIPv6(entry) && entry.Port is null)
                    {
                        tokens.Add(bare);
                        tokens.Add($"[{bare}]");
                        lints.Add(new ExportLint(entry.Text, $"written {bare},[{bare}]: curl and Go compare the bare address, .NET and Python urllib the bracketed host"));
                    }
                    else
                    {
                        tokens.Add(ExportText.HostPort(bare, entry.Port));
                        if (!ExportText.IsSingleAddress(entry))
                        {
                            lints.Add(ExportText.IsIPv6(entry)
                                ? new ExportLint(entry.Text, "an IPv6 CIDR: only Go honours it; curl (7.88.1 verified; IPv4 CIDRs work there), Python requests and urllib, .NET, Node and wget match nothing with it, so these addresses go through the proxy; list the addresses that must go direct")
                                {
                                    Differs = [ClientRuntime.Curl, ClientRuntime.PythonUrllib, ClientRuntime.PythonRequests, ClientRuntime.DotNet, ClientRuntime.NodeFetch, ClientRuntime.Wget],
                                }
                                : new ExportLint(entry.Text, "a CIDR: curl ≥ 7.86, Go and Python requests honour it, but Python urllib, .NET, Node, wget and older curl read it as a host name and match nothing; list the addresses that must go direct, or use names")
                                {
                                    Differs = [ClientRuntime.PythonUrllib, ClientRuntime.DotNet, ClientRuntime.NodeFetch, ClientRuntime.Wget],
                                });
                        }
                    }

                    break;
            }

            if (entry.Port is { } port)
            {
                lints.Add(entry.Kind == NoProxyKind.Network
                    ? new ExportLint(entry.Text, $"curl, .NET, wget and Python requests never match an address entry with a port, and urllib only when the URL writes :{port}: there {bare} still goes through the proxy (Go and Node honour the port)")
                    {
                        Differs = [ClientRuntime.Curl, ClientRuntime.DotNet, ClientRuntime.Wget, ClientRuntime.PythonRequests],
                    }
                    : new ExportLint(entry.Text, $"curl, .NET and wget never match an entry with a port, and Python only when the URL writes :{port}: there {bare} still goes through the proxy (Go and Node honour the port)")
                    {
                        Differs = [ClientRuntime.Curl, ClientRuntime.DotNet, ClientRuntime.Wget],
                    });
            }
        }

        if (list.SeparatedByWhitespace)
        {
            lints.Add(new ExportLint("whitespace", "entries separated by whitespace are written comma-separated: Python, wget, Go and Node split NO_PROXY at commas only (curl 7.88.1 verified to take whitespace too), so the list as given would not work there"));
        }

        DestinationLints.TrailingDot(lints, list, "wget, .NET and Python", ClientRuntime.Wget, ClientRuntime.DotNet, ClientRuntime.PythonUrllib, ClientRuntime.PythonRequests);
        return new NoProxyTranslation(tokens, lints);
    }

    /// <summary>
    /// An internationalised name is also written in Unicode: Python urllib and .NET compare the host as the URL
    /// writes it, so a URL with the Unicode name matches only that spelling.
    /// </summary>
    private static void Unicode(NoProxyEntry entry, List<string> tokens, List<ExportLint> lints)
    {
        if (DestinationLints.Unicode(entry) is not { } unicode)
        {
            return;
        }

        string[] spellings = entry.Kind == NoProxyKind.Domain ? [unicode, "." + unicode] : ["." + unicode];
        tokens.AddRange(spellings.Select(u => ExportText.HostPort(u, entry.Port)));
        lints.Add(new ExportLint(entry.Text, $"also written in Unicode ({string.Join(",", spellings)}): Python urllib and .NET compare the host as a URL writes it, and the others the punycode {entry.Name}"));
    }
}
