using System.Globalization;
using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sluice.Client.Export;

/// <summary>Quoting for each target syntax, and the spellings of excluded entries every translation starts from.</summary>
internal static class ExportText
{
    private static readonly JsonWriterOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>POSIX shell: single quotes, a quote written as <c>'\''</c>.</summary>
    public static string Sh(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>A shell word that needs no quotes stays bare (keys such as <c>http.proxy</c>).</summary>
    public static string ShWord(string value) => value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '/' or '=' or ',' or '@' or '%' or '+')
        ? value
        : Sh(value);

    /// <summary>fish: single quotes, where only <c>\\</c> and <c>\'</c> are escapes.</summary>
    public static string Fish(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>PowerShell: verbatim single quotes, a quote doubled.</summary>
    public static string PowerShell(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>.env: bare when every reader (docker --env-file, compose, dotenv libraries) takes it literally, else double quotes.</summary>
    public static string Dotenv(string value) => value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '/' or ',' or '@' or '%' or '+' or '*' or '[' or ']' or '=')
        ? value
        : "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("$", "\\$", StringComparison.Ordinal) + "\"";

    /// <summary>systemd <c>Environment="NAME=value"</c>: C-style escapes, and <c>%</c> doubled (it starts a specifier).</summary>
    public static string Systemd(string name, string value) =>
        "\"" + $"{name}={value}".Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("%", "%%", StringComparison.Ordinal) + "\"";

    /// <summary>A JSON string, which is also a YAML double-quoted scalar.</summary>
    public static string JsonString(string value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, Json))
        {
            json.WriteStringValue(value); // the writer, not the reflection-based serializer: AOT-safe
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>host[:port], with brackets around an IPv6 address that carries a port (or when asked).</summary>
    public static string HostPort(string host, int? port, bool bracketIPv6 = false)
    {
        bool v6 = host.Contains(':', StringComparison.Ordinal);
        string h = v6 && (port is not null || bracketIPv6) ? $"[{host}]" : host;
        return port is { } p ? $"{h}:{p.ToString(CultureInfo.InvariantCulture)}" : h;
    }

    public static bool IsSingleAddress(NoProxyEntry entry) =>
        entry.Network is { } n && n.PrefixLength == (n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);

    public static bool IsIPv6(NoProxyEntry entry) => entry.Network is { } n && n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>The entry without its port, in Sluice's canonical spelling: <c>example.com</c>, <c>*.example.com</c>, <c>10.0.0.0/8</c>, <c>::1</c>.</summary>
    public static string Bare(NoProxyEntry entry) => entry.Kind switch
    {
        NoProxyKind.All => "*",
        NoProxyKind.Domain => entry.Name,
        NoProxyKind.SubdomainsOnly => "*." + entry.Name,
        _ => IsSingleAddress(entry) ? entry.Network!.Value.BaseAddress.ToString() : entry.Network!.Value.ToString(),
    };

    /// <summary>The first and last IPv4 address of a network.</summary>
    public static (IPAddress First, IPAddress Last) Range(IPNetwork network)
    {
        byte[] first = network.BaseAddress.GetAddressBytes();
        byte[] last = (byte[])first.Clone();
        for (int bit = network.PrefixLength; bit < first.Length * 8; bit++)
        {
            last[bit / 8] |= (byte)(0x80 >> (bit % 8));
        }

        return (new IPAddress(first), new IPAddress(last));
    }
}

/// <summary>Lints every format shares: entries Sluice itself ignored, skip-verify, the vendor block's CA (inline with no file, or the file it names).</summary>
internal static class CommonLints
{
    public static void Add(List<ExportLint> lints, ExportRequest request, string runtime)
    {
        foreach (string ignored in request.Proxy.Excluded.Ignored)
        {
            lints.Add(new ExportLint(ignored, ignored.Contains(':', StringComparison.Ordinal) && ignored.Contains('%', StringComparison.Ordinal)
                ? "not an entry Sluice understands: an IPv6 zone (%name) names an interface of one machine, so no excluded entry can carry it: left out; write the address or network without the zone"
                : "not an entry Sluice understands (name, .name, *.name, *, address, CIDR, optionally :port): left out"));
        }

        if (!request.Proxy.RejectUnauthorized)
        {
            lints.Add(new ExportLint("sslRejectUnauthorized: false", $"{runtime} cannot skip verification of the proxy's certificate alone (only of every certificate): not emitted, so the proxy's certificate is still verified; trust its CA with --ca instead"));
        }

        if (request.Proxy.CaFile is { } named)
        {
            lints.Add(request.CaFile == named
                ? new ExportLint("sslCA", $"the block names the CA file {named}; it is used as --ca would be")
                : new ExportLint("sslCA", $"the block names the CA file {named}; --ca {request.CaFile} is used instead"));
        }
        else if (request.Proxy.CaPem is not null && request.CaFile is null)
        {
            lints.Add(new ExportLint("sslCA", "the CA is inline in the block and runtimes need a file: write it to a file and pass --ca FILE to emit the trust settings"));
        }

        if (request.Proxy.InspectionCaFile is { } inspection)
        {
            lints.Add(request.Inspection?.CaFile == inspection
                ? new ExportLint("sslInspectionCA", $"the block names the inspection CA file {inspection}; it is used as --inspection-ca would be")
                : new ExportLint("sslInspectionCA", $"the block names the inspection CA file {inspection}; --inspection-ca {request.Inspection?.CaFile} is used instead"));
        }
        else if (request.Proxy.InspectionCaPem is not null && request.Inspection is null)
        {
            lints.Add(new ExportLint("sslInspectionCA", "the CA is inline in the block and runtimes need a file: write it to a file and pass --inspection-ca FILE to emit the trust settings"));
        }
    }
}

/// <summary>What the formats share about an inspecting proxy's CA.</summary>
internal static class InspectionLints
{
    /// <summary>The bundle, for a format whose lines name it.</summary>
    public static IReadOnlyList<ExportFile> BundleFiles(ExportRequest request) => request.Inspection is { } trust ? [trust.Bundle] : [];

    /// <summary><c>--ca</c> beside <c>--inspection-ca</c>, where one setting serves the proxy connection and the origins.</summary>
    public static void ProxyCa(List<ExportLint> lints, ExportRequest request, string oneSetting)
    {
        if (request.Inspection is not { } trust || request.CaFile is not { } ca || Path.GetFullPath(ca) == trust.CaFile)
        {
            return;
        }

        if (request.Proxy.Type == ProxyType.Http)
        {
            lints.Add(new ExportLint("--ca", "the proxy is http, so its own CA plays no part: not written; origins are trusted through --inspection-ca"));
        }
        else if (trust.BundleHoldsProxyCa)
        {
            lints.Add(new ExportLint("--ca", $"{oneSetting}: the bundle holds the proxy's CA as well, so it is trusted for origins too"));
        }
    }

    /// <summary>For the environment formats: the runtimes that read no variable for their roots.</summary>
    public static void NotByEnvironment(List<ExportLint> lints, ExportRequest request)
    {
        if (request.Inspection is not null)
        {
            lints.Add(new ExportLint("--inspection-ca", "Java reads none of these variables (--format java builds its trust store), nor does apt (--format apt); --format system installs the CA for the whole machine"));
        }
    }
}
