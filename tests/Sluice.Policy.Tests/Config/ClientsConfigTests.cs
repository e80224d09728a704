using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Config;

public sealed class ClientsConfigTests
{
    private static SluiceConfig Parse(string yaml) => ConfigLoader.Parse(yaml, "test.yaml");

    [Fact]
    public void The_proxy_url_and_the_excluded_entries_are_read()
    {
        SluiceConfig config = Parse("clients:\n  proxyUrl: https://Proxy.Corp.Example:3129\n  excluded: [corp.example, \"*.svc.cluster.local\", 10.0.0.0/8, \"[fd00::1]:8443\"]\n");

        Assert.Equal("proxy.corp.example:3129", config.Clients.ProxyAddress.ToString());
        Assert.True(config.Clients.ProxyTls);
        Assert.Equal([PatternKind.ExactName, PatternKind.SubdomainsOnly, PatternKind.Address, PatternKind.Address], config.Clients.Excluded.Select(e => e.Kind));
        Assert.Equal(8443, config.Clients.Excluded[3].Port);
        Assert.Equal(80, Parse("clients: { proxyUrl: \"http://proxy.corp.example\" }\n").Clients.ProxyAddress!.Value.Port);
        Assert.Null(Parse("rules: []\n").Clients.ProxyAddress);
        Assert.Empty(Parse("clients: {}\n").Clients.Excluded);
    }

    [Theory]
    [InlineData("clients:\n  proxyUrl: ftp://proxy.example:21\n", 2, 13, "clients.proxyUrl: 'ftp://proxy.example:21': the scheme must be http or https")]
    [InlineData("clients:\n  proxyUrl: http://etl:secret@proxy.example:3128\n", 2, 13, "clients.proxyUrl: 'http://***@proxy.example:3128': credentials do not belong here")]
    [InlineData("clients:\n  proxyUrl: http://etl:se/cret@proxy.example:3128\n", 2, 13, "clients.proxyUrl: 'http://***@proxy.example:3128': credentials do not belong here")]
    [InlineData("clients:\n  proxyUrl: http://proxy.example:3128/pac\n", 2, 13, "a proxy URL has no path, query or fragment")]
    [InlineData("clients:\n  proxyUrl: proxy.example:3128\n", 2, 13, "clients.proxyUrl: expected a proxy URL such as http://proxy.corp.example:3128")]
    [InlineData("clients:\n  proxyUrl: http://proxy.example:99999\n", 2, 13, "clients.proxyUrl: invalid port '99999'")]
    [InlineData("clients:\n  proxyUrl: [a]\n", 2, 13, "clients.proxyUrl: expected a proxy URL such as")]
    [InlineData("clients:\n  excluded: [example.com, \"bad..name\"]\n", 2, 27, "clients.excluded: 'bad..name' can never match a host name")]
    [InlineData("clients:\n  excluded: [\"10.1.2.3/8\"]\n", 2, 14, "clients.excluded: '10.1.2.3/8' is not a valid address or CIDR")]
    [InlineData("clients:\n  excluded: [\"*:443\"]\n", 2, 14, "clients.excluded: '*:443': * excludes every destination and takes no port")]
    [InlineData("clients:\n  excluded: [\"fe80::1%eth0\"]\n", 2, 14, "an IPv6 zone id")]
    [InlineData("clients:\n  excluded: [example.com, .example.com]\n", 2, 27, "clients.excluded: '.example.com' is listed twice")]
    [InlineData("clients:\n  excluded: [{ name: x }]\n", 2, 14, "clients.excluded: expected a NO_PROXY entry")]
    [InlineData("clients:\n  excluded: localhost\n", 2, 13, "clients.excluded must be a list")]
    [InlineData("clients:\n  exclude: [localhost]\n", 2, 3, "unknown key 'exclude' in clients (known: excluded, proxyUrl)")]
    [InlineData("clients: yes\n", 1, 10, "clients must be a mapping")]
    public void Errors_point_at_the_offending_node(string yaml, int line, int column, string message)
    {
        ConfigException error = Assert.Throws<ConfigException>(() => Parse(yaml));
        Assert.True(error.Line == line && error.Column == column, $"got {error.Line}:{error.Column} {error.Problem}");
        Assert.Contains(message, error.Problem);
        Assert.DoesNotContain("secret", error.Problem);
        Assert.DoesNotContain("cret", error.Problem);
    }
}
