using System.Net;

namespace Sluice.Policy.Decisions;

public enum RequestScheme
{
    /// <summary>A forwarded plain-HTTP request (absolute-form).</summary>
    Http,

    /// <summary>A CONNECT tunnel.</summary>
    Tunnel,

    /// <summary>A request inside an inspected tunnel: its method and path are visible, as for <see cref="Http"/>.</summary>
    Https,

    /// <summary>An absolute-form <c>ftp://</c> request: the proxy fetches (or stores) the file over FTP for the client.</summary>
    Ftp,
}

/// <summary>What the policy knows about a request before any upstream connection is made.</summary>
/// <param name="Host">Normalised destination host: a lower-case name or an IP literal.</param>
/// <param name="Address">Set when the destination was written as an IP literal.</param>
public sealed record RequestFacts(string Method, RequestScheme Scheme, string Host, IPAddress? Address, int Port, IPAddress Client)
{
    /// <summary>The authenticated user name, when the client authenticated.</summary>
    public string? User { get; init; }

    /// <summary>
    /// A TRACE or OPTIONS request's Max-Forwards count (RFC 9110 §7.6.2); null when it has none. At 0 the request goes
    /// no further than the proxy, which answers it itself.
    /// </summary>
    public int? MaxForwards { get; init; }

    /// <summary>
    /// The request's path, normalised (<see cref="Rules.RequestPath"/>); null for a CONNECT, whose paths are inside it.
    /// </summary>
    public string? Path { get; init; }

    /// <summary>
    /// For a CONNECT: inspection is configured and the destination is not in <c>neverInspect</c>, so a rule with
    /// <c>tls: inspect</c> is matched on its connection keys only (its methods and paths apply to the requests inside).
    /// </summary>
    public bool MayInspect { get; init; }

    /// <summary>The destination as an authority: <c>host:port</c>, an IPv6 literal bracketed.</summary>
    public Names.HostPort Destination => new(Host, Address, Port);

    /// <summary>The groups of <see cref="User"/>.</summary>
    public IReadOnlyCollection<string> Groups { get; init; } = [];
}
