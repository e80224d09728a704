using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Policy.Names;

/// <summary>
/// A destination as every part of Sluice reads one: the proxy's CONNECT and absolute-form targets and the client
/// library's probe targets (<see cref="TryParseAuthority"/>, <see cref="TryParseUri"/>); the entries a configuration
/// writes (listeners, destination patterns, NO_PROXY), which may also be CIDRs or wildcards, use its pieces: one
/// lexical rule (<see cref="SplitPort"/>), one port rule (<see cref="TryParsePort"/>) and one host rule
/// (<see cref="HostNames"/>), so that what one part accepts, the others read the same way.
/// </summary>
/// <param name="Host">Normalised as <see cref="HostNames.TryNormalize"/> does: lower-case, IDNs as punycode, one trailing
/// dot removed; an IP literal (in any notation inet_aton reads) as the canonical text of its address, without brackets.</param>
/// <param name="Address">Set exactly when the host is an IP literal.</param>
/// <param name="Port">1 to 65535.</param>
/// <remarks>
/// Compiled into Sluice.Client too (a linked file), where it stays internal: the declarations here have no
/// accessibility, and <c>PublicNames.cs</c>, which only Sluice.Policy compiles, makes them public. Keep this file
/// self-contained: nothing from the rest of Sluice.Policy but <see cref="HostNames"/>, which is shared the same way.
/// </remarks>
readonly partial record struct HostPort(string Host, IPAddress? Address, int Port)
{
    // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    private static readonly System.Buffers.SearchValues<char> SchemeCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    // RFC 3986 §3.2.1: userinfo = *( unreserved / pct-encoded / sub-delims / ":" ), and '@', which WHATWG URL readers
    // take into the userinfo too (the last '@' ends it, as here).
    private static readonly System.Buffers.SearchValues<char> UserInfoCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@");

    /// <summary>The host as a URI or a request line carries it: IPv6 literals in brackets.</summary>
    public string HostForUri => Address is { AddressFamily: AddressFamily.InterNetworkV6 } ? $"[{Host}]" : Host;

    /// <summary><c>host:port</c>, <c>[v6]:port</c>: the authority-form of a CONNECT request.</summary>
    public override string ToString() => $"{HostForUri}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The port a URL of this scheme means when it names none; 0 for a scheme Sluice does not know.</summary>
    public static int DefaultPort(string scheme) => scheme.ToLowerInvariant() switch
    {
        "http" or "ws" => 80,
        "https" or "wss" => 443,
        "ftp" => 21,
        _ => 0,
    };

    /// <summary>
    /// Parses an authority: <c>host</c>, <c>host:port</c>, <c>[v6]</c>, <c>[v6]:port</c>. Without a port the host gets
    /// <paramref name="defaultPort"/>; 0 there means a port is required. Refused: userinfo (<c>user@</c>), a path,
    /// query or fragment, an empty host, a port that is not 1 to 5 digits from 1 to 65535 (no sign, no spaces, not
    /// empty), an IPv6 address without brackets (its last group could be a port), an IPv6 zone id, and every host
    /// <see cref="HostNames.TryNormalize"/> refuses.
    /// </summary>
    public static bool TryParseAuthority(string text, int defaultPort, out HostPort value, out string problem)
    {
        value = default;
        if (text.Contains('@'))
        {
            problem = $"'{Shorten(Redact(text))}' has userinfo (user@): only host and port belong here";
            return false;
        }

        if (text.IndexOfAny(['/', '?', '#']) >= 0)
        {
            problem = $"'{Shorten(text)}' has a path: only host and port belong here";
            return false;
        }

        (string host, string? port) = SplitPort(text);
        return TryRead(text, host, port, defaultPort, out value, out problem);
    }

    /// <summary>
    /// Parses an absolute URI, <c>scheme://[userinfo@]authority[/path][?query][#fragment]</c>: the scheme lower-cased,
    /// the authority as <see cref="TryParseAuthority"/> reads it, with the scheme's <see cref="DefaultPort"/> when it
    /// names none (or names an empty one, RFC 3986 §3.2.3), and the path and query as written (<c>/</c> when the path
    /// is empty), without the fragment. Userinfo and fragments are not refused here but reported, so that each caller
    /// refuses them in its own words; on failure <paramref name="value"/> still carries the scheme, those two flags and
    /// the path, for a caller that names them before a problem in the authority.
    /// </summary>
    public static bool TryParseUri(string text, out UriTarget value, out string problem)
    {
        value = default;
        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0 || !char.IsAsciiLetter(text[0]) || text.AsSpan(0, schemeEnd).ContainsAnyExcept(SchemeCharacters))
        {
            problem = $"'{Shorten(Redact(text))}' is not a URL (scheme://host[:port][/path])";
            return false;
        }

        string rest = text[(schemeEnd + 3)..];
        int hash = rest.IndexOf('#');
        bool hasFragment = hash >= 0;
        rest = hasFragment ? rest[..hash] : rest;
        int pathStart = rest.IndexOfAny(['/', '?']);
        string authority = pathStart < 0 ? rest : rest[..pathStart];
        string path = pathStart < 0 ? "/" : rest[pathStart] == '?' ? "/" + rest[pathStart..] : rest[pathStart..];
        int at = authority.LastIndexOf('@');
        value = new UriTarget(text[..schemeEnd].ToLowerInvariant(), default, path)
        {
            HasUserInfo = at >= 0,
            HasFragment = hasFragment,
            PathWasEmpty = pathStart < 0,
        };
        // RFC 3986 §3.2.1: userinfo is unreserved, pct-encoded, sub-delims and ':'. Anything else, a backslash above
        // all, is where readers part ways: a browser takes "http://a\@b/" for host a, this parser would take host b.
        if (at >= 0 && authority.AsSpan(0, at).ContainsAnyExcept(UserInfoCharacters))
        {
            problem = "the userinfo (before the host's '@') has a character a URL does not allow there";
            return false;
        }

        authority = authority[(at + 1)..];
        (string host, string? port) = SplitPort(authority);
        if (!TryRead(authority, host, port is "" ? null : port, DefaultPort(value.Scheme), out HostPort target, out problem))
        {
            return false;
        }

        value = value with { Authority = target };
        return true;
    }

    /// <summary>
    /// The lexical rule of every <c>host[:port]</c> text: <c>[v6]</c> or <c>[v6]:port</c>; otherwise one colon
    /// separates host and port, and text with two or more colons is an IPv6 address (or CIDR) written without
    /// brackets, which has no port. Never fails: whatever is not the port is the host, to be judged by the caller.
    /// </summary>
    public static (string Host, string? Port) SplitPort(string text)
    {
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            return close >= 0 && close + 1 < text.Length && text[close + 1] == ':' ? (text[..(close + 1)], text[(close + 2)..]) : (text, null);
        }

        int colon = text.IndexOf(':');
        return colon >= 0 && colon == text.LastIndexOf(':') ? (text[..colon], text[(colon + 1)..]) : (text, null);
    }

    /// <summary>
    /// A port: one to five ASCII digits (leading zeros allowed), from 1 to 65535; 0 too when <paramref name="zeroAllowed"/>
    /// (an address to listen on, where it lets the system choose).
    /// </summary>
    public static bool TryParsePort(string text, out int port, bool zeroAllowed = false)
    {
        port = 0;
        if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit))
        {
            return false;
        }

        int value = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        if (value > 65535 || (value == 0 && !zeroAllowed))
        {
            return false;
        }

        port = value;
        return true;
    }

    private static bool TryRead(string text, string host, string? portText, int defaultPort, out HostPort value, out string problem)
    {
        value = default;
        if (!host.StartsWith('[') && host.Contains(':'))
        {
            problem = IPAddress.TryParse(host, out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? $"'{Shorten(text)}': write an IPv6 address in brackets, as in [2001:db8::1]:443"
                : $"'{Shorten(text)}' is not host:port";
            return false;
        }

        int port = defaultPort;
        if (portText is not null && !TryParsePort(portText, out port))
        {
            problem = $"invalid port '{portText}'";
            return false;
        }

        if (!HostNames.TryNormalize(host, out string name, out IPAddress? address, out problem))
        {
            return false;
        }

        if (port == 0)
        {
            problem = $"'{Shorten(text)}' needs a port (host:port)";
            return false;
        }

        value = new HostPort(name, address, port);
        return true;
    }

    /// <summary>
    /// The text with any userinfo (<c>user:password@</c> in its authority) replaced by <c>***@</c>: for messages and logs,
    /// which must never repeat a password a client or an operator put in a URL.
    /// </summary>
    public static string Redact(string text)
    {
        if (!text.Contains('@'))
        {
            return text;
        }

        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        int start = schemeEnd < 0 ? 0 : schemeEnd + 3;
        int end = text.IndexOfAny(['/', '?', '#'], start);
        int at = text[start..(end < 0 ? text.Length : end)].LastIndexOf('@');
        return at < 0 ? text : $"{text[..start]}***{text[(start + at)..]}";
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";
}

/// <summary>An absolute URI as <see cref="HostPort.TryParseUri"/> reads it.</summary>
/// <param name="Scheme">Lower-cased: <c>http</c>, <c>https</c>, <c>ws</c>, ...</param>
/// <param name="Authority">The host and the port, the scheme's default when the URI names none.</param>
/// <param name="PathAndQuery">As written, <c>/</c> when the path is empty (<c>http://host?q</c> is <c>/?q</c>); never the fragment.</param>
readonly partial record struct UriTarget(string Scheme, HostPort Authority, string PathAndQuery)
{
    /// <summary>The authority had userinfo (<c>user:password@</c>); it is not part of <see cref="Authority"/>.</summary>
    public bool HasUserInfo { get; init; }

    /// <summary>The URI had a fragment (<c>#...</c>); it is not part of <see cref="PathAndQuery"/>.</summary>
    public bool HasFragment { get; init; }

    /// <summary>Neither a path nor a query (<c>http://host</c>): an OPTIONS for it asks about the server as a whole.</summary>
    public bool PathWasEmpty { get; init; }
}
