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

    /// <summary>The Host field value: the port only when it is not the scheme default (RFC 9110 §7.2).</summary>
    public string Authority => Port == 80 ? HostForUri : AuthorityWithPort;

    /// <summary><c>host:port</c>, formatted once: the CONNECT's log URL, the status page's destination, error details.</summary>
    public string AuthorityWithPort { get; } = Destination.ToString();

    public string AbsoluteUri => $"http://{Authority}{PathAndQuery}";

    /// <summary>The absolute URI had neither a path nor a query (<c>http://host</c>): an OPTIONS for it asks about the
    /// server as a whole, and goes to the origin as <c>OPTIONS *</c> (RFC 9112 §3.2.4).</summary>
    public bool PathWasEmpty { get; init; }

    /// <summary>Parses a CONNECT target: authority-form only, <c>host:port</c> or <c>[v6]:port</c>, port required.</summary>
    public static bool TryParseAuthority(string target, out RequestTarget? parsed, out string problem)
    {
        parsed = RequestTargets.TryReadConnect(target, out HostPort destination, out problem) ? new RequestTarget(destination, "") : null;
        return parsed is not null;
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
