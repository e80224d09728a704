using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

public sealed class RulesConfigTests
{
    private const string Full = """
        rules:
          - name: block-metadata
            action: deny
            destinations:
              - 169.254.169.254
              - "[fd00:ec2::254]:80"
          - name: vendor
            action: allow
            destinations: [".vendor.example", "*.cdn.example", "bücher.example:8443"]
            ports: [443, "8000-8999"]
            methods: [CONNECT, get]
            schemes: [tunnel, http]
            clients: [10.20.0.0/16, "2001:db8::/32", "::ffff:192.168.0.0/112"]
            users: [alice, bob]
            groups: [dev]
          - name: lan
            action: allow
            destinations:
              - 10.0.0.0/8
          - name: no-post
            action: deny
            methods: [POST]
        default: allow
        """;

    [Fact]
    public void A_full_rule_set_is_read_into_rules()
    {
        SluiceConfig config = ConfigLoader.Parse(Full, "test.yaml");

        Assert.Equal(RuleAction.Allow, config.Default);
        Assert.Equal(["block-metadata", "vendor", "lan", "no-post"], config.Rules.Select(r => r.Name));
        Assert.Equal([RuleAction.Deny, RuleAction.Allow, RuleAction.Allow, RuleAction.Deny], config.Rules.Select(r => r.Action));
        Assert.Equal([2L, 7L, 16L, 20L], config.Rules.Select(r => r.Line));

        Rule metadata = config.Rules[0];
        Assert.Equal(["169.254.169.254", "[fd00:ec2::254]:80"], metadata.Destinations.Select(d => d.Text));
        Assert.Equal([PatternKind.Address, PatternKind.Address], metadata.Destinations.Select(d => d.Kind));
        Assert.Equal(80, metadata.Destinations[1].Port);
        Assert.True(metadata.Ports.IsEmpty && metadata.Methods.IsEmpty && metadata.Schemes.IsEmpty && metadata.Clients.IsEmpty);

        Rule vendor = config.Rules[1];
        Assert.Equal(
            [(PatternKind.NameAndSubdomains, "vendor.example", (int?)null), (PatternKind.SubdomainsOnly, "cdn.example", null), (PatternKind.ExactName, "xn--bcher-kva.example", 8443)],
            vendor.Destinations.Select(d => (d.Kind, d.Name, d.Port)));
        Assert.Equal(new[] { new PortRange(443, 443), new PortRange(8000, 8999) }, vendor.Ports.ToArray());
        Assert.Equal(["CONNECT", "GET"], vendor.Methods.ToArray());
        Assert.Equal([RequestScheme.Tunnel, RequestScheme.Http], vendor.Schemes.ToArray());
        Assert.Equal(["10.20.0.0/16", "2001:db8::/32", "192.168.0.0/16"], vendor.Clients.Select(c => c.ToString()));
        Assert.Equal(["alice", "bob"], vendor.Users.ToArray());
        Assert.Equal(["dev"], vendor.Groups.ToArray());

        Assert.Equal(["10.0.0.0/8"], config.Rules[2].Destinations.Select(d => d.Network.ToString()));
        Assert.Equal(["POST"], config.Rules[3].Methods.ToArray());
    }

    [Theory]
    [InlineData("169.254.169.254", 80, "GET", "10.20.0.5", null, false, "block-metadata", "the metadata address is denied first")]
    [InlineData("2852039166", 80, "GET", "10.20.0.5", null, false, "block-metadata", "also written as an integer")]
    [InlineData("[fd00:ec2::254]", 80, "GET", "10.20.0.5", null, false, "block-metadata", "the IPv6 metadata address on its port")]
    [InlineData("[fd00:ec2::254]", 443, "GET", "10.20.0.5", null, true, null, "the IPv6 metadata address on another port falls to the default")]
    [InlineData("api.vendor.example", 443, "CONNECT", "10.20.0.5", "alice", true, "vendor", "the vendor, by every matcher")]
    [InlineData("api.vendor.example", 443, "CONNECT", "::ffff:192.168.3.4", "bob", true, "vendor", "a mapped client in a range written as mapped")]
    [InlineData("BÜCHER.example.", 8443, "CONNECT", "10.20.0.5", "bob", true, "vendor", "the IDN entry with its port")]
    [InlineData("cdn.example", 443, "CONNECT", "10.20.0.5", "alice", true, null, "the bare name of a wildcard is not the vendor's (the default allows)")]
    [InlineData("10.9.8.7", 22, "CONNECT", "10.20.0.5", null, true, "lan", "the LAN by address")]
    [InlineData("example.com", 443, "POST", "10.20.0.5", null, false, "no-post", "POST is denied everywhere else")]
    public void The_rules_read_decide_as_written(string host, int port, string method, string client, string? user, bool allowed, string? rule, string why)
    {
        SluiceConfig config = ConfigLoader.Parse(Full, "test.yaml");
        var policy = new RulePolicy(config.Rules, config.Default);

        Decision d = policy.Decide(RuleKit.Request(host, port, method, client: client, user: user, groups: user is null ? [] : ["dev"]));

        Assert.True(allowed == d.Allowed && rule == d.Rule, $"{why}: got {d.Rule ?? "default"} {(d.Allowed ? "allow" : "deny")} ({d.Detail})");
    }

