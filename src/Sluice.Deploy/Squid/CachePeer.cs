using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Sluice.Policy.Names;

namespace Sluice.Deploy.Squid;

/// <summary>How Squid picks among its parents, as one peer's options say.</summary>
internal enum PeerBalance
{
    FirstUp,
    RoundRobin,
    WeightedRoundRobin,
    Carp,
    SourceHash,
    UserHash,
}

/// <summary>
/// A <c>cache_peer HOST parent HTTP-PORT ICP-PORT [OPTION...]</c> line as Sluice can use it. Of <c>login=</c> only the
/// user is kept, and a digest that tells whether two peers share a login: the password never leaves
/// <see cref="Read"/>, so no note, comment or output can carry it.
/// </summary>
internal sealed record CachePeer(int Line, string Name, string Url)
{
    public bool Tls => Url.StartsWith("https:", StringComparison.Ordinal);

    public string? Ca { get; init; }

    public string? User { get; init; }

    public string? LoginDigest { get; init; }

    public PeerBalance Balance { get; init; }

    // Options about Squid's cache and its ICP, HTCP and digest exchanges: Sluice has none of them, so they change nothing.
    private static readonly string[] CacheOptions =
    [
        "proxy-only", "no-digest", "no-netdb-exchange", "closest-only", "background-ping", "basetime", "ttl", "htcp", "htcp-oldsquid",
        "htcp-no-clr", "htcp-no-purge-clr", "htcp-only-clr", "htcp-forward-clr", "multicast-responder", "multicast-siblings",
        "allow-miss", "max-stale", "digest-url", "no-delay",
    ];

