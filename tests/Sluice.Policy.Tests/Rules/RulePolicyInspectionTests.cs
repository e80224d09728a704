using System.Collections.Immutable;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>First match over one rule list for both decisions: the CONNECT and each request inside an inspected tunnel.</summary>
public sealed class RulePolicyInspectionTests
{
    private const RuleAction Allow = RuleAction.Allow;
    private const RuleAction Deny = RuleAction.Deny;

    private static readonly InspectionConfig Inspection = new()
    {
        Ca = "/etc/sluice/inspect-ca.crt",
        Key = "/etc/sluice/inspect-ca.key",
        NeverInspect = [RuleKit.Pattern(".bank.example"), RuleKit.Pattern("health.example.com")],
    };

    // The design note's rules, a deny with paths ahead of them, a never-inspected destination with and without paths.
    private static readonly RulePolicy Policy = RuleKit.Policy(
        Deny,
        RuleKit.Rule("deny-admin", Deny, destinations: ["github.com"], paths: ["/our-org/admin"]),
        RuleKit.Rule("our-org-on-github", Allow, destinations: ["github.com"], paths: ["/our-org/*"], tls: TlsMode.Inspect),
        RuleKit.Rule("storage-read", Allow, destinations: ["storage.example.com"], methods: ["GET", "HEAD"], tls: TlsMode.Inspect),
        RuleKit.Rule("bank", Allow, destinations: [".bank.example"], tls: TlsMode.Inspect),
        RuleKit.Rule("health-status", Allow, destinations: ["health.example.com"], paths: ["/status"], tls: TlsMode.Inspect),
        RuleKit.Rule("health-get", Allow, destinations: ["health.example.com"], methods: ["GET"], tls: TlsMode.Inspect));

    // As the proxy decides a CONNECT: inspection is configured, so MayInspect is "not in neverInspect".
    private static RequestFacts Connect(string host) => RuleKit.Connect(host, mayInspect: !Inspection.IsNeverInspected(host, null, 443));