    [Theory]
    [InlineData("", RuleAction.Deny, "no default: deny")]
    [InlineData("default: deny\n", RuleAction.Deny, "explicit deny")]
    [InlineData("default: allow\n", RuleAction.Allow, "explicit allow")]
    public void The_default_is_deny_unless_written(string yaml, RuleAction expected, string why)
    {
        SluiceConfig config = ConfigLoader.Parse(yaml + "rules:\n  - name: a\n    action: allow\n    destinations: [a.test]\n", "test.yaml");
        Assert.True(expected == config.Default, why);
        Assert.Single(config.Rules);
    }

    [Fact]
    public void No_rules_key_means_no_rules()
    {
        SluiceConfig config = ConfigLoader.Parse("default: deny\n", "test.yaml");
        Assert.Empty(config.Rules);
    }

    [Fact]
    public void A_rule_may_read_FTP_control_connections_for_passive_data_ports()
    {
        SluiceConfig config = ConfigLoader.Parse("rules:\n  - name: ftp\n    action: allow\n    destinations: [ftp.partner.example]\n    ports: [21]\n    ftp: passive\n  - name: web\n    action: allow\n    ports: [80]\n    ftp: off\n", "test.yaml");
        Assert.Equal(FtpMode.Passive, config.Rules[0].Ftp);
        Assert.Equal(FtpMode.Off, config.Rules[1].Ftp);
        Assert.Equal<RequestScheme>([RequestScheme.Ftp], ConfigLoader.Parse("rules:\n  - name: a\n    action: allow\n    schemes: [ftp]\n", "test.yaml").Rules[0].Schemes);
    }

