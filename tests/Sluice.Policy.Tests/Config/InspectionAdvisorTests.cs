using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

/// <summary>What <c>sluice check</c> warns about inspection: a CA nothing uses, no neverInspect, paths HTTPS never shows.</summary>
public sealed class InspectionAdvisorTests : IDisposable
{
    private const string Inspection = "tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n";

    private const string NeverInspect = "    neverInspect: [.bank.example, health.example.com]\n";

    private readonly InspectionFiles _files = new();

    public void Dispose() => _files.Dispose();

    private IReadOnlyList<string> WarningsFor(string yaml) =>
        [.. ConfigAdvisor.Warnings(_files.Parse(yaml)).Where(w => w.Contains("inspect", StringComparison.Ordinal) || w.Contains("paths", StringComparison.Ordinal))];

    [Fact]
    public void Inspection_that_no_rule_uses_is_named()
    {
        string warning = Assert.Single(WarningsFor(Inspection + NeverInspect + "rules:\n  - { name: a, action: allow, destinations: [a.example] }\n"));

        Assert.Equal("tls.inspection (line 2) is configured but no rule says tls: inspect: nothing is inspected", warning);
    }

    [Fact]
    public void Inspecting_without_neverInspect_names_the_inspecting_rules()
    {
        string warning = Assert.Single(WarningsFor(Inspection + """
            rules:
              - { name: gh, action: allow, destinations: [github.com], tls: inspect }
              - { name: plain, action: allow, destinations: [gitlab.com] }
              - { name: storage, action: allow, destinations: [storage.example.com], tls: inspect, methods: [GET] }
            """));

        Assert.Equal("rules gh, storage inspect TLS and tls.inspection.neverInspect is empty: list the destinations that must never be inspected (certificate-pinned apps, banking, health) so no rule can inspect them", warning);
    }

    [Fact]
    public void Inspecting_with_neverInspect_and_paths_an_inspecting_rule_sees_is_quiet()
    {
        Assert.Empty(WarningsFor(Inspection + NeverInspect + """
            rules:
              - { name: deny-admin, action: deny, destinations: [github.com], paths: [/our-org/admin] }
              - { name: gh, action: allow, destinations: [github.com], tls: inspect, paths: ["/our-org/*"] }
              - { name: api, action: deny, destinations: [api.github.com], paths: [/x] }
              - { name: ghs, action: allow, destinations: [.github.com], tls: inspect }
            """));
    }

    [Theory]
    [InlineData("", "allow", "allows")]
    [InlineData(Inspection + NeverInspect, "allow", "allows")]
    [InlineData(Inspection + NeverInspect, "deny", "denies")]
    public void A_paths_rule_with_no_inspecting_rule_for_its_destinations_is_named(string inspection, string action, string verb)
    {
        string yaml = inspection + $$"""
            rules:
              - { name: paths-rule, action: {{action}}, destinations: [github.com], paths: ["/our-org/*"] }
              - { name: other, action: allow, destinations: [gitlab.com], tls: {{(inspection.Length == 0 ? "tunnel" : "inspect")}} }
            default: allow
            """;

        string warning = Assert.Single(WarningsFor(yaml), w => w.StartsWith("rule paths-rule", StringComparison.Ordinal));

        Assert.Equal($"rule paths-rule (line {(inspection.Length == 0 ? 2 : 7)}) names paths, but no rule inspects HTTPS to github.com (tls: inspect): they are seen in http:// requests only, so its {verb} never apply to HTTPS", warning);
    }

    [Fact]
    public void A_deny_with_paths_ahead_of_a_tunnelling_rule_for_the_same_destination_is_named()
    {
        // The design note's case: the CONNECT goes to the tunnelling rule, so HTTPS paths are never seen.
        IReadOnlyList<string> warnings = WarningsFor(Inspection + NeverInspect + """
            rules:
              - { name: deny-admin, action: deny, destinations: [github.com], paths: [/our-org/admin] }
              - { name: office, action: allow, destinations: [github.com], clients: [10.1.0.0/16] }
              - { name: gh, action: allow, destinations: [.github.com], tls: inspect }
            """);

        Assert.Equal(
            ["rule deny-admin (line 7) names paths, but a CONNECT to github.com is decided first by rule office (line 8), which tunnels it without inspecting: they are seen in http:// requests only, so its denies never apply to HTTPS"],
            warnings);
    }

    [Fact]
    public void A_deny_with_paths_and_no_way_in_for_HTTPS_is_quiet_under_default_deny()
    {
        Assert.Empty(WarningsFor("rules:\n  - { name: deny-admin, action: deny, destinations: [github.com], paths: [/admin] }\n"));
    }

    [Fact]
    public void A_paths_rule_for_a_never_inspected_destination_is_named()
    {
        IReadOnlyList<string> warnings = WarningsFor(Inspection + NeverInspect + """
            rules:
              - { name: bank-paths, action: allow, destinations: [www.bank.example], tls: inspect, paths: [/statements] }
              - { name: gh, action: allow, destinations: [github.com], tls: inspect }
            """);

        Assert.Equal(
            [
                "rule bank-paths (line 7) says tls: inspect, but every destination it names is in tls.inspection.neverInspect: its paths or methods match no CONNECT there, so it allows no HTTPS at all",
                "rule bank-paths (line 7) names paths, but www.bank.example is in tls.inspection.neverInspect: they are seen in http:// requests only, so its allows never apply to HTTPS",
            ],
            warnings);
    }

    [Fact]
    public void An_inspecting_rule_for_never_inspected_destinations_only_tunnels()
    {
        string warning = Assert.Single(WarningsFor(Inspection + NeverInspect + """
            rules:
              - { name: bank, action: allow, destinations: [.bank.example, health.example.com], tls: inspect }
            """));

        Assert.Equal("rule bank (line 7) says tls: inspect, but every destination it names is in tls.inspection.neverInspect: it only ever allows untouched tunnels", warning);
    }

    [Fact]
    public void A_paths_rule_for_every_destination_is_named_only_when_nothing_inspects()
    {
        string warning = Assert.Single(WarningsFor("rules:\n  - { name: no-admin, action: deny, paths: [/admin] }\n  - { name: all, action: allow }\n"));
        Assert.Equal("rule no-admin (line 2) names paths, but no rule inspects HTTPS (tls: inspect): they are seen in http:// requests only, so its denies never apply to HTTPS", warning);

        Assert.Empty(WarningsFor(Inspection + NeverInspect + "rules:\n  - { name: no-admin, action: deny, paths: [/admin] }\n  - { name: gh, action: allow, destinations: [github.com], tls: inspect }\n"));
    }
}
