using Sluice.Policy.Config;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Tests.Config;

/// <summary><c>limits.perDestination</c>: the shapes that are read, and every refusal with its place in the file.</summary>
public sealed class PerDestinationConfigTests
{
    private static PerDestinationLimits? Parse(string yaml) => ConfigLoader.Parse(yaml, "sluice.yaml").Limits.PerDestination;

    [Fact]
    public void Without_the_section_it_is_off()
    {
        Assert.Null(Parse("{}"));
        Assert.Null(Parse("limits: { maxConnections: 10 }\n"));
    }

    [Fact]
    public void Every_key_is_read()
    {
        PerDestinationLimits? limits = Parse("""
            limits:
              perDestination:
                requestsPerSecond: 50
                burst: 100
                tunnels: 200
                key: domain
                maxDestinations: 5000
            """);

        Assert.Equal(new PerDestinationLimits { RequestsPerSecond = 50, Burst = 100, Tunnels = 200, Key = DestinationKeyKind.Domain, MaxDestinations = 5000 }, limits);
    }

    [Theory]
    [InlineData("{}", 0, 0, 0, DestinationKeyKind.Host, 10_000, "an empty section limits nothing")]
    [InlineData("{ requestsPerSecond: 50 }", 50, 100, 0, DestinationKeyKind.Host, 10_000, "the burst is twice the rate")]
    [InlineData("{ requestsPerSecond: 50, burst: 10 }", 50, 10, 0, DestinationKeyKind.Host, 10_000, "a burst below the rate")]
    [InlineData("{ tunnels: 3 }", 0, 0, 3, DestinationKeyKind.Host, 10_000, "tunnels alone")]
    [InlineData("{ tunnels: 3, key: host, maxDestinations: 1 }", 0, 0, 3, DestinationKeyKind.Host, 1, "one destination tracked")]
    [InlineData("{ requestsPerSecond: 0, tunnels: 0 }", 0, 0, 0, DestinationKeyKind.Host, 10_000, "zeros: unlimited")]
    public void Good_values(string section, int rate, int burst, int tunnels, DestinationKeyKind key, int max, string why)
    {
        PerDestinationLimits limits = Parse($"limits:\n  perDestination: {section}\n") ?? throw new InvalidOperationException(why);
        Assert.True(limits.RequestsPerSecond == rate, why);
        Assert.True(limits.EffectiveBurst == burst, why);
        Assert.True(limits.Tunnels == tunnels, why);
        Assert.True(limits.Key == key, why);
        Assert.True(limits.MaxDestinations == max, why);
        Assert.True(limits.Enabled == (rate > 0 || tunnels > 0), why);
    }

    [Theory]
    [InlineData("limits:\n  perDestination:\n    requestsPerSecond: -1\n", 3, 24, "limits.perDestination.requestsPerSecond: expected a whole number from 0 to 10000000, got '-1'", "a negative rate")]
    [InlineData("limits:\n  perDestination:\n    requestsPerSecond: fast\n", 3, 24, "limits.perDestination.requestsPerSecond: expected a whole number", "a rate that is no number")]
    [InlineData("limits:\n  perDestination:\n    requestsPerSecond: 5\n    burst: 0\n", 4, 12, "limits.perDestination.burst: expected a whole number from 1 to 10000000", "an empty bucket")]
    [InlineData("limits:\n  perDestination:\n    burst: 10\n", 3, 12, "limits.perDestination.burst does nothing without requestsPerSecond", "a burst without a rate")]
    [InlineData("limits:\n  perDestination:\n    tunnels: 1.5\n", 3, 14, "limits.perDestination.tunnels: expected a whole number from 0", "a fractional tunnel count")]
    [InlineData("limits:\n  perDestination:\n    key: url\n", 3, 10, "limits.perDestination.key: expected host or domain, got 'url'", "an unknown key kind")]
    [InlineData("limits:\n  perDestination:\n    key: Domain\n", 3, 10, "limits.perDestination.key: expected host or domain", "key kinds are lower-case")]
    [InlineData("limits:\n  perDestination:\n    maxDestinations: 0\n", 3, 22, "limits.perDestination.maxDestinations: expected a whole number from 1 to 10000000", "nothing tracked")]
    [InlineData("limits:\n  perDestination:\n    tunnels: 5\n    tunnel: 5\n", 4, 5, "unknown key 'tunnel' in limits.perDestination (known: ", "a misspelt key")]
    [InlineData("limits:\n  perDestination: 50\n", 2, 19, "limits.perDestination must be a mapping", "a number where the section belongs")]
    public void Bad_values_are_refused_with_their_place(string yaml, int line, int column, string message, string why)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => Parse(yaml));
        Assert.True(e.Message.Contains(message, StringComparison.Ordinal), $"{why}: {e.Message}");
        Assert.True((line, column) == (e.Line, e.Column), $"{why}: at {e.Line}:{e.Column}, expected {line}:{column}");
    }

    [Fact]
    public void Key_domain_without_libpsl_is_refused_when_the_file_is_read()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader("perDestination:\n  tunnels: 5\n  key: domain\n"));
        var limits = new YamlSection((YamlMappingNode)yaml.Documents[0].RootNode, "sluice.yaml", "limits");

        ConfigException e = Assert.Throws<ConfigException>(() => PerDestinationReader.Read(limits, () => false));
        Assert.Contains("limits.perDestination.key: domain needs libpsl (apt-get install libpsl5)", e.Message, StringComparison.Ordinal);
        Assert.Equal((3L, 8L), (e.Line, e.Column));
    }

    [Fact]
    public void Key_host_never_asks_for_libpsl()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader("perDestination:\n  tunnels: 5\n  key: host\n"));
        var limits = new YamlSection((YamlMappingNode)yaml.Documents[0].RootNode, "sluice.yaml", "limits");

        Assert.Equal(DestinationKeyKind.Host, PerDestinationReader.Read(limits, () => throw new InvalidOperationException("asked"))!.Key);
    }
}
