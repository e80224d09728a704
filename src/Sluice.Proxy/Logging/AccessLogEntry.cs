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

    /// <summary>Address the proxy connected to, when it connected.</summary>
    public IPAddress? Peer { get; init; }

    public string? ContentType { get; init; }

    /// <summary>Name of the rule that decided, when a rule did.</summary>
    public string? Rule { get; init; }

    /// <summary>Why the request was allowed or refused, in words.</summary>
    public string? Reason { get; init; }

    /// <summary>RFC 9209 error type when the exchange failed.</summary>
    public string? ProxyStatusError { get; init; }
}
