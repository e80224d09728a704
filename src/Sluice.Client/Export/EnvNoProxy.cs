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
/// <item>CIDRs (curl ≥ 7.86, Go, requests for IPv4) and ports (Go, Node) are kept, with a lint for the others.</item>
/// </list>
/// Entries are separated by commas only: curl stops reading at the first other separator.
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
                + ".NET has no wildcard and reads * as a host name, so .NET programs still use the proxy: leave HTTP(S)_PROXY unset for them instead"));
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
                    break;
                }

                case NoProxyKind.SubdomainsOnly:
                {
                    string token = "." + ExportText.HostPort(entry.Name, entry.Port);
                    tokens.Add(token);
                    lints.Add(new ExportLint(entry.Text, $"curl, Python, .NET and wget read {bare} literally and match nothing; written {token}, which curl, Python, .NET and Node read as {entry.Name} and its subdomains, so {entry.Name} itself goes direct too (Go and wget: subdomains only, as meant)"));
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
                            lints.Add(new ExportLint(entry.Text, "a CIDR: curl ≥ 7.86, Go and Python requests (IPv4) honour it, but Python urllib, .NET, Node, wget and older curl read it as a host name and match nothing; list the addresses that must go direct, or use names"));
                        }
                    }

                    break;
            }

            if (entry.Port is { } port)
            {
                lints.Add(new ExportLint(entry.Text, $"curl, .NET and wget never match an entry with a port, and Python only when the URL writes :{port}: there {bare} still goes through the proxy (Go and Node honour the port)"));
            }
        }

        return new NoProxyTranslation(tokens, lints);
    }
}
