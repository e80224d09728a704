using System.Collections.Immutable;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

public sealed class RulePolicyTests
{
    private const RuleAction Allow = RuleAction.Allow;
    private const RuleAction Deny = RuleAction.Deny;

    [Fact]
    public void The_first_matching_rule_wins()
    {
        RulePolicy policy = RuleKit.Policy(
            Deny,
            RuleKit.Rule("block-admin", Deny, destinations: ["admin.example.com"]),
            RuleKit.Rule("example", Allow, destinations: [".example.com"]),
            RuleKit.Rule("never-for-example", Deny, destinations: ["*"]));

        Decision admin = policy.Decide(RuleKit.Request("admin.example.com"));
        Decision www = policy.Decide(RuleKit.Request("www.example.com"));
        Decision other = policy.Decide(RuleKit.Request("example.org"));

        Assert.False(admin.Allowed);
        Assert.Equal("block-admin", admin.Rule);
        Assert.Equal(DenyReason.Rule, admin.Reason);
        Assert.Equal("rule block-admin denies CONNECT admin.example.com:443", admin.Detail);

        Assert.True(www.Allowed);
        Assert.Equal("example", www.Rule);
        Assert.Equal(DenyReason.None, www.Reason);
        Assert.Equal("rule example allows CONNECT www.example.com:443", www.Detail);

        Assert.False(other.Allowed);
        Assert.Equal("never-for-example", other.Rule);
    }

    [Fact]
    public void Order_decides_when_two_rules_match()
    {
        Rule allow = RuleKit.Rule("allow-api", Allow, destinations: ["api.example.com"]);
        Rule deny = RuleKit.Rule("deny-example", Deny, destinations: [".example.com"]);

        Assert.True(RuleKit.Policy(Deny, allow, deny).Decide(RuleKit.Request("api.example.com")).Allowed);
        Assert.False(RuleKit.Policy(Allow, deny, allow).Decide(RuleKit.Request("api.example.com")).Allowed);
    }

    [Fact]
    public void A_later_rule_indexed_by_name_loses_to_an_earlier_unindexed_rule()
    {
        // The index splits rules into name-indexed and unindexed ("*", addresses, no destinations); order must survive the merge.
        RulePolicy policy = RuleKit.Policy(
            Allow,
            RuleKit.Rule("no-post", Deny, methods: ["POST"]),
            RuleKit.Rule("a", Allow, destinations: ["a.test"]),
            RuleKit.Rule("star-get", Deny, destinations: ["*"], methods: ["GET"]),
            RuleKit.Rule("a-again", Allow, destinations: [".a.test"]));

        Assert.Equal("no-post", policy.Decide(RuleKit.Request("a.test", method: "POST")).Rule);
        Assert.Equal("a", policy.Decide(RuleKit.Request("a.test", method: "GET")).Rule);
        Assert.Equal("star-get", policy.Decide(RuleKit.Request("b.a.test", method: "GET")).Rule);
        Assert.Equal("a-again", policy.Decide(RuleKit.Request("b.a.test", method: "CONNECT")).Rule);
    }

    [Theory]
    [InlineData(RuleAction.Deny, false, DenyReason.Default, "no rule matched GET other.test:80; the default is deny")]
    [InlineData(RuleAction.Allow, true, DenyReason.None, "no rule matched GET other.test:80; the default is allow")]
    public void The_default_applies_when_no_rule_matches(RuleAction defaultAction, bool allowed, DenyReason reason, string detail)
    {
        RulePolicy policy = RuleKit.Policy(defaultAction, RuleKit.Rule("only", Allow, destinations: ["example.com"]));

        Decision d = policy.Decide(RuleKit.Request("other.test", 80, "GET"));

        Assert.Equal(allowed, d.Allowed);
        Assert.Equal(reason, d.Reason);
        Assert.Null(d.Rule);
        Assert.Equal(detail, d.Detail);
        Assert.Equal(defaultAction, policy.Default);
    }

    [Theory]
    [InlineData(RuleAction.Deny, false)]
    [InlineData(RuleAction.Allow, true)]
    public void An_empty_policy_is_its_default(RuleAction defaultAction, bool allowed)
    {
        RulePolicy policy = new([], defaultAction);

        Assert.Equal(allowed, policy.Decide(RuleKit.Request("example.com")).Allowed);
        Assert.Empty(policy.Explain(RuleKit.Request("example.com")).Evaluated);
    }

    [Theory]
    [InlineData("93.184.216.34", false, "default", "a raw IP does not match a name allowlist, not even '*'")]
    [InlineData("2130706433", false, "default", "nor an IP in an odd notation")]
    [InlineData("[::ffff:93.184.216.34]", false, "default", "nor an IPv4-mapped literal")]
    [InlineData("example.com", true, "names", "the name itself is allowed")]
    [InlineData("anything.test", true, "star", "'*' allows any name")]
    [InlineData("10.1.2.3", true, "lan", "an address pattern allows a raw IP")]
    [InlineData("[::ffff:10.1.2.3]", true, "lan", "an address pattern allows the mapped form of its addresses")]
    public void Writing_the_IP_never_bypasses_a_domain_allowlist(string host, bool allowed, string rule, string why)
    {
        RulePolicy policy = RuleKit.Policy(
            Deny,
            RuleKit.Rule("names", Allow, destinations: ["example.com", ".example.org"]),
            RuleKit.Rule("star", Allow, destinations: ["*"]),
            RuleKit.Rule("lan", Allow, destinations: ["10.0.0.0/8"]));

        Decision d = policy.Decide(RuleKit.Request(host));

        Assert.True(allowed == d.Allowed, why);
        Assert.True((rule == "default" ? null : rule) == d.Rule, $"{why}: decided by {d.Rule}");
    }

