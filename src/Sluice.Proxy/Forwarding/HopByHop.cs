using Sluice.Proxy.Http1;

namespace Sluice.Proxy.Forwarding;

/// <summary>
/// Hop-by-hop fields (RFC 9110 §7.6.1) belong to one connection and are removed before a message is passed on:
/// Connection and every field it names, plus the fixed list below. Framing fields are removed too, because the
/// proxy re-frames each body itself (Content-Length stays: it is end-to-end and HEAD and 304 responses need it).
/// </summary>
internal static class HopByHop
{
    private static readonly string[] Always =
    [
        "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Authenticate",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    ];

    // Trailer fields never passed on: the hop-by-hop list, and the framing and routing fields a sender must not put
    // in trailers (RFC 9110 §6.5.1), since a recipient that merges trailers downstream would re-frame or re-route by them.
    private static readonly HashSet<string> NeverInTrailers = new([.. Always, "Content-Length", "Host"], StringComparer.OrdinalIgnoreCase);

    private static readonly Func<string, bool> DropFixedTrailers = NeverInTrailers.Contains;

    /// <summary>
    /// Which trailer fields of a chunked message are not passed on: the hop-by-hop ones (the fixed list and whatever
    /// the message's Connection field names: RFC 9110 §7.6.1 says "header or trailer"), and framing and routing
    /// fields. Read from the head before <see cref="Strip"/>.
    /// </summary>
    public static Func<string, bool> TrailerFilter(HttpFields head)
    {
        if (!head.Contains("Connection"))
        {
            return DropFixedTrailers; // the usual case: nothing allocated per message
        }

        string[] listed = head.Tokens("Connection").ToArray();
        return name => NeverInTrailers.Contains(name) || listed.Contains(name, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Removes hop-by-hop fields; the caller adds its own Connection, Upgrade and Transfer-Encoding.</summary>
    public static void Strip(HttpFields fields)
    {
        // The fields Connection names, gathered before anything is removed (Connection itself goes below). The usual
        // values (close, keep-alive, Upgrade) name fields removed anyway, so the list is only made for the unusual.
        List<string>? listed = null;
        foreach (ReadOnlySpan<char> token in fields.TokenSpans("Connection"))
        {
            // Connection must not strip what frames or routes the message: naming Content-Length there would
            // otherwise turn a body into a second, unchecked request on the upstream connection.
            if (!IsAlwaysRemoved(token) && !token.Equals("close", StringComparison.OrdinalIgnoreCase)
                && !token.Equals("Host", StringComparison.OrdinalIgnoreCase) && !token.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                (listed ??= []).Add(token.ToString());
            }
        }

        if (listed is not null)
        {
            foreach (string name in listed)
            {
                fields.Remove(name);
            }
        }

        foreach (string name in Always)
        {
            fields.Remove(name);
        }
    }

    private static bool IsAlwaysRemoved(ReadOnlySpan<char> name)
    {
        foreach (string always in Always)
        {
            if (name.Equals(always, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
