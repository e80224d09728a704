using System.Globalization;
using System.Net;
using Sluice.Policy.Names;
using Sluice.Proxy.Resolution;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Requests;

/// <summary>Where a request goes: normalised host (or IP literal), port, and for forwarded requests the origin-form path.</summary>
internal sealed record RequestTarget(string Host, IPAddress? Address, int Port, string PathAndQuery)
{
    /// <summary>Host as it goes on the wire and in logs: IPv6 literals bracketed.</summary>
    public string HostForUri => Address is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? $"[{Host}]" : Host;

    /// <summary>The Host field value: the port only when it is not the scheme default (RFC 9110 §7.2).</summary>
    public string Authority => Port == 80 ? HostForUri : $"{HostForUri}:{Port}";

    public string AuthorityWithPort => $"{HostForUri}:{Port}";

    public string AbsoluteUri => $"http://{Authority}{PathAndQuery}";

    /// <summary>The absolute URI had neither a path nor a query (<c>http://host</c>): an OPTIONS for it asks about the
    /// server as a whole, and goes to the origin as <c>OPTIONS *</c> (RFC 9112 §3.2.4).</summary>
    public bool PathWasEmpty { get; init; }

    /// <summary>Parses a CONNECT target: authority-form only, <c>host:port</c> or <c>[v6]:port</c>, port required.</summary>
    public static bool TryParseAuthority(string target, out RequestTarget? parsed, out string problem)
    {
        parsed = null;
        int colon = target.LastIndexOf(':');
        if (colon <= 0 || target.Contains('/') || target.Contains('@'))
        {
            problem = $"CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not '{target}'";
            return false;
        }

        return TryParseHostPort(target[..colon], target[(colon + 1)..], "", out parsed, out problem);
    }

    /// <summary>Parses an absolute-form target <c>http://host[:port][/path][?query]</c>.</summary>
    public static bool TryParseAbsolute(string target, out RequestTarget? parsed, out string problem, out bool isOriginForm, out bool isHttps)
    {
        parsed = null;
        isOriginForm = target.StartsWith('/') || target == "*";
        isHttps = target.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (isOriginForm)
        {
            problem = "Sluice is a forward proxy, not a web server: send absolute-form requests (GET http://host/path) or CONNECT host:port";
            return false;
        }

        if (isHttps)
        {
            problem = "https:// URLs go through a CONNECT tunnel (curl -p, or HTTPS_PROXY); Sluice does not originate TLS for forwarded requests";
            return false;
        }

        const string scheme = "http://";
        if (!target.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            problem = $"unsupported request target '{Shorten(target)}': only http:// URLs are forwarded";
            return false;
        }

        string rest = target[scheme.Length..];
        if (rest.Contains('#'))
        {
            problem = "a request target must not contain a fragment (#)";
            return false;
        }

        int pathStart = rest.IndexOfAny(['/', '?']);
        string authority = pathStart < 0 ? rest : rest[..pathStart];
        string path = pathStart < 0 ? "/" : rest[pathStart..];
        if (path.StartsWith('?'))
        {
            path = "/" + path;
        }

        if (authority.Contains('@'))
        {
            problem = "credentials in the URL (user@host) are not forwarded; remove them";
            return false;
        }

        int colon = authority.LastIndexOf(':');
        bool hasPort = colon >= 0 && !authority[colon..].Contains(']');
        string host = hasPort ? authority[..colon] : authority;
        string port = hasPort ? authority[(colon + 1)..] : "80";
        return TryParseHostPort(host, port.Length == 0 ? "80" : port, path, out parsed, out problem, pathWasEmpty: pathStart < 0);
    }

    private static bool TryParseHostPort(string host, string portText, string path, out RequestTarget? parsed, out string problem, bool pathWasEmpty = false)
    {
        parsed = null;
        if (portText.Length is 0 or > 5 || !portText.All(char.IsAsciiDigit)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            problem = $"invalid port '{portText}'";
            return false;
        }

        if (!HostNames.TryNormalize(host, out string normalized, out IPAddress? address, out problem))
        {
            return false;
        }

        parsed = new RequestTarget(normalized, address, port, path) { PathWasEmpty = pathWasEmpty };
        return true;
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
