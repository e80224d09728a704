using Sluice.Policy.Names;
using Sluice.Proxy.Errors;

namespace Sluice.Proxy.Pipeline;

/// <summary>
/// How the proxy reads a request-target, before anything is decided: a CONNECT's authority-form and a forwarded
/// request's absolute-form, with the refusal each wrong one gets (all 400). The proxy's exchanges and
/// <c>sluice explain</c> read targets here, so a target one of them refuses, the other refuses too.
/// </summary>
public static class RequestTargets
{
    /// <summary>A CONNECT target: authority-form only, <c>host:port</c> or <c>[v6]:port</c>, port required.</summary>
    public static bool TryReadConnect(string target, out HostPort destination, out string problem)
    {
        destination = default;
        if (target.LastIndexOf(':') <= 0 || target.Contains('/') || target.Contains('@'))
        {
            problem = $"CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not '{HostPort.Redact(target)}'";
            return false;
        }

        return HostPort.TryParseAuthority(target, 0, out destination, out problem);
    }

    /// <summary>
    /// A forwarded request's target, <c>http://host[:port][/path][?query]</c>. Refused: origin-form (this is not a web
    /// server, <see cref="ProxyErrorKind.NotAProxyRequest"/>), https:// (a tunnel's, <see cref="ProxyErrorKind.UnsupportedScheme"/>),
    /// any other scheme, a fragment, userinfo and every authority <see cref="HostPort"/> refuses (<see cref="ProxyErrorKind.MalformedRequest"/>).
    /// </summary>
    public static bool TryReadAbsolute(string target, out UriTarget uri, out ProxyErrorKind refusal, out string problem)
    {
        uri = default;
        refusal = ProxyErrorKind.MalformedRequest;
        if (target.StartsWith('/') || target == "*")
        {
            refusal = ProxyErrorKind.NotAProxyRequest;
            problem = "Sluice is a forward proxy, not a web server: send absolute-form requests (GET http://host/path) or CONNECT host:port";
            return false;
        }

        if (target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            refusal = ProxyErrorKind.UnsupportedScheme;
            problem = "https:// URLs go through a CONNECT tunnel (curl -p, or HTTPS_PROXY); Sluice does not originate TLS for forwarded requests";
            return false;
        }

        if (!target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            problem = $"unsupported request target '{HostPort.Redact(target)}': only http:// URLs are forwarded";
            return false;
        }

        // The fragment and the credentials are named before anything else wrong with the authority.
        bool parsed = HostPort.TryParseUri(target, out uri, out problem);
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

        return parsed;
    }
}
