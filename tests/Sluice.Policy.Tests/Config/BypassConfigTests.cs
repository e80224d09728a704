using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Config;

public sealed class BypassConfigTests
{
    private static SluiceConfig Parse(string yaml) => ConfigLoader.Parse(yaml, "sluice.yaml");

    [Fact]
    public void Bypasses_are_read_in_order_with_cidrs_ports_and_lines()
    {
        SluiceConfig config = Parse("bypass:\n  - { name: postgres, cidrs: [10.0.5.0/24, \"2001:db8::/64\"], ports: [5432] }\n  - name: redshift\n    cidrs: [52.94.0.0/22]\n    ports: [5439, \"8000-8100\"]\n");
        Assert.Equal(["postgres", "redshift"], config.Bypass.Select(b => b.Name));
        Assert.Equal(["10.0.5.0/24", "2001:db8::/64"], config.Bypass[0].Cidrs.Select(c => c.ToString()));
        Assert.Equal([new PortRange(5439, 5439), new PortRange(8000, 8100)], config.Bypass[1].Ports.ToArray());
        Assert.Equal(2, config.Bypass[0].Line);
        Assert.Empty(Parse("rules: []\n").Bypass);
    }

    [Theory]
    [InlineData("bypass:\n  - { cidrs: [10.0.5.0/24], ports: [5432] }\n", 2, 5, "bypass[0]: 'name' is required")]
    [InlineData("bypass:\n  - { name: pg, ports: [5432] }\n", 2, 5, "bypass[0]: 'cidrs' is required")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [10.0.5.0/24] }\n", 2, 5, "bypass[0]: 'ports' is required")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [], ports: [5432] }\n", 2, 24, "bypass[0].cidrs is empty")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [10.0.5.1/24], ports: [5432] }\n", 2, 25, "bypass[0].cidrs: expected an address range")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [db.example], ports: [5432] }\n", 2, 25, "bypass[0].cidrs: expected an address range")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [10.0.5.0/24], ports: [\"6000-5000\"] }\n", 2, 47, "empty range")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [10.0.5.0/24], ports: [5432, 5432] }\n", 2, 53, "'5432' is listed twice")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [10.0.5.0/24], ports: [5432], protocol: udp }\n", 2, 54, "unknown key 'protocol' in bypass[0]")]
    [InlineData("bypass:\n  - { name: pg, cidrs: [10.0.5.0/24], ports: [5432] }\n  - { name: pg, cidrs: [10.0.6.0/24], ports: [5432] }\n", 3, 13, "already used by the bypass on line 2")]
    [InlineData("bypass:\n  - { name: \"my db\", cidrs: [10.0.5.0/24], ports: [5432] }\n", 2, 13, "must be letters, digits")]
    [InlineData("bypass: { name: pg }\n", 1, 9, "bypass must be a list")]
    public void Errors_point_at_the_offending_node(string yaml, int line, int column, string message)
    {
        ConfigException error = Assert.Throws<ConfigException>(() => Parse(yaml));
        Assert.True(error.Line == line && error.Column == column, $"got {error.Line}:{error.Column} {error.Problem}");
        Assert.Contains(message, error.Problem);
    }
}
