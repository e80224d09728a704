using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Names;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>
/// Reads <c>resolver:</c>. Name servers are IP literals (a name server found by name would need a resolver first); the
/// hosts file must exist when it is named. The keys that only the <c>dns</c> mode reads are refused with
/// <c>mode: system</c>, where they would silently do nothing.
/// </summary>
internal static class ResolverReader
{
    private const int DnsPort = 53;

    private static readonly string[] DnsOnlyKeys = ["servers", "hostsFile", "timeout", "attempts", "cache"];

    public static ResolverConfig Read(YamlSection top)
    {
        YamlSection? section = top.Section("resolver");
        if (section is null)
        {
            return new ResolverConfig { Source = top.Source };
        }

        YamlNode node = top.Get("resolver")!;
        var d = new ResolverConfig();
        ResolverMode mode = section.Parse("mode", d.Mode, TryParseMode, "dns or system");
        if (mode == ResolverMode.System)
        {
            foreach (string key in DnsOnlyKeys)
            {
                if (section.Get(key) is { } given)
                {
                    throw section.Error(given, $"resolver.{key} does nothing with mode: system (getaddrinfo uses the system's own settings); remove it, or use mode: dns");
                }
            }
        }

        var config = new ResolverConfig
        {
            Mode = mode,
            Servers = ReadServers(section),
            HostsFile = ReadHostsFile(section, top.BaseDirectory),
            Timeout = Limited(section, "timeout", d.Timeout, TimeSpan.FromMinutes(1)),
            Attempts = section.Int("attempts", d.Attempts, 1, 10),
            Cache = section.Section("cache") is { } cache ? ReadCache(section, cache) : d.Cache,
            Line = node.Start.Line,
            Column = node.Start.Column,
            Source = top.Source,
        };
        section.RejectUnknownKeys();
        return config;
    }

    private static ImmutableArray<IPEndPoint> ReadServers(YamlSection section)
    {
        YamlNode? node = section.Get("servers");
        if (node is null)
        {
            return [];
        }

        IReadOnlyList<YamlNode> entries = section.List("servers");
        if (entries.Count == 0)
        {
            throw section.Error(node, "resolver.servers: give at least one name server, or leave the key out to use the nameserver lines of /etc/resolv.conf");
        }

        var servers = ImmutableArray.CreateBuilder<IPEndPoint>(entries.Count);
        foreach (YamlNode entry in entries)
        {
            if (entry is not YamlScalarNode { Value: { } text } || !TryParseServer(text, out IPEndPoint server))
            {
                throw section.Error(entry, $"resolver.servers: expected an IP address, optionally with a port (10.0.0.10, 10.0.0.10:53, [fd00::10]:53), got {YamlSection.Show(entry)}");
            }

            if (servers.Contains(server))
            {
                throw section.Error(entry, $"resolver.servers: {Endpoints.Format(server)} is listed twice");
            }

            servers.Add(server);
        }

        return servers.ToImmutable();
    }

    /// <summary><c>10.0.0.10</c>, <c>fd00::10</c> (port 53), or <c>10.0.0.10:5353</c>, <c>[fd00::10]:5353</c>.</summary>
    internal static bool TryParseServer(string text, out IPEndPoint server)
    {
        // Not "[::1]:5353": IPAddress.TryParse reads that as ::1 and drops the port.
        if (!text.StartsWith('[') && HostNames.IsCanonicalLiteral(text) && IPAddress.TryParse(text, out IPAddress? bare))
        {
            server = new IPEndPoint(bare, DnsPort);
            return true;
        }

        return Endpoints.TryParse(text, out server) && server.Port != 0;
    }

    private static string? ReadHostsFile(YamlSection section, string baseDirectory)
    {
        YamlNode? node = section.Get("hostsFile");
        string? text = section.String("hostsFile");
        if (node is null || text is null)
        {
            return ResolverConfig.DefaultHostsFile;
        }

        if (text == "off")
        {
            return null;
        }

        if (text.Length == 0)
        {
            throw section.Error(node, "resolver.hostsFile: give a path, or off to read none");
        }

        string full = Path.GetFullPath(text, baseDirectory);
        return File.Exists(full) ? full : throw section.Error(node, $"resolver.hostsFile: no file at {full} (off reads none)");
    }

    private static ResolverCacheConfig ReadCache(YamlSection section, YamlSection cache)
    {
        var d = new ResolverCacheConfig();
        var config = new ResolverCacheConfig
        {
            MaxEntries = cache.Int("maxEntries", d.MaxEntries, 1, 10_000_000),
            MinTtl = Ttl(cache, "minTtl", d.MinTtl),
            MaxTtl = Ttl(cache, "maxTtl", d.MaxTtl),
            NegativeTtl = Ttl(cache, "negativeTtl", d.NegativeTtl),
        };
        cache.RejectUnknownKeys();
        if (config.MinTtl > config.MaxTtl)
        {
            throw cache.Error(cache.Get("minTtl") ?? section.Get("cache")!, $"resolver.cache.minTtl ({Durations.Format(config.MinTtl)}) is longer than maxTtl ({Durations.Format(config.MaxTtl)})");
        }

        return config;
    }

    // A TTL may be zero ("0s": as the answer says, or not kept at all), unlike the timeouts.
    private static TimeSpan Ttl(YamlSection cache, string key, TimeSpan fallback) =>
        cache.Parse(key, fallback, TryParseTtl, "a duration such as 0s, 30s, 5m or 1h (at most 1d)");

    private static bool TryParseTtl(string text, out TimeSpan value)
    {
        if (text.Trim() is "0" or "0s" or "0ms" or "0m" or "0h")
        {
            value = TimeSpan.Zero;
            return true;
        }

        return Durations.TryParse(text, out value) && value <= TimeSpan.FromDays(1);
    }

    private static TimeSpan Limited(YamlSection section, string key, TimeSpan fallback, TimeSpan max) =>
        section.Parse(key, fallback, (string text, out TimeSpan v) => Durations.TryParse(text, out v) && v <= max,
            $"a duration such as 500ms, 2s or 5s (at most {Durations.Format(max)})");

    private static bool TryParseMode(string text, out ResolverMode mode)
    {
        (bool ok, mode) = text switch
        {
            "dns" => (true, ResolverMode.Dns),
            "system" => (true, ResolverMode.System),
            _ => (false, ResolverMode.Dns),
        };
        return ok;
    }
}
