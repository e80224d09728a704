using System.Net;
using Sluice.Policy.Decisions;
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

    /// <summary>
    /// The request a target written by an operator stands for (<c>sluice explain</c>): an http:// URL is forwarded as
    /// it is written, read by <see cref="TryReadAbsolute"/> (so a URL the proxy refuses, with userinfo or a fragment,
    /// is refused here too); an https://, ws:// or wss:// URL is the CONNECT a client sends for it (RFC 6455 §4.1:
    /// WebSocket clients tunnel through a proxy, plain ws:// too), and so is host:port. An ftp:// URL is read by
    /// <see cref="FtpTarget.TryRead"/> as the FTP gateway reads it, with its path for the rules. Methods keep their case
    /// (RFC 9110 §9.1: "get" is another method than GET).
    /// </summary>
    /// <param name="method">A forwarded request's method (GET when null); a tunnel's is CONNECT.</param>
    public static bool TryReadRequest(string target, string? method, IPAddress client, out RequestFacts facts, out string problem)
    {
        facts = null!;
        HostPort destination;
        RequestScheme scheme = RequestScheme.Tunnel;
        string? path = null;
        if (target.StartsWith("ftp://", StringComparison.OrdinalIgnoreCase))
        {
            if (!FtpTarget.TryRead(target, out FtpTarget? ftp, out problem) || !Policy.Rules.RequestPath.TryNormalise(ftp!.Path, out path, out problem))
            {
                problem = $"the proxy answers 400 to this URL: {problem}";
                return false;
            }

            scheme = RequestScheme.Ftp;
            destination = ftp.Authority;
        }
        else if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            if (!TryReadAbsolute(target, out UriTarget forwarded, out _, out problem))
            {
                problem = $"the proxy answers 400 to this URL: {problem}";
                return false;
            }

            scheme = RequestScheme.Http;
            destination = forwarded.Authority;
        }
        else if (target.Contains("://", StringComparison.Ordinal))
        {
            if (!HostPort.TryParseUri(target, out UriTarget uri, out problem))
            {
                return false;
            }

            if (uri.Scheme is not ("https" or "ws" or "wss"))
            {
                problem = $"'{uri.Scheme}://' is not a scheme the proxy handles (http, https, ws, wss, ftp)";
                return false;
            }

            destination = uri.Authority;
        }
        else if (!HostPort.TryParseAuthority(target, 0, out destination, out problem))
        {
            problem = $"'{HostPort.Redact(target)}': {problem} (a CONNECT target is host:port; or give a URL)";
            return false;
        }

        // Methods are case-sensitive (RFC 9110 §9.1): "get" is another method than GET, and the proxy decides it so.
        string verb = scheme == RequestScheme.Tunnel ? "CONNECT" : method ?? "GET";
        if (verb.Length == 0 || !verb.All(c => c < 0x80 && Http1.HeadParser.IsTokenByte((byte)c)))
        {
            problem = $"'{verb}' is not an HTTP method (a token, RFC 9110 §5.6.2)";
            return false;
        }

        if (scheme == RequestScheme.Http && verb == "CONNECT")
        {
            problem = "a CONNECT names host:port, not a URL: give the target as host:port";
            return false;
        }

        if (scheme == RequestScheme.Ftp && !FtpTarget.IsGatewayMethod(verb))
        {
            problem = $"the proxy answers 405 to {verb} for an ftp:// URL: the FTP gateway does {FtpTarget.GatewayMethods}";
            return false;
        }

        facts = new RequestFacts(verb, scheme, destination.Host, destination.Address, destination.Port, client) { Path = path };
        problem = "";
        return true;
    }
}
