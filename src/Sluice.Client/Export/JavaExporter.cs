using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Client.Export;

/// <summary>
/// <c>JAVA_TOOL_OPTIONS</c> with the JDK's proxy properties. <c>http.nonProxyHosts</c> (read for https too) is a
/// <c>|</c>-separated list of patterns matched against the whole host, case-insensitively, where <c>*</c> may only
/// start or end a pattern: <c>example.com</c> is that host only, <c>*.example.com</c> its subdomains, no CIDRs, no
/// ports; an IPv6 literal is compared in brackets. A CA (the HTTPS proxy's, or an inspecting proxy's for origins) goes
/// into a trust store made from the JDK's roots, named by <c>javax.net.ssl.trustStore</c>.
/// </summary>
public sealed class JavaExporter : IProxyExporter
{
    public string Format => "java";

    public string Description => "JAVA_TOOL_OPTIONS with http(s).proxyHost/Port and http.nonProxyHosts";

    /// <summary>The excluded list as <c>http.nonProxyHosts</c> patterns (without <c>*</c>, which the caller handles).</summary>
    public static NoProxyTranslation TranslateNonProxyHosts(NoProxyList list)
    {
        var tokens = new List<string>();
        var lints = new List<ExportLint>();
        foreach (NoProxyEntry entry in list.Entries.Where(e => e.Kind != NoProxyKind.All))
        {
            string bare = ExportText.Bare(entry);
            switch (entry.Kind)
            {
                case NoProxyKind.Domain:
                    tokens.Add(entry.Name);
                    tokens.Add("*." + entry.Name);
                    lints.Add(new ExportLint(entry.Text, $"Java reads {entry.Name} as that host only: written {entry.Name}|*.{entry.Name}"));
                    break;
                case NoProxyKind.SubdomainsOnly:
                    tokens.Add("*." + entry.Name);
                    break;
                default:
                    IPNetwork network = entry.Network!.Value;
                    if (network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
                    {
                        if (ExportText.IsSingleAddress(entry))
                        {
                            tokens.Add($"[{bare}]");
                        }
                        else
                        {
                            lints.Add(new ExportLint(entry.Text, "http.nonProxyHosts has no CIDR and IPv6 text has no stable prefix: left out, so these addresses go through the proxy in Java; list the addresses") { Differs = [ClientRuntime.Java] });
                        }
                    }
                    else
                    {
                        IReadOnlyList<string> patterns = Ipv4Patterns(network);
                        tokens.AddRange(patterns);
                        if (!ExportText.IsSingleAddress(entry))
                        {
                            lints.Add(new ExportLint(entry.Text, $"http.nonProxyHosts has no CIDR: written {string.Join("|", patterns)}, the same addresses as text patterns"));
                        }
                    }

                    break;
            }

            if (entry.Port is not null)
            {
                lints.Add(new ExportLint(entry.Text, $"http.nonProxyHosts has no ports: written without one, so in Java every port of {bare} goes direct") { Differs = [ClientRuntime.Java] });
            }

            if (DestinationLints.Unicode(entry) is { } unicode)
            {
                lints.Add(new ExportLint(entry.Text, $"Java does not convert internationalised names: a URL that writes {unicode} goes through the proxy with HttpURLConnection and is refused by java.net.http; write URLs with {entry.Name}") { Differs = [ClientRuntime.Java] });
            }
        }

        DestinationLints.TrailingDot(lints, list, "Java", ClientRuntime.Java);

        return new NoProxyTranslation(tokens, lints);
    }

    public ExportResult Export(ExportRequest request)
    {
        ProxySettings proxy = request.Proxy;
        var lints = new List<ExportLint>();
        var options = new List<string>();
        var lines = new List<string>();
        bool all = proxy.Excluded.Entries.Any(e => e.Kind == NoProxyKind.All);
        if (all)
        {
            lints.Add(new ExportLint("*", "every destination bypasses the proxy: no proxy properties were written (a lone * in http.nonProxyHosts throws on older JDKs)"));
        }
        else
        {
            string host = proxy.Host.Contains(':', StringComparison.Ordinal) ? $"[{proxy.Host}]" : proxy.Host;
            string port = proxy.Port.ToString(CultureInfo.InvariantCulture);
            options.AddRange([$"-Dhttp.proxyHost={host}", $"-Dhttp.proxyPort={port}", $"-Dhttps.proxyHost={host}", $"-Dhttps.proxyPort={port}"]);
            NoProxyTranslation hosts = TranslateNonProxyHosts(proxy.Excluded);
            lints.AddRange(hosts.Lints);

            // The JDK appends its defaults (localhost|127.*|[::1]|0.0.0.0|[::0]) to a non-empty list and keeps an empty
            // one empty: so an empty list is written too, or loopback would go direct.
            options.Add($"-Dhttp.nonProxyHosts={hosts.Join("|")}");
            if (hosts.Tokens.Count > 0)
            {
                lints.Add(new ExportLint(ExportLintSubjects.Loopback, "the JDK appends localhost|127.*|[::1]|0.0.0.0|[::0] to a non-empty http.nonProxyHosts: in Java, loopback destinations always go direct") { Differs = [ClientRuntime.Java] });
            }

            if (proxy.Credentials is not null)
            {
                // The JDK reads no credential property, and the JVM echoes JAVA_TOOL_OPTIONS to stderr: a password
                // there would end up in every log. Basic is re-enabled for proxies and tunnels for an Authenticator.
                options.AddRange(["-Djdk.http.auth.tunneling.disabledSchemes=", "-Djdk.http.auth.proxying.disabledSchemes="]);
                lints.Add(new ExportLint("credentials", "not written: the JDK reads no proxy credentials from properties and the JVM prints JAVA_TOOL_OPTIONS on stderr; give the code a java.net.Authenticator (Basic for proxies and tunnels was re-enabled with jdk.http.auth.*.disabledSchemes=)"));
            }

            if (proxy.Type == ProxyType.Https)
            {
                lints.Add(new ExportLint("type: https", "the JDK's HTTP clients cannot speak TLS to a proxy: they will send plain HTTP to this port; give Java an http listener"));
            }
        }

        if (request.Inspection is { } trust)
        {
            lines.Add("# trust the inspecting proxy's CA for origins: a copy of the JDK's roots plus the CA (javax.net.ssl.trustStore replaces cacerts)");
            var cas = new List<(string Alias, string File)> { ("sluice-inspection-ca", trust.CaFile) };
            if (request.CaFile is { } proxyCa && Path.GetFullPath(proxyCa) != trust.CaFile)
            {
                cas.Add(("sluice-proxy-ca", proxyCa));
            }

            TrustStore(lines, options, lints, trust.TrustStoreFile, cas);
            if (trust.CaCount > 1)
            {
                lints.Add(new ExportLint("--inspection-ca", $"{trust.CaFile} holds {trust.CaCount} certificates and keytool imports the first only: give each its own file and import the others with keytool -importcert -alias sluice-inspection-ca-2 ..."));
            }
        }
        else if (request.CaFile is { } ca)
        {
            lines.Add("# trust the CA: copy the JDK's roots, then add it (javax.net.ssl.trustStore replaces cacerts)");
            TrustStore(lines, options, lints, Path.ChangeExtension(ca, ".p12"), [("sluice-proxy-ca", ca)]);
        }

        CommonLints.Add(lints, request, "Java");
        lines.Add($"export JAVA_TOOL_OPTIONS={ExportText.Sh(string.Join(" ", options))}");
        return new ExportResult(lines, lints);
    }

    /// <summary>
    /// keytool lines that build a PKCS12 trust store from the JDK's own <c>cacerts</c> (from <c>JAVA_HOME</c>, else from
    /// the <c>java</c> on PATH) plus the given CAs, afresh each time, and the properties that make it the JVM's.
    /// </summary>
    private static void TrustStore(List<string> lines, List<string> options, List<ExportLint> lints, string store, IReadOnlyList<(string Alias, string File)> cas)
    {
        const string jdkRoots = "\"${JAVA_HOME:-$(dirname \"$(dirname \"$(readlink -f \"$(command -v java)\")\")\")}/lib/security/cacerts\"";
        lines.Add($"rm -f {ExportText.Sh(store)}");
        lines.Add($"keytool -importkeystore -noprompt -srckeystore {jdkRoots} -srcstorepass changeit -destkeystore {ExportText.Sh(store)} -deststoretype PKCS12 -deststorepass changeit");
        foreach ((string alias, string file) in cas)
        {
            lines.Add($"keytool -importcert -noprompt -alias {alias} -file {ExportText.Sh(file)} -keystore {ExportText.Sh(store)} -storetype PKCS12 -storepass changeit");
        }

        options.AddRange([$"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStoreType=PKCS12", "-Djavax.net.ssl.trustStorePassword=changeit"]);
        if (store.Any(char.IsWhiteSpace))
        {
            lints.Add(new ExportLint(cas[0].Alias == "sluice-inspection-ca" ? "--inspection-ca" : "--ca", $"JAVA_TOOL_OPTIONS is split at whitespace: the trust store {store} needs a path without spaces"));
        }
    }

    /// <summary>Octet wildcards covering exactly an IPv4 network: one when the prefix ends on an octet, else one per value of the partial octet (at most 128).</summary>
    private static IReadOnlyList<string> Ipv4Patterns(IPNetwork network)
    {
        byte[] bytes = network.BaseAddress.GetAddressBytes();
        int prefix = network.PrefixLength;
        if (prefix == 32)
        {
            return [network.BaseAddress.ToString()];
        }

        if (prefix == 0)
        {
            return ["*"];
        }

        int octets = prefix / 8;
        string head = string.Concat(bytes.Take(octets).Select(b => b.ToString(CultureInfo.InvariantCulture) + "."));
        if (prefix % 8 == 0)
        {
            return [head + "*"];
        }

        string tail = octets < 3 ? ".*" : "";
        return Enumerable.Range(bytes[octets], 1 << (8 - (prefix % 8))).Select(v => $"{head}{v.ToString(CultureInfo.InvariantCulture)}{tail}").ToArray();
    }
}
