using System.Net;

namespace Sluice.Proxy.Logging;

/// <summary>The facts of one forwarded exchange or tunnel, written when it ends.</summary>
internal sealed record AccessLogEntry
{
    public required DateTimeOffset Started { get; init; }

    public required TimeSpan Elapsed { get; init; }

    public required IPAddress Client { get; init; }

    /// <summary>Squid result code: TCP_MISS, TCP_TUNNEL, TCP_DENIED, NONE_NONE.</summary>
    public required Errors.SquidResult Code { get; init; }

    /// <summary>Status sent to the client; 0 when none was sent.</summary>
    public required int Status { get; init; }

    /// <summary>Bytes sent to the client, heads included.</summary>
    public long BytesToClient { get; init; }

    /// <summary>Bytes received from the client, heads included.</summary>
    public long BytesFromClient { get; init; }

    public required string Method { get; init; }

    /// <summary>The URL as requested: <c>http://host/path</c>, or <c>host:port</c> for CONNECT, or <c>-</c>.</summary>
    public required string Url { get; init; }

    public string? User { get; init; }

    /// <summary>How the request left and to whom (Squid's hierarchy field), when the proxy connected anywhere.</summary>
    public Hierarchy? Peer { get; init; }

    /// <summary>The upstream and parent proxy (<c>host:port</c>) the request went through, when it went through one.</summary>
    public string? Upstream { get; init; }

    public string? Parent { get; init; }

    /// <summary>True when the destination went to the parent by name, unresolved here.</summary>
    public bool ResolvedByParent { get; init; }

    public string? ContentType { get; init; }

    /// <summary>Name of the rule that decided, when a rule did.</summary>
    public string? Rule { get; init; }

    /// <summary>Why the request was allowed or refused, in words.</summary>
    public string? Reason { get; init; }

    /// <summary>RFC 9209 error type when the exchange failed.</summary>
    public string? ProxyStatusError { get; init; }

    /// <summary>
    /// Set for a would-deny (report mode): the refusal enforcing would have answered. The Squid code gains the tag
    /// <c>_REPORTED</c> (<c>TCP_MISS_REPORTED/200</c>), as Squid tags a code <c>_ABORTED</c>.
    /// </summary>
    public Errors.ProxyErrorKind? WouldRefuse { get; init; }

    /// <summary>The result code as both formats write it.</summary>
    public string CodeText => WouldRefuse is null ? Errors.SquidResults.Code(Code) : Errors.SquidResults.Code(Code) + "_REPORTED";
}

/// <summary>Squid's hierarchy field: <c>HIER_DIRECT/203.0.113.7</c>, <c>FIRSTUP_PARENT/proxy-a.corp</c>...</summary>
internal readonly record struct Hierarchy(string Code, string Host)
{
    public static Hierarchy? Direct(IPAddress? peer) => peer is null ? null : new Hierarchy("HIER_DIRECT", peer.ToString());

    /// <summary>
    /// The code Squid writes for a parent chosen this way: the first up parent (failover), round-robin, CARP for the
    /// destination hash, and DEFAULT_PARENT when no rule chose the upstream and <c>route.default</c> did.
    /// </summary>
    public static Hierarchy Through(Pipeline.ParentProxy parent, Pipeline.Route route) => new(route.FromDefault ? "DEFAULT_PARENT" : route.Upstream!.Config.Balance switch
    {
        Policy.Config.Balance.RoundRobin => "ROUNDROBIN_PARENT",
        Policy.Config.Balance.HashDestination => "CARP",
        _ => "FIRSTUP_PARENT",
    }, parent.Host);

    public override string ToString() => $"{Code}/{Host}";
}
