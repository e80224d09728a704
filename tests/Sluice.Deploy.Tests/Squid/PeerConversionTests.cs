using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// squid.conf files with parents through reader, translator and writer: each result loads as a Sluice
/// configuration, its requests leave the way Squid sends them first, and the login's password is nowhere in it.
/// </summary>
public sealed class PeerConversionTests : IDisposable
{
    private const string Password = "Br4nch-Pa55";

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-squid-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SquidConversion Convert(string text)
    {
        SquidConversion c = SquidConversion.Of(text, _dir);
        Assert.DoesNotContain(Password, c.Yaml + c.Notes, StringComparison.Ordinal);
        return c;
    }

    [Fact]
    public void The_corporate_example_loads_and_routes_intranet_direct_saas_through_its_gateway_and_the_rest_through_the_company_proxies()
    {
        string ca = Path.Combine(_dir, "corp-ca.pem");
        File.WriteAllText(ca, Kubernetes.UpstreamsConfig.SelfSignedPem()); // the loader parses a CA: a real one, public part only
        SquidConversion c = Convert(File.ReadAllText(SquidConversion.Fixture("corporate-parents.conf")).Replace("/etc/squid/corp-ca.pem", ca, StringComparison.Ordinal));

        Assert.Equal("direct", c.Route("wiki.corp.example:443"));
        Assert.Equal("saas-gw", c.Route("app.example-saas.com:443"));
        Assert.Equal("parents", c.Route("example.com:443"));
        Assert.Equal("parents", c.Route("http://example.com/", method: "POST"));
        Assert.Null(c.Route("example.com:8443")); // deny CONNECT !SSL_ports
        Assert.Null(c.Route("example.com:443", client: "192.0.2.1"));

        UpstreamConfig parents = c.Config.Upstreams.Single(u => u.Name == "parents");
        Assert.Equal(["http://proxy-a.corp.example:3128", "https://proxy-b.corp.example:3129"], parents.Proxies.Select(p => p.ToString()));
        Assert.Equal(Balance.Failover, parents.Balance);
        Assert.Equal((SecretKind.Literal, "branch7"), (parents.Credentials!.User.Kind, parents.Credentials.User.Name));
        Assert.Equal((SecretKind.Environment, "PARENTS_PROXY_PASSWORD"), (parents.Credentials.Password.Kind, parents.Credentials.Password.Name));
        Assert.Equal(ca, parents.Ca);
        UpstreamConfig gateway = c.Config.Upstreams.Single(u => u.Name == "saas-gw");
        Assert.Equal(["http://198.51.100.20:8080"], gateway.Proxies.Select(p => p.ToString()));
        Assert.Null(gateway.Credentials);
        Assert.Equal("parents", c.Config.Route.Default);
    }

    [Fact]
    public void Without_never_direct_get_goes_through_the_parent_and_everything_else_direct()
    {
        SquidConversion c = Convert($"""
            http_port 127.0.0.1:3128
            acl localnet src 10.0.0.0/8
            cache_peer proxy.corp.example parent 3128 0 no-query login=branch7:{Password}
            http_access allow localnet
            """);
        Assert.Equal("proxy.corp.example", c.Route("http://example.com/"));
        Assert.Equal("direct", c.Route("http://example.com/", method: "POST"));
        Assert.Equal("direct", c.Route("example.com:443"));
        Assert.Equal("direct", c.Config.Route.Default);
    }

    [Fact]
    public void What_never_direct_keeps_from_going_direct_and_no_parent_takes_is_denied()
    {
        SquidConversion c = Convert("""
            http_port 127.0.0.1:3128
            acl intranet dstdomain .corp.example
            cache_peer proxy.corp.example parent 3128 0 no-query name=corp
            cache_peer_access corp deny intranet
            never_direct allow all
            http_access allow all
            """);
        Assert.False(c.Allows("wiki.corp.example:443"));
        Assert.Equal("corp", c.Route("example.com:443"));
    }
}