    /// <summary>The peer of one cache_peer line, or null when it is not a parent Sluice can use (the note says why).</summary>
    /// <param name="name">Squid's name for the peer (<c>name=</c> or the host), set even when the peer is not translated.</param>
    public static CachePeer? Read(SquidDirective directive, SquidNotes notes, out string? name)
    {
        (int line, IReadOnlyList<string> w) = (directive.Line, directive.Arguments);
        name = null;
        if (w.Count < 4)
        {
            notes.Untranslated(line, "cache_peer", "expected cache_peer HOST TYPE HTTP-PORT ICP-PORT [OPTION...]");
            return null;
        }

        SquidOption[] options = [.. w.Skip(4).Select(o => o.Split('=', 2) is [string key, string value] ? new SquidOption(o, key, value) : new SquidOption(o, o, ""))];
        name = options.LastOrDefault(o => o.Key == "name")?.Value is { Length: > 0 } given ? given : w[0];
        string type = w[1];
        if (type is "sibling" or "multicast")
        {
            notes.Untranslated(line, "cache_peer", $"{name}: a {type} is asked about its cache over ICP; Sluice has no cache and no ICP, so only parents translate");
            return null;
        }

        if (type != "parent")
        {
            notes.Untranslated(line, "cache_peer", $"{name}: type '{type}' is not parent, sibling or multicast");
            return null;
        }

        if (options.Any(o => o.Key == "originserver"))
        {
            notes.Untranslated(line, "cache_peer", $"{name}: originserver is a reverse-proxy backend, not a parent proxy; Sluice is a forward proxy only");
            return null;
        }

        bool tls = options.Any(o => o.Key is "ssl" or "tls");
        string host = w[0].StartsWith('[') ? w[0] : IPAddress.TryParse(w[0], out IPAddress? ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{w[0]}]" : w[0];
        if (!int.TryParse(w[2], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || !HostPort.TryParseAuthority($"{host}:{port}", 0, out HostPort address, out _))
        {
            notes.Untranslated(line, "cache_peer", $"{name}: '{w[0]}' port '{w[2]}' is not a host and port Sluice can connect to");
            return null;
        }

        var peer = new CachePeer(line, name, $"{(tls ? "https" : "http")}://{address}");
        if (w[3] != "0" && !options.Any(o => o.Key == "no-query"))
        {
            notes.Remark(line, "cache_peer", $"{name}: Sluice sends no ICP queries (port {w[3]}); the upstream's balance picks the parent");
        }

        foreach (SquidOption option in options)
        {
            peer = peer.With(option, tls, notes);
        }

        return peer;
    }

    private CachePeer With(SquidOption option, bool tls, SquidNotes notes)
    {
        string key = option.Key;
        switch (key)
        {
            case "name" or "no-query" or "ssl" or "tls" or "originserver":
                return this;
            case "round-robin":
                return this with { Balance = PeerBalance.RoundRobin };
            case "weighted-round-robin":
                return this with { Balance = PeerBalance.WeightedRoundRobin };
            case "carp":
                return this with { Balance = PeerBalance.Carp };
            case "sourcehash":
                return this with { Balance = PeerBalance.SourceHash };
            case "userhash":
                return this with { Balance = PeerBalance.UserHash };
            case "login":
                return WithLogin(option.Value, notes);
            case "default":
                notes.Remark(Line, "cache_peer", $"{Name}: default (Squid's last resort) needs nothing: Sluice tries the proxies of an upstream in order and probes a proxy marked down again");
                return this;
            case "sslcafile" or "tls-cafile" when tls:
                notes.Remark(Line, "cache_peer", $"{Name}: {key} becomes ca: {option.Value}, which must exist and hold PEM certificates when the configuration is loaded");
                return this with { Ca = option.Value };
            case "sslcafile" or "tls-cafile":
                notes.Untranslated(Line, "cache_peer", $"{Name}: {key} is for TLS to the parent (ssl or tls), which this peer does not use");
                return this;
            case "connect-timeout":
                notes.Untranslated(Line, "cache_peer", $"{Name}: Sluice has no connect timeout per parent; timeouts.connect applies to parents as to origins");
                return this;
            case "connect-fail-limit":
                notes.Untranslated(Line, "cache_peer", $"{Name}: Sluice marks a parent down after 3 failures in a row and probes it again after 1s, doubling to 60s");
                return this;
            case "weight":
                notes.Untranslated(Line, "cache_peer", $"{Name}: the proxies of a Sluice upstream have no weights");
                return this;
            case "sslcert" or "tls-cert" or "sslkey" or "tls-key":
                notes.Untranslated(Line, "cache_peer", $"{Name}: {key}: Sluice presents no client certificate to a parent proxy");
                return this;
            case "ssldomain" or "tls-domain":
                notes.Untranslated(Line, "cache_peer", $"{Name}: {key}: Sluice checks the parent's certificate against the host name of its URL");
                return this;
            case "sslflags" or "tls-flags":
                notes.Untranslated(Line, "cache_peer", $"{Name}: {key}: Sluice always verifies the parent's certificate (against ca: or the system roots)");
                return this;
            case var _ when CacheOptions.Contains(key):
                notes.Remark(Line, "cache_peer", $"{Name}: {key} is about Squid's cache or its ICP, HTCP and digest exchanges, which Sluice does not have: nothing to translate");
                return this;
            default:
                notes.Untranslated(Line, "cache_peer", $"{Name}: option '{key}' has no Sluice equivalent; the parent is translated without it");
                return this;
        }
    }

    // Only keywords and the user name are ever written into a note; the value as a whole never is.
    private CachePeer WithLogin(string value, SquidNotes notes)
    {
        string keyword = value.Split(':')[0];
        if (keyword is "PASSTHRU" or "PROXYPASS" or "PASS" or "NEGOTIATE")
        {
            notes.Untranslated(Line, "cache_peer", $"{Name}: login={keyword}: Sluice never passes its clients' credentials on, it sends fixed ones (login=user:password); translated without credentials");
            return this;
        }

        int colon = value.IndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
        {
            notes.Untranslated(Line, "cache_peer", $"{Name}: login= is not user:password; translated without credentials");
            return this;
        }

        if (keyword == "*")
        {
            notes.Untranslated(Line, "cache_peer", $"{Name}: login=*:... sends each client's user name with a fixed password; Sluice sends a fixed user and password only; translated without credentials");
            return this;
        }

        // Squid reads URL escapes in the login (%20 is a space, %% a percent sign).
        string user = Uri.UnescapeDataString(keyword.Replace("%%", "%25", StringComparison.Ordinal));
        return this with { User = user, LoginDigest = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value))) };
    }
}
