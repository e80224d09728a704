using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>Shadowing with paths and tls: an earlier rule covers a later one only if it takes both of its decisions from it.</summary>
public sealed class ShadowingInspectionTests
{
    private const RuleAction Allow = RuleAction.Allow;
    private const RuleAction Deny = RuleAction.Deny;
    private const TlsMode Inspect = TlsMode.Inspect;

    public static TheoryData<string, Rule, Rule, bool> Pairs => new()
    {
        {
            "a tunnelling GET rule does not take the CONNECTs an inspecting GET rule decides on connection keys",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], methods: ["GET"]),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], methods: ["GET"], tls: Inspect),
            false
        },
        {
            "a plain rule for the destination takes every CONNECT and every request of an inspecting path rule",
            RuleKit.Rule("e", Allow, destinations: ["github.com"]),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], paths: ["/our-org/*"], tls: Inspect),
            true
        },
        {
            "a plain deny for a wider destination shadows an inspecting rule",
            RuleKit.Rule("e", Deny, destinations: [".github.com"]),
            RuleKit.Rule("l", Allow, destinations: ["api.github.com"], methods: ["GET"], tls: Inspect),
            true
        },
        {
            "a tunnelling rule with CONNECT among its methods takes the CONNECT and the GETs",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], methods: ["CONNECT", "GET"]),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], methods: ["GET"], tls: Inspect),
            true
        },
        {
            "a tunnelling rule for schemes [tunnel] leaves the requests inside to the later rule",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], schemes: [RequestScheme.Tunnel]),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], tls: Inspect),
            false
        },
        {
            "an earlier tunnelling rule with paths matches no CONNECT",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], paths: ["/our-org/*"]),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], paths: ["/our-org/*"], tls: Inspect),
            false
        },
        {
            "an earlier deny with paths cannot take the CONNECT either",
            RuleKit.Rule("e", Deny, destinations: ["github.com"], paths: ["/"]),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], tls: Inspect),
            false
        },
        {
            "inspecting rules: a wider path prefix covers a glob under it",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], paths: ["/our-org/"], tls: Inspect),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], paths: ["/our-org/x/*"], tls: Inspect),
            true
        },
        {
            "inspecting rules: another org's paths are not covered",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], paths: ["/our-org/*"], tls: Inspect),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], paths: ["/other-org/*"], tls: Inspect),
            false
        },
        {
            "inspecting rules: /our-org does not cover /our-orgs",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], paths: ["/our-org"], tls: Inspect),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], paths: ["/our-orgs"], tls: Inspect),
            false
        },
        {
            "an inspecting rule with connection keys only covers a tunnelling path rule",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], tls: Inspect),
            RuleKit.Rule("l", Deny, destinations: ["github.com"], paths: ["/our-org/admin"]),
            true
        },
        {
            "an inspecting path rule does not cover a plain rule: never-inspected CONNECTs and other paths get through to it",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], paths: ["/our-org/*"], tls: Inspect),
            RuleKit.Rule("l", Allow, destinations: ["github.com"]),
            false
        },
        {
            "an inspecting path rule does not cover a CONNECT-only rule: never-inspected CONNECTs reach it",
            RuleKit.Rule("e", Allow, destinations: ["github.com"], paths: ["/"], tls: Inspect),
            RuleKit.Rule("l", Allow, destinations: ["github.com"], methods: ["CONNECT"]),
            false
        },
        {
            "paths: a glob with one trailing star covers a prefix below it",
            RuleKit.Rule("e", Deny, destinations: ["github.com"], paths: ["/our-org/*"]),
            RuleKit.Rule("l", Deny, destinations: ["github.com"], paths: ["/our-org/admin"]),
            true
        },
        {
            "paths: every later entry needs a covering earlier one",
            RuleKit.Rule("e", Deny, destinations: ["github.com"], paths: ["/our-org/*"]),
            RuleKit.Rule("l", Deny, destinations: ["github.com"], paths: ["/our-org/admin", "/other-org"]),
            false
        },
        {
            "paths: an earlier rule with paths does not cover a later one without",
            RuleKit.Rule("e", Deny, destinations: ["github.com"], paths: ["/"]),
            RuleKit.Rule("l", Deny, destinations: ["github.com"], methods: ["GET"]),
            false
        },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Covers(string why, Rule earlier, Rule later, bool expected)
    {
        Assert.True(expected == RuleShadowing.Covers(earlier, later), why);

        // Whatever the verdict, it must be sound over the universe.
        if (expected)
        {
            foreach (RequestFacts request in InspectionUniverse.AllRequests)
            {
                Assert.False(later.Matches(request) && !earlier.Matches(request), $"{why}: {InspectionUniverse.Show(request)} matches only the later rule");
            }
        }
    }

    /// <summary>
    /// Soundness over generated rules: when Covers says the earlier rule takes everything from the later one, no request
    /// of either decision (CONNECT inspectable or not, https inside, http://) matches the later rule only.
    /// </summary>
    [Fact]
    public void Covers_is_sound_for_rules_with_paths_and_tls()
    {
        var random = new Random(2026);
        int covering = 0, inspectingLater = 0;
        for (int i = 0; i < 20_000; i++)
        {
            Rule a = InspectionUniverse.RandomRule(random, "a"), b = InspectionUniverse.RandomRule(random, "b");
            if (!RuleShadowing.Covers(a, b))
            {
                continue;
            }

            covering++;
            inspectingLater += b.Tls == Inspect ? 1 : 0;
            foreach (RequestFacts request in InspectionUniverse.AllRequests)
            {
                if (b.Matches(request) && !a.Matches(request))
                {
                    Assert.Fail($"Covers said {InspectionUniverse.Show(a)} covers {InspectionUniverse.Show(b)}, but {InspectionUniverse.Show(request)} matches only the later: {a.Mismatch(request)}");
                }
            }
        }

        Assert.True(covering > 1_000 && inspectingLater > 100, $"{covering} covering pairs, {inspectingLater} with an inspecting later rule");
    }
}