    [Theory]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destination: [a.test]\n", 4, 5, "unknown key 'destination' in rules[0] (known: action, clients, destinations, ftp, groups, methods, name, paths, ports, schemes, tls, users, via)", "unknown key in a rule")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    port: 443\n", 4, 5, "unknown key 'port' in rules[0]", "singular 'port'")]
    [InlineData("rules:\n  - action: allow\n    destinations: [a.test]\n", 2, 5, "rules[0]: 'name' is required", "missing name")]
    [InlineData("rules:\n  - name: ''\n    action: allow\n", 2, 11, "rules[0]: the name '' must be non-empty", "empty name")]
    [InlineData("rules:\n  - name: my rule\n    action: allow\n", 2, 11, "rules[0]: the name 'my rule' must be non-empty without spaces", "name with a space")]
    [InlineData("rules:\n  - name: [a, b]\n    action: allow\n", 2, 11, "rules[0].name must be a single value", "name as a list")]
    [InlineData("rules:\n  - name: a\n    destinations: [a.test]\n", 2, 5, "rules[0] 'a': 'action' is required: allow, deny or report", "missing action")]
    [InlineData("rules:\n  - name: a\n    action: maybe\n", 3, 13, "rules[0].action: expected allow, deny or report, got 'maybe'", "bad action")]
    [InlineData("rules:\n  - name: a\n    action: Allow\n", 3, 13, "rules[0].action: expected allow, deny or report, got 'Allow'", "actions are lower-case")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations:\n      - a.test\n      - a.*.test\n", 6, 9, "rules[0].destinations: 'a.*.test': '*' is allowed only", "bad pattern")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [\"*.\"]\n", 4, 20, "rules[0].destinations: '*.' can never match a host name", "wildcard without a name")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [127.1]\n", 4, 20, "rules[0].destinations: '127.1' is not a valid address or CIDR", "short IPv4 notation")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [10.1.2.3/8]\n", 4, 20, "host bits must be zero", "CIDR with host bits in destinations")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [\"a.test:0\"]\n", 4, 20, "'0' is not a port from 1 to 65535", "port 0 in a destination")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [\"a.test:70000\"]\n", 4, 20, "'70000' is not a port from 1 to 65535", "port 70000 in a destination")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [[a.test]]\n", 4, 20, "rules[0].destinations: expected a single value, got sequence", "a nested list")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: a.test\n", 4, 19, "rules[0].destinations must be a list", "a scalar where a list belongs")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ports: [\"2000-1000\"]\n", 4, 13, "rules[0].ports: '2000-1000' is an empty range: 2000 is greater than 1000", "reversed port range")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ports: [0]\n", 4, 13, "rules[0].ports: '0' is not a port (1-65535)", "port 0")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ports: [443, 70000]\n", 4, 18, "rules[0].ports: '70000' is not a port", "port 70000")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    clients: [10.20.0.0/16, 10.1.2.3/8]\n", 4, 29, "rules[0].clients: '10.1.2.3/8' is not a client address or CIDR", "bad CIDR in clients")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    clients: [office.example]\n", 4, 15, "rules[0].clients: 'office.example' is not a client address or CIDR", "a name in clients")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    methods: [\"GE T\"]\n", 4, 15, "rules[0].methods: 'GE T' is not an HTTP method", "bad method")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    methods: [purge]\n", 4, 15, "'purge' is not a standard method; write extension methods in upper case", "lower-case extension method")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    schemes: [gopher]\n", 4, 15, "rules[0].schemes: 'gopher' is not a scheme: use http (forwarded requests), tunnel (CONNECT), https (requests inside an inspected tunnel) or ftp (ftp:// URLs, fetched over FTP by the proxy)", "bad scheme")]
    [InlineData("rules:\n  - name: a\n    action: deny\n    ftp: passive\n", 4, 10, "rules[0] 'a': a deny rule opens no control connection, so ftp: has no meaning here", "ftp on a deny rule")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ftp: active\n", 4, 10, "rules[0].ftp: expected passive or off", "unknown ftp mode")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    methods: [GET]\n    ftp: passive\n", 5, 10, "this rule's methods, schemes or paths admit no CONNECT", "ftp on a rule admitting no CONNECT")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    users: [\"al ice\"]\n", 4, 13, "rules[0].users: 'al ice' is not a user or group name", "bad user")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: []\n", 4, 19, "rules[0].destinations is empty, so the rule could never match; remove the key to match any destination", "empty destinations list")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ports: []\n", 4, 12, "rules[0].ports is empty", "empty ports list")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    clients: []\n", 4, 14, "rules[0].clients is empty", "empty clients list")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations:\n      - a.test\n      - b.test\n      - a.test\n", 7, 9, "rules[0].destinations: 'a.test' is listed twice", "duplicate entry")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test, A.TEST]\n", 4, 28, "rules[0].destinations: 'A.TEST' is listed twice", "duplicate entry in another case")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ports: [443, 443]\n", 4, 18, "rules[0].ports: '443' is listed twice", "duplicate port")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test, A.test.]\n", 4, 28, "rules[0].destinations: 'A.test.' is listed twice (the same as 'a.test')", "duplicate in another spelling")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [bücher.example, xn--bcher-kva.example]\n", 4, 36, "'xn--bcher-kva.example' is listed twice (the same as 'bücher.example')", "duplicate IDN in punycode")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: ['[::1]:443', '[0::1]:443']\n", 4, 33, "'[0::1]:443' is listed twice (the same as '[::1]:443')", "duplicate IPv6 in another spelling")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    ports: [443, 443-443]\n", 4, 18, "'443-443' is listed twice (the same as '443')", "duplicate port written as a range")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    clients: [10.0.0.1, 10.0.0.1/32]\n", 4, 25, "'10.0.0.1/32' is listed twice (the same as '10.0.0.1')", "duplicate client address as a /32")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    methods: [GET, get]\n", 4, 20, "'get' is listed twice (the same as 'GET')", "duplicate method in lower case")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    users: [alice, alice]\n", 4, 20, "rules[0].users: 'alice' is listed twice", "duplicate user")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test]\n  - name: a\n    action: deny\n    destinations: [b.test]\n", 5, 5, "rules[1]: the name 'a' is already used by the rule on line 2", "duplicate rule name")]
    [InlineData("rules:\n  - name: example\n    action: allow\n    destinations: [.example.com]\n  - name: api\n    action: deny\n    destinations: [api.example.com]\n", 5, 5, "rules[1] 'api' can never match: rule 'example' (line 2) comes first and matches everything it matches", "shadowed rule")]
    [InlineData("rules:\n  - name: everything\n    action: deny\n  - name: late\n    action: allow\n    destinations: [a.test]\n", 4, 5, "rules[1] 'late' can never match: rule 'everything' (line 2)", "a rule after a rule without matchers")]
    [InlineData("rules:\n  - name: star\n    action: allow\n    destinations: ['*']\n  - name: a\n    action: allow\n    destinations: [a.test]\n", 5, 5, "rules[1] 'a' can never match: rule 'star'", "a name after '*'")]
    [InlineData("rules:\n  - name: lan\n    action: allow\n    destinations: [10.0.0.0/8]\n  - name: host\n    action: deny\n    destinations: [10.1.2.3]\n", 5, 5, "rules[1] 'host' can never match: rule 'lan'", "an address inside an earlier CIDR")]
    [InlineData("rules:\n  - name: wide\n    action: allow\n    ports: [1-65535]\n    destinations: [.a.test]\n  - name: narrow\n    action: deny\n    ports: [443]\n    methods: [GET]\n    destinations: [x.a.test, '*.b.a.test']\n", 6, 5, "rules[1] 'narrow' can never match: rule 'wide'", "narrower on every matcher")]
    [InlineData("rules:\n  - name: a\n    action: allow\n  - name: a\n    action: deny\n", 4, 5, "the name 'a' is already used", "a duplicate name is reported before shadowing")]
    [InlineData("default: maybe\n", 1, 10, "default: expected allow or deny, got 'maybe'", "bad default")]
    [InlineData("default: [allow]\n", 1, 10, "default: expected allow or deny, got sequence", "default as a list")]
    [InlineData("rules:\n  name: a\n", 2, 3, "rules must be a list", "rules as a mapping")]
    [InlineData("rules:\n  - a.test\n", 2, 5, "rules[0] must be a mapping", "a rule as a bare string")]
    public void Invalid_rules_point_at_the_offending_node(string yaml, long line, long column, string message, string why)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "test.yaml"));

        Assert.True(line == e.Line && column == e.Column, $"{why}: expected {line}:{column}, got {e.Line}:{e.Column} ({e.Problem})");
        Assert.True(e.Problem.Contains(message, StringComparison.Ordinal), $"{why}: '{e.Problem}' should contain '{message}'");
        Assert.Equal($"test.yaml:{line}:{column}: {e.Problem}", e.Message);
    }

    [Theory]
    [InlineData("rules:\n  - name: api\n    action: deny\n    destinations: [api.example.com]\n  - name: example\n    action: allow\n    destinations: [.example.com]\n", "specific before general is fine")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [.example.com]\n    ports: [443]\n  - name: b\n    action: deny\n    destinations: [api.example.com]\n", "the later rule matches ports the earlier does not")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: ['*.example.com']\n  - name: b\n    action: deny\n    destinations: [example.com]\n", "a wildcard does not cover the bare name")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: ['*']\n  - name: b\n    action: deny\n    destinations: [10.0.0.0/8]\n", "'*' does not cover addresses")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test]\n    users: [alice]\n  - name: b\n    action: allow\n    destinations: [a.test]\n", "the later rule applies to other users")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test]\n    ports: [443]\n  - name: b\n    action: deny\n    destinations: [a.test]\n    ports: [1-1024]\n", "a wider port range later")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [\"a.test:443\"]\n  - name: b\n    action: deny\n    destinations: [a.test]\n", "a port-narrowed entry does not cover the whole name")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test]\n    clients: [10.0.0.0/8]\n  - name: b\n    action: deny\n    clients: [0.0.0.0/0]\n    destinations: [a.test]\n", "wider clients later")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    users: [alice, Alice]\n", "users are matched case-sensitively, so alice and Alice are two users, not a duplicate")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    destinations: [a.test, .a.test, '*.a.test', 'a.test:443']\n", "the same name in four kinds is four entries")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    users: [alice]\n  - name: A\n    action: deny\n    users: [bob]\n", "rule names are case-sensitive: 'a' and 'A' are two names")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    methods: [GET]\n  - name: b\n    action: deny\n    methods: [GET, POST]\n", "the later rule has a method the earlier lacks")]
    public void Valid_rule_sets_are_accepted(string yaml, string why)
    {
        SluiceConfig config = ConfigLoader.Parse(yaml, "test.yaml");
        Assert.False(config.Rules.IsEmpty, why);
    }

    [Fact]
    public void A_mapped_client_range_is_compared_as_IPv4()
    {
        SluiceConfig config = ConfigLoader.Parse("rules:\n  - name: a\n    action: allow\n    clients: ['::ffff:10.0.0.0/104']\n", "test.yaml");
        var policy = new RulePolicy(config.Rules, RuleAction.Deny);

        Assert.Equal(IPNetwork.Parse("10.0.0.0/8"), config.Rules[0].Clients[0]);
        Assert.True(policy.Decide(RuleKit.Request("a.test", client: "10.1.2.3")).Allowed);
        Assert.True(policy.Decide(RuleKit.Request("a.test", client: "::ffff:10.1.2.3")).Allowed);
        Assert.False(policy.Decide(RuleKit.Request("a.test", client: "11.1.2.3")).Allowed);
    }
}