    [Fact]
    public void Explain_lists_every_rule_tried_with_its_reason()
    {
        RulePolicy policy = RuleKit.Policy(
            Deny,
            RuleKit.Rule("gets", Allow, methods: ["GET"]),
            RuleKit.Rule("lan", Allow, destinations: ["10.0.0.0/8"]),
            RuleKit.Rule("ports", Allow, ports: ["80"]),
            RuleKit.Rule("example", Allow, destinations: [".example.com"]),
            RuleKit.Rule("after", Deny));

        Explanation e = policy.Explain(RuleKit.Request("www.example.com", 443, "CONNECT"));

        Assert.Equal(policy.Decide(RuleKit.Request("www.example.com", 443, "CONNECT")), e.Decision);
        Assert.Equal(
            [
                ("gets", "method CONNECT is not in methods"),
                ("lan", "www.example.com:443 is not in destinations"),
                ("ports", "port 443 is not in ports [80]"),
                ("example", null),
            ],
            e.Evaluated.Select(r => (r.Rule.Name, r.Mismatch)));
    }

    [Fact]
    public void Explain_without_a_match_lists_all_rules_and_the_default()
    {
        RulePolicy policy = RuleKit.Policy(Allow, RuleKit.Rule("one", Deny, destinations: ["a.test"]), RuleKit.Rule("two", Deny, destinations: ["b.test"]));

        Explanation e = policy.Explain(RuleKit.Request("c.test"));

        Assert.True(e.Decision.Allowed);
        Assert.Equal(DenyReason.None, e.Decision.Reason);
        Assert.Equal(["one", "two"], e.Evaluated.Select(r => r.Rule.Name));
        Assert.All(e.Evaluated, r => Assert.NotNull(r.Mismatch));
    }

    /// <summary>
    /// The index must not change first-match semantics: for thousands of random rule sets over a small alphabet,
    /// <see cref="RulePolicy.Decide"/> must agree with trying every rule in order, and Explain must agree with both.
    /// </summary>
    [Fact]
    public void Decide_equals_a_naive_first_match_loop_over_random_rule_sets()
    {
        var random = new Random(20240601);
        int decided = 0, byRule = 0, byDefault = 0;
        for (int set = 0; set < 3000; set++)
        {
            Rule[] rules = [.. Enumerable.Range(0, random.Next(0, 13)).Select(i => Universe.RandomRule(random, $"r{i}"))];
            RuleAction defaultAction = random.Next(2) == 0 ? Allow : Deny;
            var policy = new RulePolicy([.. rules], defaultAction);
            for (int q = 0; q < 25; q++)
            {
                RequestFacts request = Universe.RandomRequest(random);
                Rule? expected = rules.FirstOrDefault(r => r.Mismatch(request) is null);
                Decision actual = policy.Decide(request);
                Explanation explanation = policy.Explain(request);

                string context = $"set {set}, request {request}: expected {expected?.Name ?? "default"}, got {actual.Rule ?? "default"}";
                Assert.True(expected?.Name == actual.Rule, context);
                Assert.True((expected?.Action ?? defaultAction) == (actual.Allowed ? Allow : Deny), context);
                Assert.Equal(actual, explanation.Decision);
                int tried = expected is null ? rules.Length : Array.IndexOf(rules, expected) + 1;
                Assert.Equal(rules.Take(tried).Select(r => (r.Name, r.Mismatch(request))), explanation.Evaluated.Select(e => (e.Rule.Name, e.Mismatch)));
                decided++;
                _ = expected is null ? byDefault++ : byRule++;
            }
        }

        // The alphabet is small enough that both outcomes are common: the test is not vacuous.
        Assert.Equal(75_000, decided);
        Assert.True(byRule > 20_000 && byDefault > 10_000, $"{byRule} decided by a rule, {byDefault} by the default");
    }

    [Fact]
    public void Decide_equals_the_naive_loop_on_every_request_of_the_alphabet()
    {
        var random = new Random(7);
        for (int set = 0; set < 40; set++)
        {
            Rule[] rules = [.. Enumerable.Range(0, random.Next(1, 16)).Select(i => Universe.RandomRule(random, $"r{i}"))];
            var policy = new RulePolicy([.. rules], Deny);
            foreach (RequestFacts request in Universe.AllRequests)
            {
                Assert.Equal(rules.FirstOrDefault(r => r.Mismatch(request) is null)?.Name, policy.Decide(request).Rule);
            }
        }
    }

    [Fact]
    public void Many_domain_rules_are_indexed_and_still_decide_by_first_match()
    {
        // The index's cost is measured in bench/, never here; this proves it stays exact at size.
        const int count = 20_000;
        ImmutableArray<Rule> rules = [.. Enumerable.Range(0, count).Select(i => RuleKit.Rule($"r{i}", Allow, destinations: [$"host{i}.example.com", $".sub{i}.example.net"]))];
        var policy = new RulePolicy(rules, Deny);

        for (int i = 0; i < count; i++)
        {
            int target = count - 1 - i;
            Assert.Equal($"r{target}", policy.Decide(RuleKit.Request($"host{target}.example.com")).Rule);
            Assert.Equal($"r{target}", policy.Decide(RuleKit.Request($"a.b.sub{target}.example.net")).Rule);
        }

        Assert.False(policy.Decide(RuleKit.Request("nothing.example.com")).Allowed);
    }

    [Fact]
    public void Rules_and_default_are_exposed_as_given()
    {
        Rule a = RuleKit.Rule("a", Allow), b = RuleKit.Rule("b", Deny);
        RulePolicy policy = RuleKit.Policy(Allow, a, b);

        Assert.Equal(new[] { a, b }, policy.Rules);
        Assert.Equal(Allow, policy.Default);
    }
}
