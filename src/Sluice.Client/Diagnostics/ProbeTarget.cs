using System.Globalization;
using System.Net;

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
        problem = "";
        string authority = text.Trim();
        int defaultPort = 0;
        bool? tls = null;
        int schemeEnd = authority.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd > 0)
        {
            string scheme = authority[..schemeEnd].ToLowerInvariant();
            (defaultPort, tls) = scheme switch
            {
                "https" or "wss" => (443, (bool?)true),
                "http" or "ws" => (80, false),
                _ => (-1, null),
            };
            if (defaultPort < 0)
            {
                problem = $"'{text}': '{scheme}://' is not a scheme doctor checks (https, http, wss, ws)";
                return false;
            }

            authority = authority[(schemeEnd + 3)..];
            int end = authority.IndexOfAny(['/', '?', '#']);
            authority = end < 0 ? authority : authority[..end];
            int at = authority.LastIndexOf('@');
            authority = at < 0 ? authority : authority[(at + 1)..];
        }

        string host;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                problem = $"'{text}': unclosed '[' in an IPv6 address";
                return false;
            }

            host = authority[1..close];
            string rest = authority[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    problem = $"'{text}' is not host:port";
                    return false;
                }

                portText = rest[1..];
            }
        }
        else
        {
            int colon = authority.LastIndexOf(':');
            if (colon >= 0 && authority.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                problem = $"'{text}': write an IPv6 address in brackets, [2001:db8::1]:443";
                return false;
            }

            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? null : authority[(colon + 1)..];
        }

        int port = defaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"'{text}' has an invalid port";
            return false;
        }

        if (port == 0)
        {
            problem = $"'{text}' needs a port (host:port) or a URL scheme (https://host)";
            return false;
        }

        host = host.TrimEnd('.').ToLowerInvariant();
        if (host.Length == 0 || host.Any(c => c <= ' ' || c is '/' or '\\' or '@' or '[' or ']'))
        {
            problem = $"'{text}' has no valid host name";
            return false;
        }

        if (host.Contains(':') && !IPAddress.TryParse(host, out _))
        {
            problem = $"'{text}': '{host}' is not an IPv6 address";
            return false;
        }

        if (!host.All(char.IsAscii))
        {
            try
            {
                host = new IdnMapping().GetAscii(host);
            }
            catch (ArgumentException)
            {
                problem = $"'{text}': '{host}' is not a valid international domain name";
                return false;
            }
        }

        target = new ProbeTarget(host, port, tls ?? port != 80);
        return true;
    }
}
