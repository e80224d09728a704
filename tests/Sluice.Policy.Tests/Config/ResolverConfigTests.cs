using System.Net;
using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

/// <summary><c>resolver:</c>: the shapes that are read, and every refusal with its place in the file.</summary>
public sealed class ResolverConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-resolver-").FullName;

    public ResolverConfigTests() => File.WriteAllText(Path.Combine(_dir, "hosts"), "10.1.2.3 db.internal\n");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ConfigPath => Path.Combine(_dir, "sluice.yaml");

    private ResolverConfig Parse(string yaml) => ConfigLoader.Parse(yaml, ConfigPath).Resolver;

    [Fact]
    public void Without_the_section_every_default_applies()
    {
        ResolverConfig resolver = Parse("{}");

        Assert.Equal(ResolverMode.Dns, resolver.Mode);
        Assert.Empty(resolver.Servers);
        Assert.Equal("/etc/hosts", resolver.HostsFile);
        Assert.Equal(TimeSpan.FromSeconds(2), resolver.Timeout);
        Assert.Equal(2, resolver.Attempts);
        Assert.Equal(new ResolverCacheConfig { MaxEntries = 10_000, MinTtl = TimeSpan.Zero, MaxTtl = TimeSpan.FromHours(1), NegativeTtl = TimeSpan.FromSeconds(10) }, resolver.Cache);
    }

    [Fact]
    public void The_design_example_is_read_whole()
    {
        ResolverConfig resolver = Parse("""
            resolver:
              mode: dns
              servers: ["10.0.0.10", "10.0.0.11:53", "fd00::10", "[fd00::11]:5353"]
              hostsFile: hosts
              timeout: 500ms
              attempts: 3
              cache: { maxEntries: 200, minTtl: 5s, maxTtl: 10m, negativeTtl: 0s }
            """);

        Assert.Equal(["10.0.0.10:53", "10.0.0.11:53", "[fd00::10]:53", "[fd00::11]:5353"], resolver.Servers.Select(s => s.ToString()));
        Assert.Equal(Path.Combine(_dir, "hosts"), resolver.HostsFile);
        Assert.Equal(TimeSpan.FromMilliseconds(500), resolver.Timeout);
        Assert.Equal(3, resolver.Attempts);
        Assert.Equal(new ResolverCacheConfig { MaxEntries = 200, MinTtl = TimeSpan.FromSeconds(5), MaxTtl = TimeSpan.FromMinutes(10), NegativeTtl = TimeSpan.Zero }, resolver.Cache);
        Assert.Equal(2, resolver.Line); // where the section's keys start
    }

    [Fact]
    public void Hosts_file_shapes()
    {
        string absolute = Path.Combine(_dir, "hosts");

        Assert.Null(Parse("resolver: { hostsFile: off }\n").HostsFile);
        Assert.Equal(absolute, Parse($"resolver: {{ hostsFile: '{absolute}' }}\n").HostsFile);
        Assert.Equal("/etc/hosts", Parse("resolver: { mode: dns }\n").HostsFile); // the default need not exist: none is read then
    }

    [Fact]
    public void Mode_system_is_read_alone()
    {
        ResolverConfig resolver = Parse("resolver:\n  mode: system\n");

        Assert.Equal(ResolverMode.System, resolver.Mode);
    }

    [Fact]
    public void Sections_equal_in_meaning_are_equal_wherever_they_stand()
    {
        ResolverConfig first = Parse("resolver:\n  servers: [10.0.0.10]\n  cache: { maxEntries: 5 }\n");
        ResolverConfig moved = Parse("name: x\n\nresolver: { cache: { maxEntries: 5 }, servers: ['10.0.0.10:53'] }\n");
        ResolverConfig other = Parse("resolver:\n  servers: [10.0.0.11]\n  cache: { maxEntries: 5 }\n");

        Assert.Equal(first, moved);
        Assert.Equal(first.GetHashCode(), moved.GetHashCode());
        Assert.NotEqual(first, other);
        Assert.NotEqual(new ResolverConfig(), first);
    }

    [Theory]
    [InlineData("resolver: dns\n", 1, 11, "resolver must be a mapping of keys to values", "a scalar for the section")]
    [InlineData("resolver:\n  mode: bind\n", 2, 9, "resolver.mode: expected dns or system, got 'bind'", "an unknown mode")]
    [InlineData("resolver:\n  mode: system\n  servers: [10.0.0.10]\n", 3, 12, "resolver.servers does nothing with mode: system", "servers with system")]
    [InlineData("resolver:\n  mode: system\n  hostsFile: off\n", 3, 14, "resolver.hostsFile does nothing with mode: system", "hostsFile with system")]
    [InlineData("resolver:\n  mode: system\n  timeout: 1s\n", 3, 12, "resolver.timeout does nothing with mode: system", "timeout with system")]
    [InlineData("resolver:\n  mode: system\n  attempts: 1\n", 3, 13, "resolver.attempts does nothing with mode: system", "attempts with system")]
    [InlineData("resolver:\n  mode: system\n  cache: { maxEntries: 1 }\n", 3, 10, "resolver.cache does nothing with mode: system", "cache with system")]
    [InlineData("resolver:\n  servers: []\n", 2, 12, "resolver.servers: give at least one name server", "an empty server list")]
    [InlineData("resolver:\n  servers: [dns.corp]\n", 2, 13, "resolver.servers: expected an IP address, optionally with a port", "a name for a server")]
    [InlineData("resolver:\n  servers: [\"10.0.0.10:0\"]\n", 2, 13, "got '10.0.0.10:0'", "port 0")]
    [InlineData("resolver:\n  servers: [010.0.0.10]\n", 2, 13, "got '010.0.0.10'", "a non-canonical literal")]
    [InlineData("resolver:\n  servers: [{ ip: 10.0.0.10 }]\n", 2, 13, "got mapping", "a mapping for a server")]
    [InlineData("resolver:\n  servers: [10.0.0.10, \"10.0.0.10:53\"]\n", 2, 24, "resolver.servers: 10.0.0.10:53 is listed twice", "the same server twice")]
    [InlineData("resolver:\n  servers: 10.0.0.10\n", 2, 12, "resolver.servers must be a list", "a scalar for servers")]
    [InlineData("resolver:\n  hostsFile: missing-hosts\n", 2, 14, "resolver.hostsFile: no file at", "a hosts file that is not there")]
    [InlineData("resolver:\n  hostsFile: ''\n", 2, 14, "resolver.hostsFile: give a path, or off", "an empty hosts file path")]
    [InlineData("resolver:\n  timeout: 0s\n", 2, 12, "resolver.timeout: expected a duration", "a zero timeout")]
    [InlineData("resolver:\n  timeout: 2m\n", 2, 12, "(at most 1m)", "a timeout over a minute")]
    [InlineData("resolver:\n  timeout: 2\n", 2, 12, "resolver.timeout: expected a duration", "a timeout without unit")]
    [InlineData("resolver:\n  attempts: 0\n", 2, 13, "resolver.attempts: expected a whole number from 1 to 10, got '0'", "no attempt")]
    [InlineData("resolver:\n  attempts: 11\n", 2, 13, "resolver.attempts: expected a whole number from 1 to 10, got '11'", "too many attempts")]
    [InlineData("resolver:\n  cache: 100\n", 2, 10, "resolver.cache must be a mapping", "a scalar cache")]
    [InlineData("resolver:\n  cache: { maxEntries: 0 }\n", 2, 24, "resolver.cache.maxEntries: expected a whole number from 1 to 10000000, got '0'", "an empty cache")]
    [InlineData("resolver:\n  cache: { minTtl: -1s }\n", 2, 20, "resolver.cache.minTtl: expected a duration such as 0s", "a negative TTL")]
    [InlineData("resolver:\n  cache: { maxTtl: 2d }\n", 2, 20, "resolver.cache.maxTtl: expected a duration", "a unit that is not one")]
    [InlineData("resolver:\n  cache: { maxTtl: 25h }\n", 2, 20, "(at most 1d)", "a TTL over a day")]
    [InlineData("resolver:\n  cache: { negativeTtl: soon }\n", 2, 25, "resolver.cache.negativeTtl: expected a duration", "words for a TTL")]
    [InlineData("resolver:\n  cache: { minTtl: 2h, maxTtl: 1h }\n", 2, 20, "resolver.cache.minTtl (2h) is longer than maxTtl (1h)", "min above max")]
    [InlineData("resolver:\n  cache: { maxEntrys: 5 }\n", 2, 12, "unknown key 'maxEntrys' in resolver.cache (known: maxEntries, maxTtl, minTtl, negativeTtl)", "a misspelt cache key")]
    [InlineData("resolver:\n  server: [10.0.0.10]\n", 2, 3, "unknown key 'server' in resolver (known: attempts, cache, hostsFile, mode, servers, timeout)", "a misspelt key")]
    public void Refused(string yaml, long line, long column, string message, string why)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => Parse(yaml));

        Assert.True(line == e.Line && column == e.Column, $"{why}: expected {line}:{column}, got {e.Line}:{e.Column} ({e.Problem})");
        Assert.True(e.Problem.Contains(message, StringComparison.Ordinal), $"{why}: '{e.Problem}' should contain '{message}'");
        Assert.Equal($"{ConfigPath}:{line}:{column}: {e.Problem}", e.Message);
    }

    [Theory]
    [InlineData("10.0.0.10", "10.0.0.10:53")]
    [InlineData("10.0.0.10:5353", "10.0.0.10:5353")]
    [InlineData("::1", "[::1]:53")]
    [InlineData("[::1]:5353", "[::1]:5353")]
    public void Server_shapes(string text, string expected)
    {
        Assert.True(ResolverReader.TryParseServer(text, out IPEndPoint server));
        Assert.Equal(expected, server.ToString());
    }
}
