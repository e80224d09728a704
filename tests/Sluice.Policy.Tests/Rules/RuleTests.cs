using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

public sealed class RuleTests
{
    private const RuleAction Allow = RuleAction.Allow;

    [Fact]
    public void A_rule_without_matchers_matches_everything()
    {
        Rule rule = RuleKit.Rule("all", Allow);

        Assert.Null(rule.Mismatch(RuleKit.Request("example.com")));
        Assert.Null(rule.Mismatch(RuleKit.Request("10.0.0.1", 22, "GET", client: "192.0.2.1", user: "bob")));
        Assert.Null(rule.Mismatch(RuleKit.Request("[2001:db8::1]", 1)));
    }

    [Theory]
    // destinations
    [InlineData("example.com", 443, "CONNECT", "10.20.0.5", null, null, "destinations: a listed name")]
    [InlineData("api.example.com", 443, "CONNECT", "10.20.0.5", null, "api.example.com:443 is not in destinations", "destinations: an unlisted name")]
    [InlineData("93.184.216.34", 443, "CONNECT", "10.20.0.5", null, "93.184.216.34 is an IP address and this rule lists names only", "destinations: a raw IP against names only")]
    [InlineData("[2001:db8::1]", 443, "CONNECT", "10.20.0.5", null, "2001:db8::1 is an IP address and this rule lists names only", "destinations: a raw IPv6 against names only")]
    [InlineData("2130706433", 443, "CONNECT", "10.20.0.5", null, "127.0.0.1 is an IP address and this rule lists names only", "destinations: an odd IPv4 notation is named by its address")]
    public void Destinations_names_only(string host, int port, string method, string client, string? user, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("names", Allow, destinations: ["example.com", ".example.org"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request(host, port, method, client: client, user: user)), why);
    }

    [Theory]
    [InlineData("10.1.2.3", 443, null, "in the CIDR")]
    [InlineData("11.1.2.3", 443, "11.1.2.3:443 is not in destinations", "outside the CIDR: the rule lists addresses, so the reason is not 'names only'")]
    [InlineData("example.com", 443, null, "the name listed beside the CIDR")]
    [InlineData("example.net", 8443, "example.net:8443 is not in destinations", "an unlisted name")]
    [InlineData("[2001:db8::5]", 443, "2001:db8::5:443 is not in destinations", "an IPv6 address outside")]
    public void Destinations_mixed(string host, int port, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("mixed", Allow, destinations: ["10.0.0.0/8", "example.com"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request(host, port)), $"{why}: got '{rule.Mismatch(RuleKit.Request(host, port))}'");
    }

    [Theory]
    [InlineData(443, null, "a listed port")]
    [InlineData(8080, null, "inside a listed range")]
    [InlineData(8000, null, "first port of a range")]
    [InlineData(8999, null, "last port of a range")]
    [InlineData(80, "port 80 is not in ports [443, 8000-8999]", "an unlisted port")]
    [InlineData(9000, "port 9000 is not in ports [443, 8000-8999]", "just past a range")]
    public void Ports(int port, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("ports", Allow, ports: ["443", "8000-8999"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request("example.com", port)), why);
    }

    [Theory]
    [InlineData("GET", null, "a listed method")]
    [InlineData("CONNECT", null, "CONNECT listed")]
    [InlineData("POST", "method POST is not in methods", "an unlisted method")]
    [InlineData("get", "method get is not in methods", "methods are case-sensitive, as HTTP says")]
    public void Methods(string method, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("methods", Allow, methods: ["GET", "CONNECT"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request("example.com", 443, method)), why);
    }

