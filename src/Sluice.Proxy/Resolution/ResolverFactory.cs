using System.Net;
using DnsClient;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// The one place a resolver is built from <c>resolver:</c>: the proxy, <c>sluice explain</c> and <c>sluice doctor</c>
/// all call it, so they see names through the same hosts file, servers and rules.
/// </summary>
public static class ResolverFactory
{
    /// <param name="events">Where lookups are reported (the proxy's metrics); null: nowhere.</param>
    /// <exception cref="ConfigException">Mode dns, no <c>resolver.servers</c>, and /etc/resolv.conf names no server.</exception>
    public static IResolver Create(ResolverConfig config, IResolverEvents? events = null)
    {
        if (config.Mode == ResolverMode.System)
        {
            return new SystemResolver(events);
        }

        IReadOnlyList<IPEndPoint> servers = config.Servers.IsEmpty ? SystemServers() : config.Servers;
        if (servers.Count == 0)
        {
            throw new ConfigException(config.Source, config.Line, config.Column,
                "resolver: no name server to ask: /etc/resolv.conf names none; set resolver.servers, or use resolver.mode: system");
        }

        return new DnsResolver(config, servers, events);
    }

    /// <summary>Names held in the cache of a resolver this factory built (0 for one without a cache).</summary>
    public static int CacheEntries(IResolver resolver) => resolver is DnsResolver dns ? dns.CacheEntries : 0;

    // The nameserver lines of /etc/resolv.conf, as DnsClient reads them; never a public fallback (Google's): a proxy
    // that silently sent its clients' names to the internet would be worse than one that refuses to start.
    private static IPEndPoint[] SystemServers()
    {
        try
        {
            return [.. NameServer.ResolveNameServers(skipIPv6SiteLocal: true, fallbackToGooglePublicDns: false)
                .Select(s => new IPEndPoint(IPAddress.Parse(s.Address), s.Port))];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException or System.Net.NetworkInformation.NetworkInformationException)
        {
            return [];
        }
    }
}
