using Sluice.Policy.Config;
using Sluice.Proxy.Resolution;

namespace Sluice.Cli.Commands;

/// <summary>
/// What <c>sluice check</c> says about <c>resolver:</c>: the resolver built as the proxy builds it (mode dns with no
/// name server anywhere is an error the proxy would stop at), and one line saying where names come from.
/// </summary>
internal static class CheckResolver
{
    public static bool TryBuild(SluiceConfig config, out string summary, TextWriter errors)
    {
        summary = "";
        try
        {
            _ = ResolverFactory.Create(config.Resolver);
        }
        catch (ConfigException e)
        {
            errors.WriteLine($"sluice: {e.Message}");
            return false;
        }

        ResolverConfig r = config.Resolver;
        summary = r.Mode == ResolverMode.System
            ? "resolver: system (getaddrinfo for every request, nothing cached)"
            : $"resolver: dns, servers {(r.Servers.IsEmpty ? "from /etc/resolv.conf" : string.Join(", ", r.Servers.Select(Endpoints.Format)))}, "
              + $"hosts file {r.HostsFile ?? "off"}, cache {r.Cache.MaxEntries} names (TTL {Ttl(r.Cache.MinTtl)}..{Ttl(r.Cache.MaxTtl)}, negative at most {Ttl(r.Cache.NegativeTtl)})";
        return true;
    }

    // As the file writes them: a TTL may be 0s, which Durations.Format (for positive durations) would write 0ms.
    private static string Ttl(TimeSpan value) => value == TimeSpan.Zero ? "0s" : Durations.Format(value);
}
