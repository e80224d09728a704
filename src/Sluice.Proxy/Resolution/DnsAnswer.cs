using System.Net;

namespace Sluice.Proxy.Resolution;

internal enum AnswerKind
{
    /// <summary>Addresses of one family or both.</summary>
    Addresses,

    /// <summary>NXDOMAIN, or no address of either family: a negative answer, cached.</summary>
    NotFound,

    /// <summary>SERVFAIL, REFUSED or no answer from any server: never cached.</summary>
    Failed,
}

/// <summary>
/// What the name servers said about a name. <see cref="Ttl"/> is the smallest TTL of the records held (for a negative
/// answer the SOA minimum, null when the answer carried no SOA), before the cache's bounds are applied.
/// </summary>
internal sealed record DnsAnswer(AnswerKind Kind, IPAddress[] Addresses, TimeSpan? Ttl, string Message)
{
    public static DnsAnswer Failed(string message) => new(AnswerKind.Failed, [], null, message);
}