    [Theory]
    [InlineData(RequestScheme.Tunnel, null, "the listed scheme")]
    [InlineData(RequestScheme.Http, "scheme http is not in schemes", "another scheme, named lower-case as in the config")]
    public void Schemes(RequestScheme scheme, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("schemes", Allow, schemes: [RequestScheme.Tunnel]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request("example.com", 443, "GET", scheme)), why);
    }

    [Theory]
    [InlineData("10.20.0.5", null, "inside the IPv4 CIDR")]
    [InlineData("10.20.255.255", null, "last address of the IPv4 CIDR")]
    [InlineData("10.21.0.1", "client 10.21.0.1 is not in clients", "outside the IPv4 CIDR")]
    [InlineData("::ffff:10.20.1.1", null, "an IPv4-mapped client is compared as IPv4")]
    [InlineData("::ffff:10.21.1.1", "client ::ffff:10.21.1.1 is not in clients", "an IPv4-mapped client outside, named as it connected")]
    [InlineData("2001:db8:1::9", null, "inside the IPv6 CIDR")]
    [InlineData("2001:db8:2::9", "client 2001:db8:2::9 is not in clients", "outside the IPv6 CIDR")]
    [InlineData("192.0.2.7", null, "a single listed address")]
    [InlineData("192.0.2.8", "client 192.0.2.8 is not in clients", "the neighbour of a single address")]
    public void Clients(string client, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("clients", Allow, clients: ["10.20.0.0/16", "2001:db8:1::/48", "192.0.2.7"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request("example.com", client: client)), why);
    }

    [Theory]
    [InlineData("alice", null, "a listed user")]
    [InlineData("bob", "user bob is not in users", "an unlisted user")]
    [InlineData("Alice", "user Alice is not in users", "user names are compared exactly")]
    [InlineData(null, "the client is anonymous and this rule names users", "no user")]
    public void Users(string? user, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("users", Allow, users: ["alice", "carol"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request("example.com", user: user)), why);
    }

    [Theory]
    [InlineData(new[] { "dev" }, null, "a listed group")]
    [InlineData(new[] { "sales", "ops" }, null, "one of several groups is listed")]
    [InlineData(new[] { "sales" }, "the client is in none of the rule's groups", "an unlisted group")]
    [InlineData(new string[0], "the client is in none of the rule's groups", "no groups")]
    [InlineData(new[] { "Dev" }, "the client is in none of the rule's groups", "group names are compared exactly")]
    public void Groups(string[] groups, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule("groups", Allow, groups: ["dev", "ops"]);

        Assert.True(mismatch == rule.Mismatch(RuleKit.Request("example.com", user: "u", groups: groups)), why);
    }

    [Theory]
    [InlineData("api.example.com", 443, "CONNECT", "10.20.0.5", "alice", null, "every matcher matches")]
    [InlineData("example.com", 443, "CONNECT", "10.20.0.5", "alice", "example.com:443 is not in destinations", "destination fails first")]
    [InlineData("api.example.com", 80, "CONNECT", "10.20.0.5", "alice", "port 80 is not in ports [443]", "port fails")]
    [InlineData("api.example.com", 443, "GET", "10.20.0.5", "alice", "method GET is not in methods", "method fails")]
    [InlineData("api.example.com", 443, "CONNECT", "10.99.0.5", "alice", "client 10.99.0.5 is not in clients", "client fails")]
    [InlineData("api.example.com", 443, "CONNECT", "10.20.0.5", "mallory", "user mallory is not in users", "user fails")]
    [InlineData("api.example.com", 443, "CONNECT", "10.20.0.5", null, "the client is anonymous and this rule names users", "anonymous")]
    [InlineData("example.com", 80, "GET", "10.99.0.5", null, "example.com:80 is not in destinations", "everything fails: the first matcher in order is named")]
    [InlineData("api.example.com", 80, "GET", "10.99.0.5", null, "port 80 is not in ports [443]", "all but destinations fail: ports are next")]
    [InlineData("api.example.com", 443, "GET", "10.99.0.5", null, "method GET is not in methods", "methods come before schemes and clients")]
    public void Every_present_matcher_must_match(string host, int port, string method, string client, string? user, string? mismatch, string why)
    {
        Rule rule = RuleKit.Rule(
            "combined",
            Allow,
            destinations: ["*.example.com"],
            ports: ["443"],
            methods: ["CONNECT"],
            schemes: [RequestScheme.Tunnel],
            clients: ["10.20.0.0/16"],
            users: ["alice"]);

        string? actual = rule.Mismatch(RuleKit.Request(host, port, method, client: client, user: user));
        Assert.True(mismatch == actual, $"{why}: got '{actual}'");
    }

    [Fact]
    public void The_scheme_mismatch_is_reported_when_the_rest_matches()
    {
        Rule rule = RuleKit.Rule("s", Allow, destinations: ["example.com"], methods: ["GET"], schemes: [RequestScheme.Http]);

        Assert.Equal("scheme tunnel is not in schemes", rule.Mismatch(RuleKit.Request("example.com", 443, "GET", RequestScheme.Tunnel)));
        Assert.Null(rule.Mismatch(RuleKit.Request("example.com", 80, "GET", RequestScheme.Http)));
    }

    [Fact]
    public void A_port_in_a_destination_and_a_ports_list_must_both_hold()
    {
        Rule rule = RuleKit.Rule("both", Allow, destinations: ["example.com:8443", "example.org"], ports: ["443", "8443"]);

        Assert.Null(rule.Mismatch(RuleKit.Request("example.com", 8443)));
        Assert.Equal("example.com:443 is not in destinations", rule.Mismatch(RuleKit.Request("example.com", 443)));
        Assert.Null(rule.Mismatch(RuleKit.Request("example.org", 443)));
        Assert.Equal("port 80 is not in ports [443, 8443]", rule.Mismatch(RuleKit.Request("example.org", 80)));
    }

    [Fact]
    public void Within_one_matcher_any_entry_may_match()
    {
        Rule rule = RuleKit.Rule("any", Allow, destinations: ["a.test", "*.b.test", "10.0.0.0/8", "[2001:db8::1]:443"]);

        Assert.Null(rule.Mismatch(RuleKit.Request("a.test")));
        Assert.Null(rule.Mismatch(RuleKit.Request("x.b.test")));
        Assert.Null(rule.Mismatch(RuleKit.Request("10.9.9.9")));
        Assert.Null(rule.Mismatch(RuleKit.Request("[2001:db8::1]", 443)));
        Assert.NotNull(rule.Mismatch(RuleKit.Request("[2001:db8::1]", 80)));
        Assert.NotNull(rule.Mismatch(RuleKit.Request("b.test")));
    }
}
