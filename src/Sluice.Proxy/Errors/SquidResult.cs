namespace Sluice.Proxy.Errors;

/// <summary>The result codes of Squid's native access-log format that Sluice writes (the part before the status).</summary>
public enum SquidResult
{
    /// <summary>NONE_NONE: answered by the proxy itself, nothing was fetched (a malformed request, TRACE at Max-Forwards 0).</summary>
    None,

    /// <summary>TCP_MISS: fetched from the origin (Sluice never caches).</summary>
    Miss,

    /// <summary>TCP_TUNNEL: a CONNECT tunnel.</summary>
    Tunnel,

    /// <summary>TCP_DENIED: refused by policy, authentication or a limit.</summary>
    Denied,
}

internal static class SquidResults
{
    public static string Code(SquidResult result) => result switch
    {
        SquidResult.None => "NONE_NONE",
        SquidResult.Miss => "TCP_MISS",
        SquidResult.Tunnel => "TCP_TUNNEL",
        SquidResult.Denied => "TCP_DENIED",
        _ => throw new ArgumentOutOfRangeException(nameof(result)),
    };
}
