using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

/// <summary>What <c>sluice check</c> warns about upstreams: unused ones, credentials in clear text, destinations left unchecked.</summary>
public sealed class UpstreamAdvisorTests
{
    private static IReadOnlyList<string> WarningsFor(string yaml) =>
        [.. ConfigAdvisor.Warnings(ConfigLoader.Parse(yaml, "test.yaml")).Where(w => w.Contains("upstream", StringComparison.Ordinal))];

    [Fact]
    public void An_upstream_no_rule_or_default_uses_is_named()
    {
        string warning = Assert.Single(WarningsFor("""
            upstreams:
              - { name: corp, proxies: ["http://proxy.corp.example:3128"] }
            rules:
              - { name: a, action: allow, destinations: [a.example] }
            """));

        Assert.Equal("upstream corp (line 2) is not used: no rule names it with via: and route.default is direct", warning);
    }

    [Theory]
    [InlineData("via: corp")]
    [InlineData("")]
    public void An_upstream_used_by_a_rule_or_the_default_is_not_named(string via)
    {
        string route = via.Length == 0 ? "route: { default: corp }" : "";
        Assert.Empty(WarningsFor($$"""
            upstreams:
              - { name: corp, proxies: ["https://proxy.corp.example:3129"] }
            rules:
              - { name: a, action: allow, destinations: [a.example] {{(via.Length == 0 ? "" : ", " + via)}} }
            {{route}}
            """));
    }

    [Fact]
    public void Credentials_to_a_plain_http_proxy_beyond_this_machine_are_cleartext()
    {
        string warning = Assert.Single(WarningsFor("""
            upstreams:
              - name: corp
                proxies: ["https://a.corp.example:3129", "http://b.corp.example:3128"]
                credentials: { user: egress, passwordEnv: CORP_PROXY_PASSWORD }
            route: { default: corp }
            """));

        Assert.Equal("upstream corp sends its credentials to http://b.corp.example:3128 in clear text (Basic over http://); use https:// for that proxy if it offers TLS", warning);
    }

    [Fact]
    public void Credentials_to_a_proxy_on_this_machine_or_over_tls_are_fine()
    {
        Assert.Empty(WarningsFor("""
            upstreams:
              - name: corp
                proxies: ["https://a.corp.example:3129", "http://127.0.0.1:3128", "http://localhost:3130"]
                credentials: { user: egress, passwordEnv: CORP_PROXY_PASSWORD }
            route: { default: corp }
            """));
    }

    [Fact]
    public void Trusting_the_parent_with_names_is_said_out_loud()
    {
        string warning = Assert.Single(WarningsFor("""
            upstreams:
              - { name: corp, proxies: ["https://a.corp.example:3129"], checkDestinations: parent }
            route: { default: corp }
            """));

        Assert.Contains("checkDestinations: parent", warning);
        Assert.Contains("the parent's own policy must refuse internal addresses", warning);
    }
}
