using System.Collections.Immutable;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using static Sluice.Policy.Rules.RuleAction;

namespace Sluice.Policy.Tests.Rules;

/// <summary><c>action: report</c> and <c>mode: report</c>: denials become would-denies, and nothing else changes.</summary>
public sealed class ReportModeTests
{
    [Fact]
    public void A_report_rule_lets_through_what_it_matches_and_names_itself_as_the_would_deny()
    {
        var policy = new RulePolicy([RuleKit.Rule("trial", Report, destinations: [".tracker.test"]), RuleKit.Rule("web", Allow, ports: ["443"])], Deny);

        Decision reported = policy.Decide(RuleKit.Request("ads.tracker.test"));
        Assert.True(reported.Allowed);
        Assert.True(reported.Reported);
        Assert.Equal(DenyReason.Rule, reported.Reason);
        Assert.Equal("trial", reported.Rule);
        Assert.Equal("rule trial would deny CONNECT ads.tracker.test:443 (action: report lets it through)", reported.Detail);

        Decision allowed = policy.Decide(RuleKit.Request("other.test"));
        Assert.Equal((true, false, "web"), (allowed.Allowed, allowed.Reported, allowed.Rule));

        Decision denied = policy.Decide(RuleKit.Request("other.test", port: 80));
        Assert.Equal((false, false, DenyReason.Default), (denied.Allowed, denied.Reported, denied.Reason));
    }

    [Fact]
    public void Mode_report_turns_rule_and_default_denials_into_would_denies_and_leaves_allows_alone()
    {
        ImmutableArray<Rule> rules = [RuleKit.Rule("no-ads", Deny, destinations: [".ads.test"]), RuleKit.Rule("web", Allow, ports: ["443"])];
        var policy = new RulePolicy(rules, Deny, PolicyMode.Report);

        Decision byRule = policy.Decide(RuleKit.Request("x.ads.test"));
        Assert.Equal((true, true, DenyReason.Rule, "no-ads"), (byRule.Allowed, byRule.Reported, byRule.Reason, byRule.Rule));
        Assert.Equal("rule no-ads would deny CONNECT x.ads.test:443 (mode: report lets it through)", byRule.Detail);

        Decision byDefault = policy.Decide(RuleKit.Request("x.test", port: 22));
        Assert.Equal((true, true, DenyReason.Default, (string?)null), (byDefault.Allowed, byDefault.Reported, byDefault.Reason, byDefault.Rule));
        Assert.Equal("no rule matched CONNECT x.test:22; the default would deny it (mode: report lets it through)", byDefault.Detail);

        Decision allowed = policy.Decide(RuleKit.Request("x.test"));
        Assert.Equal((true, false, DenyReason.None), (allowed.Allowed, allowed.Reported, allowed.Reason));
    }

    /// <summary>
    /// Report mode changes the answer, never the rule: for random rule sets, the rule that decides is the same in both
    /// modes, every enforced deny is a would-deny in report mode, and every enforced allow stays a plain allow.
    /// </summary>
    [Fact]
    public void Report_mode_decides_by_the_same_rule_as_enforce_mode_for_random_rule_sets()
    {
        var random = new Random(1818);
        int wouldDenies = 0, allows = 0;
        for (int set = 0; set < 1000; set++)
        {
            Rule[] rules = [.. Enumerable.Range(0, random.Next(0, 10)).Select(i => Universe.RandomRule(random, $"r{i}"))];
            RuleAction defaultAction = random.Next(2) == 0 ? Allow : Deny;
            var enforce = new RulePolicy([.. rules], defaultAction);
            var report = new RulePolicy([.. rules], defaultAction, PolicyMode.Report);
            for (int q = 0; q < 20; q++)
            {
                RequestFacts request = Universe.RandomRequest(random);
                Decision enforced = enforce.Decide(request);
                Decision reported = report.Decide(request);
                string context = $"set {set}, request {request}";
                Assert.True(enforced.Rule == reported.Rule, context);
                Assert.True(reported.Allowed, context);
                Assert.True(reported.Reported == !enforced.Allowed, context);
                Assert.True(enforced.Reason == reported.Reason, context);
                Assert.False(enforced.Reported, context);
                Assert.Equal(reported, report.Explain(request).Decision);
                _ = reported.Reported ? wouldDenies++ : allows++;
            }
        }

        Assert.True(wouldDenies > 3000 && allows > 3000, $"{wouldDenies} would-denies, {allows} allows");
    }

    [Fact]
    public void Mode_and_report_rules_are_read_from_the_file()
    {
        SluiceConfig config = ConfigLoader.Parse("""
            mode: report
            rules:
              - name: trial
                action: report
                destinations: [.tracker.test]
            """, "test.yaml");

        Assert.Equal(PolicyMode.Report, config.Mode);
        Assert.Equal(Report, config.Rules[0].Action);
        Assert.Equal(PolicyMode.Enforce, ConfigLoader.Parse("rules: []\n", "test.yaml").Mode);
    }

    [Theory]
    [InlineData("mode: audit\n", 1, 7, "mode: expected enforce or report, got 'audit'")]
    [InlineData("default: report\n", 1, 10, "default: expected allow or deny, got 'report'")]
    [InlineData("rules:\n  - name: a\n    action: report\n    via: direct\n", 4, 10, "rules[0] 'a': a report rule (a deny on trial) sends nothing anywhere, so via: has no meaning here")]
    [InlineData("rules:\n  - name: a\n    action: report\n    ftp: passive\n", 4, 10, "rules[0] 'a': a report rule (a deny on trial) opens no control connection, so ftp: has no meaning here")]
    [InlineData("rules:\n  - name: a\n    action: report\n    tls: tunnel\n", 4, 10, "rules[0] 'a': a report rule (a deny on trial) opens no tunnel, so tls: has no meaning here")]
    public void Report_settings_that_cannot_take_effect_are_refused_with_their_place(string yaml, int line, int column, string message)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "test.yaml"));
        Assert.Equal(((long)line, (long)column), (e.Line, e.Column));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
