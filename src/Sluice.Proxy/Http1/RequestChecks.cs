namespace Sluice.Proxy.Http1;

/// <summary>
/// Checks on a parsed request head that every request must pass before it is dispatched, whatever its form
/// (RFC 9112 §3.2: the Host field). The framing of a forwarded body is decided by <see cref="Framing"/>.
/// </summary>
internal static class RequestChecks
{
    /// <summary>
    /// RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, to any request with more
    /// than one Host field line, and to a Host whose value is invalid. A proxy still checks it even though it then
    /// replaces the value with the absolute URI's authority (§3.2.2): a request that lies here is refused, not
    /// repaired, because another hop may route by the Host it was given.
    /// </summary>
    public static bool TryCheckHost(RequestHead head, out string problem)
    {
        int count = head.Fields.CountOf("Host");
        problem = count switch
        {
            0 when !head.IsHttp10 => "an HTTP/1.1 request must carry a Host field",
            > 1 => $"{count} Host fields; a request carries exactly one",
            _ => "",
        };

        if (problem.Length == 0 && count == 1 && !IsValidHost(head.Fields.Get("Host")!))
        {
            problem = $"Host '{Shorten(head.Fields.Get("Host")!)}' is not a valid host[:port]";
        }

        return problem.Length == 0;
    }

    /// <summary>Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2); an empty value is allowed.</summary>
    internal static bool IsValidHost(string value)
    {
        ReadOnlySpan<char> host = value;
        ReadOnlySpan<char> port = [];
        if (value.StartsWith('['))
        {
            int close = value.IndexOf(']');
            if (close < 0 || !IsIpLiteral(value[1..close]))
            {
                return false;
            }

            host = [];
            ReadOnlySpan<char> after = value.AsSpan(close + 1);
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    return false;
                }

                port = after[1..];
            }
        }
        else
        {
            int colon = value.LastIndexOf(':');
            if (colon >= 0)
            {
                host = value.AsSpan(0, colon);
                port = value.AsSpan(colon + 1);
            }
        }

        return !port.ContainsAnyExceptInRange('0', '9') && port.Length <= 5 && IsRegName(host);
    }

    // IPv6address or IPvFuture ("v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )).
    private static bool IsIpLiteral(string text) =>
        System.Net.IPAddress.TryParse(text, out System.Net.IPAddress? address)
            ? address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !text.Contains('%')
            : text.Length > 3 && text[0] is 'v' or 'V' && text.IndexOf('.') is > 1 and var dot && dot < text.Length - 1
              && text[1..dot].All(char.IsAsciiHexDigit) && text[(dot + 1)..].All(c => IsUnreserved(c) || IsSubDelim(c) || c == ':');

    // reg-name = *( unreserved / pct-encoded / sub-delims ); covers IPv4address too.
    private static bool IsRegName(ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '%')
            {
                if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
                {
                    return false;
                }

                i += 2;
            }
            else if (!IsUnreserved(c) && !IsSubDelim(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsUnreserved(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    private static bool IsSubDelim(char c) => c is '!' or '$' or '&' or '\'' or '(' or ')' or '*' or '+' or ',' or ';' or '=';

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
