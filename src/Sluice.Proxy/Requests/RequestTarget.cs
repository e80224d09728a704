using System.Net;
using Sluice.Policy.Names;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;

namespace Sluice.Proxy.Requests;

/// <summary>Where a request goes: normalised host (or IP literal), port, and for forwarded requests the origin-form path.</summary>
internal sealed record RequestTarget(HostPort Destination, string PathAndQuery)
{
    public string Host => Destination.Host;

    public IPAddress? Address => Destination.Address;

    public int Port => Destination.Port;

    /// <summary>Host as it goes on the wire and in logs: IPv6 literals bracketed.</summary>
    public string HostForUri => Destination.HostForUri;

    /// <summary>A request inside an inspected tunnel: https, port 443 by default.</summary>
    public bool Secure { get; init; }

    /// <summary>The Host field value: the port only when it is not the scheme default (RFC 9110 §7.2).</summary>
    public string Authority => Port == (Secure ? 443 : 80) ? HostForUri : AuthorityWithPort;

    /// <summary><c>host:port</c>, formatted once: the CONNECT's log URL, the status page's destination, error details.</summary>
    public string AuthorityWithPort { get; } = Destination.ToString();

    /// <summary>The URI for logs; a request for <c>*</c> (asterisk-form) names the server alone.</summary>
    public string AbsoluteUri => $"{(Secure ? "https" : "http")}://{Authority}{(PathAndQuery == "*" ? "" : PathAndQuery)}";

    /// <summary>The absolute URI had neither a path nor a query (<c>http://host</c>): an OPTIONS for it asks about the
    /// server as a whole, and goes to the origin as <c>OPTIONS *</c> (RFC 9112 §3.2.4).</summary>
    public bool PathWasEmpty { get; init; }

    /// <summary>Parses a CONNECT target: authority-form only, <c>host:port</c> or <c>[v6]:port</c>, port required.</summary>
    public static bool TryParseAuthority(string target, out RequestTarget? parsed, out string problem)
    {
        parsed = RequestTargets.TryReadConnect(target, out HostPort destination, out problem) ? new RequestTarget(destination, "") : null;
        return parsed is not null;
    }

    /// <summary>
    /// Reads a request inside an inspected tunnel to <paramref name="tunnel"/>: origin-form (<c>/path?q</c>, or <c>*</c>
    /// for OPTIONS) or absolute-form <c>https://authority/path</c> (RFC 9112 §3.2.2). The authority (the URI's, else
    /// Host) must be the tunnel's: a request for another host is refused with 421, as TLS made it the tunnel's origin's.
    /// </summary>
    public static bool TryParseInside(string target, string? host, RequestTarget tunnel, out RequestTarget? parsed, out ProxyErrorKind refusal, out string problem)
    {
        parsed = null;
        refusal = ProxyErrorKind.MalformedRequest;
        string pathAndQuery = target;
        string? authority = host;
        bool pathWasEmpty = target == "*";
        if (target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            int end = target.AsSpan(8).IndexOfAny('/', '?');
            authority = end < 0 ? target[8..] : target.Substring(8, end);
            pathAndQuery = end < 0 ? "/" : target[(8 + end)..];
            pathWasEmpty = end < 0; // https://host: an OPTIONS for it is OPTIONS * at the origin (RFC 9112 §3.2.4)
            if (pathAndQuery.StartsWith('?'))
            {
                pathAndQuery = "/" + pathAndQuery;
            }
        }
        else if (!target.StartsWith('/') && target != "*")
        {
            problem = $"inside an inspected tunnel a request target is /path or https://{tunnel.Authority}/path, not '{HostPort.Redact(target)}'";
            return false;
        }

        if (pathAndQuery.Contains('#'))
        {
            problem = "a request target carries no fragment (#)";
            return false;
        }

        // Only HTTP/1.0 may leave Host out (HTTP/1.1 without it never gets here): inside TLS to one origin, the request
        // can only be for that origin.
        authority ??= tunnel.AuthorityWithPort;
        if (!HostPort.TryParseAuthority(authority, 443, out HostPort named, out string why))
        {
            problem = $"Host '{HostPort.Redact(authority)}': {why}";
            return false;
        }

        if (named.Host != tunnel.Host || named.Port != tunnel.Port)
        {
            refusal = ProxyErrorKind.MisdirectedRequest;
            problem = $"this tunnel was opened to {tunnel.AuthorityWithPort}; a request for {named} needs its own CONNECT";
            return false;
        }

        problem = "";
        // "*" stays "*": an OPTIONS goes up as OPTIONS *, and any other method as the client wrote it, never as an
        // empty request target.
        parsed = new RequestTarget(tunnel.Destination, pathAndQuery) { Secure = true, PathWasEmpty = pathWasEmpty };
        return true;
    }

    /// <summary>Parses an absolute-form target <c>http://host[:port][/path][?query]</c>.</summary>
    public static bool TryParseAbsolute(string target, out RequestTarget? parsed, out string problem, out bool isOriginForm, out bool isHttps)
    {
        bool read = RequestTargets.TryReadAbsolute(target, out UriTarget uri, out ProxyErrorKind refusal, out problem);
        isOriginForm = !read && refusal == ProxyErrorKind.NotAProxyRequest;
        isHttps = !read && refusal == ProxyErrorKind.UnsupportedScheme;
        parsed = read ? new RequestTarget(uri.Authority, uri.PathAndQuery) { PathWasEmpty = uri.PathWasEmpty } : null;
        return read;
    }
}
