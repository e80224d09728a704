using System.Net;
using Sluice.Policy.Names;

namespace Sluice.Proxy.Requests;

/// <summary>Where a request goes: normalised host (or IP literal), port, and for forwarded requests the origin-form path.</summary>
internal sealed record RequestTarget(string Host, IPAddress? Address, int Port, string PathAndQuery)
{
    private RequestTarget(HostPort destination, string pathAndQuery)
        : this(destination.Host, destination.Address, destination.Port, pathAndQuery)
    {
    }

    /// <summary>Host as it goes on the wire and in logs: IPv6 literals bracketed.</summary>
    public string HostForUri => Destination.HostForUri;

    /// <summary>The Host field value: the port only when it is not the scheme default (RFC 9110 §7.2).</summary>
    public string Authority => Port == 80 ? HostForUri : $"{HostForUri}:{Port}";

    public string AuthorityWithPort => Destination.ToString();

    public string AbsoluteUri => $"http://{Authority}{PathAndQuery}";

    /// <summary>The absolute URI had neither a path nor a query (<c>http://host</c>): an OPTIONS for it asks about the
    /// server as a whole, and goes to the origin as <c>OPTIONS *</c> (RFC 9112 §3.2.4).</summary>
    public bool PathWasEmpty { get; init; }

    private HostPort Destination => new(Host, Address, Port);

    /// <summary>Parses a CONNECT target: authority-form only, <c>host:port</c> or <c>[v6]:port</c>, port required.</summary>
    public static bool TryParseAuthority(string target, out RequestTarget? parsed, out string problem)
    {
        parsed = null;
        if (target.LastIndexOf(':') <= 0 || target.Contains('/') || target.Contains('@'))
        {
            problem = $"CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not '{target}'";
            return false;
        }

        if (!HostPort.TryParseAuthority(target, 0, out HostPort destination, out problem))
        {
            return false;
        }

        parsed = new RequestTarget(destination, "");
        return true;
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

        if (!target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            problem = $"unsupported request target '{Shorten(target)}': only http:// URLs are forwarded";
            return false;
        }

        // The fragment and the credentials are named before anything else wrong with the authority.
        bool parsedUri = HostPort.TryParseUri(target, out UriTarget uri, out problem);
        if (uri.HasFragment)
        {
            problem = "a request target must not contain a fragment (#)";
            return false;
        }

        if (uri.HasUserInfo)
        {
            problem = "credentials in the URL (user@host) are not forwarded; remove them";
            return false;
        }

        if (!parsedUri)
        {
            return false;
        }

        parsed = new RequestTarget(uri.Authority, uri.PathAndQuery) { PathWasEmpty = uri.PathWasEmpty };
        return true;
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
