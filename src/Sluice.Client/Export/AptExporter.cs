namespace Sluice.Client.Export;

/// <summary>
/// apt.conf lines: <c>Acquire::http::Proxy</c> and <c>Acquire::https::Proxy</c>, and
/// <c>Acquire::http(s)::Proxy::host "DIRECT";</c> per excluded host, and <c>Acquire::https::CaInfo</c> naming the
/// bundle of the system roots and an inspecting proxy's CA. apt looks the host name up exactly: no suffixes,
/// wildcards, address ranges or ports.
/// </summary>
public sealed class AptExporter : IProxyExporter
{
    public string Format => "apt";

    public string Description => "apt.conf lines (Acquire::http(s)::Proxy, DIRECT per excluded host)";

    /// <summary>The excluded list as the host names apt can send direct.</summary>
    public static NoProxyTranslation TranslateHosts(NoProxyList list)
    {
        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        foreach (NoProxyEntry entry in list.Entries.Where(e => e.Kind != NoProxyKind.All))
        {
            string bare = ExportText.Bare(entry);
            string? host = null;
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                    host = entry.Name;
                    lints.Add(new ExportLint(entry.Text, $"apt matches the exact host only: {entry.Name} goes direct, its subdomains still go through the proxy; add each subdomain apt uses") { Differs = [ClientRuntime.Apt] });
                    break;
                case NoProxyKind.SubdomainsOnly:
                    lints.Add(new ExportLint(entry.Text, "apt has no wildcard: left out, so these names go through the proxy; list each host apt uses") { Differs = [ClientRuntime.Apt] });
                    break;
                default:
                    if (ExportText.IsIPv6(entry))
                    {
                        // "::" separates apt.conf keys: Acquire::http::Proxy::[fd00::5] is no key apt ever looks up.
                        lints.Add(new ExportLint(entry.Text, "apt cannot name an IPv6 host: :: separates apt.conf keys, so no per-host setting matches it: left out, so apt reaches it through the proxy") { Differs = [ClientRuntime.Apt] });
                    }
                    else if (ExportText.IsSingleAddress(entry))
                    {
                        host = bare;
                    }
                    else
                    {
                        lints.Add(new ExportLint(entry.Text, "apt has no address ranges: left out, so these addresses go through the proxy; list the addresses") { Differs = [ClientRuntime.Apt] });
                    }

                    break;
            }

            if (host is null)
            {
                continue;
            }

            if (entry.Port is not null)
            {
                lints.Add(new ExportLint(entry.Text, $"apt's per-host setting has no port: written for {host}, so apt reaches every port of it directly") { Differs = [ClientRuntime.Apt] });
            }

            foreach (string spelling in DestinationLints.Unicode(entry) is { } unicode ? [host, unicode] : (string[])[host])
            {
                if (!tokens.Contains(spelling))
                {
                    tokens.Add(spelling);
                }
            }
        }

        DestinationLints.TrailingDot(lints, list, "apt", ClientRuntime.Apt);

        return new NoProxyTranslation(tokens, lints);
    }

    public ExportResult Export(ExportRequest request)
    {
        ProxySettings proxy = request.Proxy;
        var lints = new List<ExportLint>();
        var lines = new List<string>();
        if (proxy.Excluded.Entries.Any(e => e.Kind == NoProxyKind.All))
        {
            lints.Add(new ExportLint("*", "every destination bypasses the proxy: written Proxy \"DIRECT\""));
            lines.Add("Acquire::http::Proxy \"DIRECT\";");
            lines.Add("Acquire::https::Proxy \"DIRECT\";");
        }
        else
        {
            string url = proxy.ToUrl(includeCredentials: true) + "/";
            lines.Add($"Acquire::http::Proxy \"{url}\";");
            lines.Add($"Acquire::https::Proxy \"{url}\";");
            NoProxyTranslation hosts = TranslateHosts(proxy.Excluded);
            lints.AddRange(hosts.Lints);
            foreach (string host in hosts.Tokens)
            {
                lines.Add($"Acquire::http::Proxy::{host} \"DIRECT\";");
                lines.Add($"Acquire::https::Proxy::{host} \"DIRECT\";");
            }
        }

        if (request.CaFile is not null && request.Inspection is null)
        {
            lints.Add(new ExportLint("--ca", "not written: apt has no proxy-only CA setting (Acquire::https::CaInfo replaces the trust store for every repository); install the CA system-wide with update-ca-certificates"));
        }

        if (request.Inspection is { } trust)
        {
            // CaInfo replaces apt's roots for https repositories: the bundle keeps the system's.
            lines.Add($"Acquire::https::CaInfo \"{trust.BundleFile}\";");
            lints.Add(new ExportLint("--inspection-ca", $"apt fetches as the user _apt: {trust.BundleFile} must be readable by it (mode 0644 and every folder above it searchable)"));
            InspectionLints.ProxyCa(lints, request, "Acquire::https::CaInfo serves the proxy connection and the repositories alike");
        }

        CommonLints.Add(lints, request, "apt");
        return new ExportResult(lines, lints) { Files = InspectionLints.BundleFiles(request) };
    }
}