    public static TheoryData<string, RequestFacts, string?, bool> Cases => new()
    {
        { "the CONNECT is decided by the inspecting rule: the deny's paths cannot match it", Connect("github.com"), "our-org-on-github", true },
        { "inside: a path under /our-org/", RuleKit.Inside("github.com", "GET", "/our-org/repo"), "our-org-on-github", true },
        { "inside: the deny with paths comes first", RuleKit.Inside("github.com", "GET", "/our-org/admin/users"), "deny-admin", false },
        { "inside: dots are read before the deny is matched", RuleKit.Inside("github.com", "GET", "/our-org/x/../admin"), "deny-admin", false },
        { "inside: an escaped climb out of /our-org", RuleKit.Inside("github.com", "GET", "/our-org/%2e%2e/other-org/repo"), null, false },
        { "inside: another org, the default", RuleKit.Inside("github.com", "GET", "/other-org/repo"), null, false },
        { "inside: a longer org name, the default", RuleKit.Inside("github.com", "POST", "/our-orgs/repo"), null, false },
        { "http:// with a path under /our-org/", RuleKit.Forwarded("github.com", "GET", "/our-org/repo"), "our-org-on-github", true },
        { "http:// to the denied path", RuleKit.Forwarded("github.com", "GET", "/our-org/admin"), "deny-admin", false },
        { "storage: the CONNECT", Connect("storage.example.com"), "storage-read", true },
        { "storage: GET inside", RuleKit.Inside("storage.example.com", "GET", "/bucket/object"), "storage-read", true },
        { "storage: PUT inside, the default", RuleKit.Inside("storage.example.com", "PUT", "/bucket/object"), null, false },
        { "a never-inspected host, a rule with connection keys only: the untouched tunnel", Connect("www.bank.example"), "bank", true },
        { "a never-inspected host: rules with paths or methods [GET] do not match the CONNECT", Connect("health.example.com"), null, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_both_phases_first_match(string why, RequestFacts request, string? rule, bool allowed)
    {
        Decision d = Policy.Decide(request);

        Assert.True(rule == d.Rule && allowed == d.Allowed, $"{why}: got {d.Rule ?? "default"} {(d.Allowed ? "allow" : "deny")} ({d.Detail})");
        Assert.Equal(d, Policy.Explain(request).Decision);
    }

    [Fact]
    public void Explain_says_why_path_and_method_rules_pass_a_never_inspected_CONNECT_by()
    {
        Explanation e = Policy.Explain(Connect("health.example.com"));

        Assert.False(e.Decision.Allowed);
        Assert.Equal(
            [
                ("deny-admin", "health.example.com:443 is not in destinations"),
                ("our-org-on-github", "health.example.com:443 is not in destinations"),
                ("storage-read", "health.example.com:443 is not in destinations"),
                ("bank", "health.example.com:443 is not in destinations"),
                ("health-status", "the destination is never inspected, so its paths cannot be seen"),
                ("health-get", "method CONNECT is not in methods: the destination is never inspected, so they apply to the CONNECT itself"),
            ],
            e.Evaluated.Select(r => (r.Rule.Name, r.Mismatch)));
    }

    [Fact]
    public void Explain_names_the_path_a_request_inside_was_matched_as()
    {
        Explanation e = Policy.Explain(RuleKit.Inside("github.com", "GET", "/our-org/%2e%2e/other-org/repo"));

        Assert.Equal(
            [("deny-admin", "path /other-org/repo is not in paths"), ("our-org-on-github", "path /other-org/repo is not in paths")],
            e.Evaluated.Take(2).Select(r => (r.Rule.Name, r.Mismatch)));
    }

    [Fact]
    public void A_407_is_deserved_when_an_inspecting_rule_names_users_and_its_paths_wait_for_the_requests_inside()
    {
        RulePolicy policy = RuleKit.Policy(Deny, RuleKit.Rule("staff", Allow, destinations: ["github.com"], users: ["alice"], paths: ["/our-org/*"], tls: TlsMode.Inspect));

        Assert.True(policy.IdentityWouldMatter(RuleKit.Connect("github.com", mayInspect: true)));
        Assert.False(policy.IdentityWouldMatter(RuleKit.Connect("github.com", mayInspect: false)), "never inspected: the paths fail whoever the client is");
    }

    [Fact]
    public void Never_inspect_matches_names_subdomains_addresses_and_ports_as_destinations_do()
    {
        var inspection = new InspectionConfig
        {
            Ca = "ca",
            Key = "key",
            NeverInspect = [RuleKit.Pattern(".bank.example"), RuleKit.Pattern("health.example.com:443"), RuleKit.Pattern("10.0.0.0/8")],
        };

        Assert.True(inspection.IsNeverInspected("bank.example", null, 443));
        Assert.True(inspection.IsNeverInspected("www.bank.example", null, 443));
        Assert.False(inspection.IsNeverInspected("notbank.example", null, 443));
        Assert.True(inspection.IsNeverInspected("health.example.com", null, 443));
        Assert.False(inspection.IsNeverInspected("health.example.com", null, 8443));
        Assert.True(inspection.IsNeverInspected("10.1.2.3", System.Net.IPAddress.Parse("10.1.2.3"), 443));
        Assert.False(inspection.IsNeverInspected("11.1.2.3", System.Net.IPAddress.Parse("11.1.2.3"), 443));
        Assert.False(new InspectionConfig { Ca = "ca", Key = "key" }.IsNeverInspected("bank.example", null, 443));
    }

    /// <summary>The index must keep first-match order with the new keys: Decide, Explain and a naive loop agree.</summary>
    [Fact]
    public void Decide_equals_a_naive_first_match_loop_with_paths_and_inspection()
    {
        var random = new Random(14);
        int byRule = 0, byDefault = 0;
        for (int set = 0; set < 400; set++)
        {
            Rule[] rules = [.. Enumerable.Range(0, random.Next(0, 10)).Select(i => InspectionUniverse.RandomRule(random, $"r{i}"))];
            var policy = new RulePolicy([.. rules], random.Next(2) == 0 ? Allow : Deny);
            foreach (RequestFacts request in InspectionUniverse.AllRequests.Where((_, i) => i % 7 == set % 7))
            {
                Rule? expected = rules.FirstOrDefault(r => r.Mismatch(request) is null);
                Decision actual = policy.Decide(request);
                Assert.True(expected?.Name == actual.Rule, $"set {set}, {InspectionUniverse.Show(request)}: expected {expected?.Name ?? "default"}, got {actual.Rule ?? "default"}");
                Assert.Equal(actual, policy.Explain(request).Decision);
                _ = expected is null ? byDefault++ : byRule++;
            }
        }

        Assert.True(byRule > 10_000 && byDefault > 10_000, $"{byRule} by a rule, {byDefault} by the default");
    }

    [Fact]
    public void Rules_are_exposed_with_their_new_keys()
    {
        ImmutableArray<Rule> rules = Policy.Rules;

        Assert.Equal(TlsMode.Inspect, rules[1].Tls);
        Assert.Equal(["/our-org/*"], rules[1].Paths.Select(p => p.Text));
        Assert.Equal(TlsMode.Tunnel, rules[0].Tls);
    }
}
