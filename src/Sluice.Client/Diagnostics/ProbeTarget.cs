using System.Globalization;
using Sluice.Policy.Names;

namespace Sluice.Client.Diagnostics;

/// <summary>
/// A destination to check through the proxy: <c>host:port</c>, <c>[v6]:port</c>, or a URL (<c>https://host</c>
/// means port 443, <c>http://host</c> port 80). <see cref="Tls"/> says whether the origin is expected to speak TLS:
/// https URLs and every <c>host:port</c> except port 80.
/// </summary>
public sealed record ProbeTarget(string Host, int Port, bool Tls)
{
    /// <summary><c>host:port</c> as a CONNECT request line carries it (IPv6 literals in brackets).</summary>
    public string Authority => $"{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port.ToString(CultureInfo.InvariantCulture)}";

    public override string ToString() => Authority;

    public static ProbeTarget Parse(string text) =>
        TryParse(text, out ProbeTarget? target, out string problem) ? target! : throw new FormatException(problem);

    public static bool TryParse(string text, out ProbeTarget? target, out string problem)
    {
        target = null;
        string trimmed = text.Trim();
        if (trimmed.Contains("://", StringComparison.Ordinal))
        {
            bool parsed = HostPort.TryParseUri(trimmed, out UriTarget uri, out problem);
            if (uri.Scheme is not ("https" or "wss" or "http" or "ws"))
            {
                problem = string.IsNullOrEmpty(uri.Scheme) ? problem : $"'{text}': '{uri.Scheme}://' is not a scheme doctor checks (https, http, wss, ws)";
                return false;
            }

            if (!parsed)
            {
                problem = $"'{text}': {problem}";
                return false;
            }

            // Userinfo, path and fragment say nothing about where the probe goes.
            target = new ProbeTarget(uri.Authority.Host, uri.Authority.Port, uri.Scheme is "https" or "wss");
            return true;
        }

        if (!trimmed.Contains(':'))
        {
            problem = $"'{text}' needs a port (host:port) or a URL scheme (https://host)";
            return false;
        }

        if (!HostPort.TryParseAuthority(trimmed, 0, out HostPort destination, out problem))
        {
            problem = $"'{text}': {problem}";
            return false;
        }

        target = new ProbeTarget(destination.Host, destination.Port, destination.Port != 80);
        return true;
    }
}
