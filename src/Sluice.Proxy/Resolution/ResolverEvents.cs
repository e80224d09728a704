namespace Sluice.Proxy.Resolution;

/// <summary>How one lookup was answered, for <c>sluice_dns_lookups_total{result}</c>.</summary>
public enum LookupResult
{
    /// <summary>From the cache (or the hosts file), fresh.</summary>
    Hit,

    /// <summary>Asked the name servers (or the system), and got addresses.</summary>
    Miss,

    /// <summary>An expired answer, served while its refresh is in flight.</summary>
    Stale,

    /// <summary>The name does not exist or has no address, fresh or cached.</summary>
    Negative,

    /// <summary>The lookup failed (SERVFAIL, REFUSED, no answer in time); nothing was cached.</summary>
    Error,
}

/// <summary>What a resolver reports to the metrics; the resolver knows nothing of Prometheus.</summary>
public interface IResolverEvents
{
    void Answered(LookupResult result);

    /// <summary>A real lookup (not a cache hit) took this long.</summary>
    void LookedUp(TimeSpan elapsed);
}
