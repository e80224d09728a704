using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using Sluice.Proxy.Admin;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>The per-rule figures behind /api/rules, without a socket: exact under concurrency, bounded by the configuration.</summary>
public sealed class RuleUsageTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static Rule Named(string name) => new() { Name = name, Action = RuleAction.Allow };

    [Fact]
    public void Hits_would_denies_and_the_last_hit_are_kept_per_rule_and_for_the_default()
    {
        var clock = new Clock();
        var usage = new RuleUsage(clock);
        Assert.Equal(clock.Now, usage.Since);
        Assert.Equal(new RuleHits(0, 0, null), usage.For("web"));

        usage.Record(Decision.Allow("rule web allows", "web"));
        clock.Now = clock.Now.AddMinutes(5);
        usage.Record(Decision.Report(DenyReason.Rule, "rule web would deny", "web"));
        usage.Record(Decision.Deny(DenyReason.Default, "no rule matched"));

        Assert.Equal(new RuleHits(2, 1, clock.Now), usage.For("web"));
        Assert.Equal(new RuleHits(1, 0, clock.Now), usage.ForDefault());
    }

    [Fact]
    public void Parallel_decisions_are_all_counted()
    {
        var usage = new RuleUsage();
        Parallel.For(0, 40_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            usage.Record(i % 4 == 0 ? Decision.Report(DenyReason.Rule, "would deny", $"r{i % 8}") : Decision.Allow("allows", $"r{i % 8}")));

        for (int r = 0; r < 8; r++)
        {
            RuleHits hits = usage.For($"r{r}");
            Assert.Equal(5_000, hits.Hits);
            Assert.Equal(r % 4 == 0 ? 5_000 : 0, hits.WouldDeny);
        }
    }

    [Fact]
    public void A_reload_forgets_only_the_names_that_left_the_configuration()
    {
        var usage = new RuleUsage();
        foreach (string name in new[] { "kept", "gone", "kept" })
        {
            usage.Record(Decision.Allow("allows", name));
        }

        usage.Keep([Named("kept"), Named("new")]);

        Assert.Equal(2, usage.For("kept").Hits);
        Assert.Equal(0, usage.For("gone").Hits);
        Assert.Equal(0, usage.For("new").Hits);
    }
}
