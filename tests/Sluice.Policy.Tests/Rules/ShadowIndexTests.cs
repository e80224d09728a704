using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>The shadowing index must find exactly what comparing against every earlier rule finds.</summary>
public sealed class ShadowIndexTests
{
    private static readonly string[] Patterns =
    [
        "a.test", ".a.test", "*.a.test", "b.a.test", ".b.a.test", "*.b.a.test", "c.test", ".test", "*", "10.0.0.0/8", "10.1.0.0/16", "a.test:443", ".a.test:8443",
    ];

    private static DestinationPattern Pattern(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern p, out string problem) ? p : throw new InvalidOperationException(problem);

    [Fact]
    public void Agrees_with_a_full_scan_on_thousands_of_random_rule_lists()
    {
        var random = new Random(20261123);
        for (int list = 0; list < 2000; list++)
        {
            var index = new ShadowIndex();
            var earlier = new List<Rule>();
            for (int i = 0; i < 8; i++)
            {
                var rule = new Rule
                {
                    Name = $"r{i}",
                    Action = random.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny,
                    Line = i + 1,
                    Destinations = random.Next(6) == 0 ? [] : [.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => Pattern(Patterns[random.Next(Patterns.Length)])).DistinctBy(p => p.Text)],
                    Ports = random.Next(3) == 0 ? [new PortRange(443, 443)] : [],
                };
                Rule? expected = earlier.FirstOrDefault(e => RuleShadowing.Covers(e, rule));
                Assert.Equal(expected?.Name, index.FindCovering(rule)?.Name);
                index.Add(rule);
                earlier.Add(rule);
            }
        }
    }

    [Fact]
    public void A_hundred_thousand_distinct_name_rules_load_without_comparing_each_to_all()
    {
        var index = new ShadowIndex();
        for (int i = 0; i < 100_000; i++)
        {
            var rule = new Rule { Name = $"r{i}", Action = RuleAction.Allow, Line = i + 1, Destinations = [Pattern($"host{i}.example.com")] };
            Assert.Null(index.FindCovering(rule));
            index.Add(rule);
        }

        var shadowed = new Rule { Name = "late", Action = RuleAction.Deny, Line = 100_001, Destinations = [Pattern("host77.example.com")] };
        Assert.Equal("r77", index.FindCovering(shadowed)?.Name);
    }
}
