using System.Globalization;
using System.Net;

namespace Sluice.Client;

public enum ProxyType
{
    /// <summary>Plain HTTP between client and proxy (https origins still go through a CONNECT tunnel).</summary>
    Http,

    /// <summary>TLS between client and proxy ("HTTPS proxy").</summary>
    Https,
}

/// <summary>
/// How an application reaches the internet: through which proxy, which destinations bypass it, and how the proxy
/// itself is trusted. The proxy's CA and the skip-verify switch apply to the connection to the proxy only; origins
/// are validated as usual, against the system roots and, when the proxy inspects TLS, its inspection CA.
/// </summary>
public sealed record ProxySettings
{
    public required string Host { get; init; }

    public required int Port { get; init; }

    public ProxyType Type { get; init; } = ProxyType.Http;

    public NoProxyList Excluded { get; init; } = NoProxyList.Empty;

    /// <summary>False skips validation of the proxy's certificate (never the origin's).</summary>
    public bool RejectUnauthorized { get; init; } = true;

    /// <summary>PEM of the CA(s) that issued the proxy's certificate, trusted for the proxy connection only.</summary>
    public string? CaPem { get; init; }

    /// <summary>The file <see cref="CaPem"/> was read from, when the settings named one (the vendor block's <c>sslCA</c> as a path).</summary>
    public string? CaFile { get; init; }

    /// <summary>
    /// PEM of the CA(s) of a TLS-inspecting proxy, which mints the certificates of the HTTPS origins reached through
    /// it: trusted for those origin certificates in addition to the system roots, never for the proxy connection and
    /// never for a destination reached directly. Checked by <see cref="InspectionCa.Parse"/>.
    /// </summary>
    public string? InspectionCaPem { get; init; }

    /// <summary>The file <see cref="InspectionCaPem"/> was read from, when the settings named one.</summary>
    public string? InspectionCaFile { get; init; }

    /// <summary>Proxy credentials; .NET sends them after the proxy's 407 challenge.</summary>
    public NetworkCredential? Credentials { get; init; }

    public Uri ProxyUri => new($"{(Type == ProxyType.Https ? "https" : "http")}://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>
    /// From a proxy URL: <c>http://host:3128</c>, <c>https://user:pass@host:3129</c> (percent-encoded credentials),
    /// or <c>host:port</c> (http assumed, as curl does).
    /// </summary>
    public static ProxySettings FromUrl(string url, NoProxyList? excluded = null)
    {
        string text = url.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            throw new FormatException($"'{url}' is not a proxy URL such as http://proxy.example:3128 or https://proxy.example:3129");
        }

        NetworkCredential? credentials = null;
        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':');
            string user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            string password = colon < 0 ? "" : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            credentials = new NetworkCredential(user, password);
        }

        bool explicitPort = !uri.IsDefaultPort || text.Contains($":{uri.Port}", StringComparison.Ordinal);
        return new ProxySettings
        {
            Host = uri.IdnHost.Trim('[', ']'),
            Port = explicitPort ? uri.Port : (uri.Scheme == "https" ? 443 : 80),
            Type = uri.Scheme == "https" ? ProxyType.Https : ProxyType.Http,
            Credentials = credentials,
            Excluded = excluded ?? NoProxyList.Empty,
        };
    }

    /// <summary>
    /// These settings with an inspecting proxy's CA: <paramref name="pemOrPath"/> is PEM when it starts with
    /// <c>-----BEGIN</c>, else the path of a PEM file (relative to <paramref name="baseDirectory"/>, or the current
    /// directory), read and checked now.
    /// </summary>
    /// <exception cref="FormatException">The file cannot be read or holds no valid CA certificate.</exception>
    public ProxySettings WithInspectionCa(string pemOrPath, string? baseDirectory = null)
    {
        (string pem, string? file) = InspectionCa.Read(pemOrPath, baseDirectory, "inspection CA");
        return this with { InspectionCaPem = pem, InspectionCaFile = file };
    }

    /// <summary>The proxy URL with credentials, as HTTP(S)_PROXY carries it (percent-encoded).</summary>
    public string ToUrl(bool includeCredentials = true)
    {
        string auth = includeCredentials && Credentials is { } c
            ? $"{Uri.EscapeDataString(c.UserName)}{(c.Password.Length > 0 ? ":" + Uri.EscapeDataString(c.Password) : "")}@"
            : "";
        return $"{ProxyUri.Scheme}://{auth}{ProxyUri.Authority}";
    }
}
