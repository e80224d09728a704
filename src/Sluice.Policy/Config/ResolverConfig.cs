using System.Collections.Immutable;
using System.Net;

namespace Sluice.Policy.Config;

public enum ResolverMode
{
    /// <summary>Name servers asked directly, answers cached by their TTL, the hosts file first.</summary>
    Dns,

    /// <summary>The operating system's resolver (getaddrinfo) for every request, nothing cached: NSS sources beyond DNS.</summary>
    System,
}

/// <summary>
/// <c>resolver:</c> how destination and parent proxy names become addresses. Compared by meaning (not by the line it
/// was read from): a reload with an equal section keeps the running resolver and its cache.
/// </summary>
public sealed record ResolverConfig
{
    /// <summary>The hosts file read when the key is not given.</summary>
    public const string DefaultHostsFile = "/etc/hosts";

    public ResolverMode Mode { get; init; } = ResolverMode.Dns;

    /// <summary>The name servers, in the order they are asked; empty: the <c>nameserver</c> lines of /etc/resolv.conf.</summary>
    public ImmutableArray<IPEndPoint> Servers { get; init; } = [];

    /// <summary>Read before the name servers are asked; null: none (<c>hostsFile: off</c>).</summary>
    public string? HostsFile { get; init; } = DefaultHostsFile;

    /// <summary>How long one query to one server may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Rounds over the servers before a lookup fails (as resolv.conf's <c>attempts</c>).</summary>
    public int Attempts { get; init; } = 2;

    public ResolverCacheConfig Cache { get; init; } = new();

    /// <summary>Line of the section in the config file, for messages (0: not in the file).</summary>
    public long Line { get; init; }

    /// <summary>Column of the section, for messages.</summary>
    public long Column { get; init; }

    /// <summary>The file the section was read from, for messages.</summary>
    public string Source { get; init; } = "embedded default";

    public bool Equals(ResolverConfig? other) =>
        other is not null && Mode == other.Mode && Servers.SequenceEqual(other.Servers) && HostsFile == other.HostsFile
        && Timeout == other.Timeout && Attempts == other.Attempts && Cache == other.Cache;

    public override int GetHashCode() => HashCode.Combine(Mode, Servers.Length, HostsFile, Timeout, Attempts, Cache);
}

/// <summary><c>resolver.cache</c>: bounded, with the TTLs of answers clamped.</summary>
public sealed record ResolverCacheConfig
{
    /// <summary>Names kept at most; the least recently used goes first.</summary>
    public int MaxEntries { get; init; } = 10_000;

    /// <summary>An answer is kept at least this long, whatever its TTL (0: TTLs as given, TTL 0 not kept).</summary>
    public TimeSpan MinTtl { get; init; } = TimeSpan.Zero;

    /// <summary>An answer is kept at most this long, whatever its TTL.</summary>
    public TimeSpan MaxTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Cap on how long a name that does not exist (or has no address) is remembered.</summary>
    public TimeSpan NegativeTtl { get; init; } = TimeSpan.FromSeconds(10);
}
