using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Policy.Tests.Rules;

namespace Sluice.Policy.Tests.Config;

/// <summary>
/// <c>tls.inspection</c>, and the <c>tls:</c> and <c>paths:</c> keys of rules: what is read, and what is refused
/// with the position of the offending node.
/// </summary>
public sealed class InspectionConfigTests : IDisposable
{
    private const string Header = InspectionFiles.Header;

    private readonly InspectionFiles _files = new();

    public void Dispose() => _files.Dispose();

    private void AssertRefused(string yaml, long line, long column, string message, string why)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => _files.Parse(yaml));

        Assert.True(line == e.Line && column == e.Column, $"{why}: expected {line}:{column}, got {e.Line}:{e.Column} ({e.Problem})");
        Assert.True(e.Problem.Contains(message, StringComparison.Ordinal), $"{why}: '{e.Problem}' should contain '{message}'");
        Assert.Equal($"{_files.ConfigPath}:{line}:{column}: {e.Problem}", e.Message);
    }

    // ---- tls.inspection ----

    [Fact]
    public void Inspection_is_read_with_absolute_paths_and_patterns()
    {
        SluiceConfig config = _files.Parse("""
            tls:
              inspection:
                ca: ca.pem
                key: key.pem
                upstreamCa: extra-roots.pem
                neverInspect: [".bank.example", "health.example.com", "10.0.0.0/8"]
            """);

        InspectionConfig inspection = Assert.IsType<InspectionConfig>(config.Inspection);
        Assert.Equal(_files.PathOf("ca.pem"), inspection.Ca);
        Assert.Equal(_files.PathOf("key.pem"), inspection.Key);
        Assert.Equal(_files.PathOf("extra-roots.pem"), inspection.UpstreamCa);
        Assert.Equal([".bank.example", "health.example.com", "10.0.0.0/8"], inspection.NeverInspect.Select(p => p.Text));
        Assert.Equal(2, inspection.Line);
        Assert.True(inspection.IsNeverInspected("www.bank.example", null, 443));
    }

    [Fact]
    public void The_first_sketch_spelling_never_inspect_is_read_as_neverInspect()
    {
        SluiceConfig config = _files.Parse("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    never-inspect: [.bank.example]\n");

        Assert.Equal([".bank.example"], config.Inspection!.NeverInspect.Select(p => p.Text));
    }

    [Fact]
    public void UpstreamCa_and_neverInspect_are_optional_and_absolute_paths_are_kept()
    {
        SluiceConfig config = _files.Parse($"tls:\n  inspection:\n    ca: {_files.PathOf("ca.pem")}\n    key: {_files.PathOf("key.pem")}\n");

        Assert.Equal(_files.PathOf("ca.pem"), config.Inspection!.Ca);
        Assert.Null(config.Inspection.UpstreamCa);
        Assert.Empty(config.Inspection.NeverInspect);
    }

    [Theory]
    [InlineData("{}", "no tls section")]
    [InlineData("tls: {}\n", "an empty tls section")]
    [InlineData("rules:\n  - name: a\n    action: allow\n", "rules without tls")]
    public void Without_tls_inspection_nothing_is_inspected(string yaml, string why)
    {
        Assert.True(_files.Parse(yaml).Inspection is null, why);
    }

    [Theory]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: [a.test]\n    never-inspect: [b.test]\n", 6, 20, "tls.inspection: give neverInspect once (never-inspect is the same key)", "both spellings")]
    [InlineData("tls:\n  inspection:\n    key: key.pem\n", 3, 5, "tls.inspection: 'ca' is required (a PEM file)", "no ca")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n", 3, 5, "tls.inspection: 'key' is required (a PEM file)", "no key")]
    [InlineData("tls:\n  inspection: {}\n", 2, 15, "tls.inspection: 'ca' is required", "an empty inspection section")]
    [InlineData("tls:\n  inspection:\n    ca: missing.pem\n    key: key.pem\n", 3, 9, "tls.inspection.ca: no file at ", "a CA file that does not exist")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: nowhere/key.pem\n", 4, 10, "tls.inspection.key: no file at ", "a key file that does not exist")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    upstreamCa: roots.pem\n", 5, 17, "tls.inspection.upstreamCa: no file at ", "upstream roots that do not exist")]
    [InlineData("tls:\n  inspection:\n    ca: [ca.pem]\n    key: key.pem\n", 3, 9, "tls.inspection.ca must be a single value", "a list for a file")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: [a.*.test]\n", 5, 20, "tls.inspection.neverInspect: 'a.*.test': '*' is allowed only", "a bad destination pattern")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    never-inspect: [10.1.2.3/8]\n", 5, 21, "tls.inspection.never-inspect: '10.1.2.3/8' is not a valid address or CIDR", "a bad pattern under the dashed spelling names that spelling")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: [[a.test]]\n", 5, 20, "tls.inspection.neverInspect: expected a destination such as .bank.example, got sequence", "a nested list")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: .bank.example\n", 5, 19, "tls.inspection.neverInspect must be a list", "a scalar where a list belongs")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: [.bank.example, .Bank.Example.]\n", 5, 35, "tls.inspection.neverInspect: '.Bank.Example.' is listed twice (the same as '.bank.example')", "a duplicate in another spelling")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: [a.test, a.test]\n", 5, 28, "tls.inspection.neverInspect: 'a.test' is listed twice", "a duplicate")]
    [InlineData("tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    caFile: ca.pem\n", 5, 5, "unknown key 'caFile' in tls.inspection (known: ca, key, never-inspect, neverInspect, upstreamCa)", "an unknown key in tls.inspection")]
    [InlineData("tls:\n  certificate: a.pem\n", 2, 3, "unknown key 'certificate' in tls (known: inspection)", "an unknown key in tls (listener TLS lives under listeners)")]
    [InlineData("tls: inspect\n", 1, 6, "tls must be a mapping of keys to values", "tls as a scalar")]
    [InlineData("tls:\n", 1, 5, "tls must be a mapping of keys to values", "tls without a value")]
    [InlineData("tls:\n  inspection: yes\n", 2, 15, "tls.inspection must be a mapping of keys to values", "inspection as a scalar")]
    public void Inspection_errors_point_at_the_offending_node(string yaml, long line, long column, string message, string why) =>
        AssertRefused(yaml, line, column, message, why);

    // ---- rules: tls ----

    [Fact]
    public void The_design_note_rules_are_read_and_decide_both_phases()
    {
        SluiceConfig config = _files.Parse("""
            tls:
              inspection:
                ca: ca.pem
                key: key.pem
                upstreamCa: extra-roots.pem
                neverInspect: [".bank.example", "health.example.com"]
            rules:
              - name: our-org-on-github
                action: allow
                destinations: ["github.com"]
                tls: inspect
                paths: ["/our-org/*"]
              - name: storage-read
                action: allow
                destinations: ["storage.example.com"]
                tls: inspect
                methods: [GET, HEAD]
              - name: plain
                action: allow
                destinations: ["plain.example.com"]
                tls: tunnel
            """);

        Assert.Equal([TlsMode.Inspect, TlsMode.Inspect, TlsMode.Tunnel], config.Rules.Select(r => r.Tls));
        Assert.Equal(["/our-org/*"], config.Rules[0].Paths.Select(p => p.Text));
        Assert.True(config.Rules[0].Paths[0].IsGlob);
        Assert.Empty(config.Rules[1].Paths);

        var policy = new RulePolicy(config.Rules, config.Default);
        Assert.Equal("our-org-on-github", policy.Decide(RuleKit.Connect("github.com", mayInspect: true)).Rule);
        Assert.Null(policy.Decide(RuleKit.Connect("github.com", mayInspect: false)).Rule);
        Assert.Equal("our-org-on-github", policy.Decide(RuleKit.Inside("github.com", "GET", "/our-org/repo")).Rule);
        Assert.Null(policy.Decide(RuleKit.Inside("github.com", "GET", "/other-org/repo")).Rule);
        Assert.Equal("storage-read", policy.Decide(RuleKit.Inside("storage.example.com", "HEAD", "/b/o")).Rule);
        Assert.Null(policy.Decide(RuleKit.Inside("storage.example.com", "DELETE", "/b/o")).Rule);
    }

    [Theory]
    [InlineData("rules:\n  - name: a\n    action: allow\n    tls: inspect\n", 4, 10, "rules[0] 'a': tls: inspect needs tls.inspection (a CA to sign the certificates clients are shown): create one with sluice ca init", "inspect without tls.inspection")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: inspect\n    ftp: passive\n", 10, 10, "rules[0] 'a': ftp: passive reads an FTP control connection relayed as it is; an inspected tunnel carries TLS, not FTP", "ftp on an inspecting rule")]
    [InlineData(Header + "rules:\n  - name: a\n    action: deny\n    tls: inspect\n", 9, 10, "rules[0] 'a': a deny rule opens no tunnel, so tls: has no meaning here", "inspect on a deny rule")]
    [InlineData(Header + "rules:\n  - name: a\n    action: deny\n    tls: tunnel\n", 9, 10, "a deny rule opens no tunnel, so tls: has no meaning here", "tunnel on a deny rule")]
    [InlineData("rules:\n  - name: a\n    action: deny\n    tls: tunnel\n", 4, 10, "a deny rule opens no tunnel", "tls: on a deny rule without inspection")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: inspect\n    schemes: [https]\n", 10, 14, "rules[0] 'a': an inspecting rule decides the CONNECT and the https requests inside it, so schemes: has no meaning here", "inspect with schemes")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    schemes: [tunnel]\n    tls: inspect\n", 9, 14, "so schemes: has no meaning here", "schemes before tls: the position is still the schemes")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: bump\n", 9, 10, "rules[0].tls: expected tunnel or inspect, got 'bump'", "a value Squid users might write")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: Inspect\n", 9, 10, "rules[0].tls: expected tunnel or inspect, got 'Inspect'", "values are lower-case")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: [inspect]\n", 9, 10, "rules[0].tls: expected tunnel or inspect, got sequence", "a list")]
    public void Rule_tls_errors_point_at_the_offending_node(string yaml, long line, long column, string message, string why) =>
        AssertRefused(yaml, line, column, message, why);

    [Theory]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: tunnel\n", TlsMode.Tunnel, "tunnel written out")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n", TlsMode.Tunnel, "tunnel by default")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    tls: tunnel\n", TlsMode.Tunnel, "tunnel needs no inspection")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: inspect\n    methods: [CONNECT, GET]\n", TlsMode.Inspect, "CONNECT beside other methods: for never-inspected destinations")]
    [InlineData(Header + "rules:\n  - name: a\n    action: allow\n    tls: inspect\n    clients: [10.0.0.0/8]\n    users: [alice]\n    ports: [443]\n", TlsMode.Inspect, "inspect with connection keys")]
    public void Rule_tls_is_read(string yaml, TlsMode expected, string why)
    {
        Assert.True(expected == Assert.Single(_files.Parse(yaml).Rules).Tls, why);
    }

    [Fact]
    public void An_inspecting_rule_may_route_through_an_upstream()
    {
        Rule rule = Assert.Single(_files.Parse(Header + """
            upstreams:
              - { name: corp, proxies: ["http://proxy.corp.example:3128"] }
            rules:
              - { name: gh, action: allow, destinations: [github.com], tls: inspect, via: corp }
            """).Rules);

        Assert.Equal((TlsMode.Inspect, "corp"), (rule.Tls, rule.Via));
    }

    // ---- rules: paths ----

    [Theory]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [our-org]\n", 4, 13, "rules[0].paths: 'our-org' is not a path: paths start with '/'", "no leading slash")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths:\n      - /our-org/*\n      - '*.json'\n", 6, 9, "rules[0].paths: '*.json' is not a path", "a star first, on its own line")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a?b']\n", 4, 13, "rules[0].paths: '/a?b': paths are matched without the query, so '?' and '#' cannot appear", "a query")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a#b']\n", 4, 13, "'?' and '#' cannot appear", "a fragment")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a%zz']\n", 4, 13, "rules[0].paths: '/a%zz': the path has a '%' that is not followed by two hex digits", "a bad escape")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a%00']\n", 4, 13, "control character (U+0000)", "an escaped NUL")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [\"/a\\tb\"]\n", 4, 13, "control character (U+0009)", "a raw tab")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a%C0%AE']\n", 4, 13, "not valid UTF-8", "an overlong escape")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/our-org/..]\n", 4, 13, "rules[0].paths: '/our-org/..' holds a '.' or '..' segment", "a pattern that would be '/'")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a/%2A/*']\n", 4, 13, "an escaped one (%2A) cannot stand for a literal star", "an escaped star in a glob")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: []\n", 4, 12, "rules[0].paths is empty, so the rule could never match; remove the key to match any path", "an empty list")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: /our-org\n", 4, 12, "rules[0].paths must be a list", "a scalar")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [[/a]]\n", 4, 13, "rules[0].paths: expected a single value, got sequence", "a nested list")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/a/%7Eb, /a/~b]\n", 4, 22, "rules[0].paths: '/a/~b' is listed twice (the same as '/a/%7Eb')", "an escape and its character are one entry")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/a/b, /a/b]\n", 4, 19, "rules[0].paths: '/a/b' is listed twice", "a plain duplicate")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/a/b, /a//b]\n", 4, 19, "'/a//b' is listed twice (the same as '/a/b')", "a doubled slash")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/a\\b', /a/b]\n", 4, 21, "'/a/b' is listed twice (the same as '/a\\b')", "a backslash")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/a/*, ' /a/* ']\n", 4, 19, "is listed twice", "spaces around a glob")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    schemes: [tunnel]\n    paths: [/a]\n", 5, 12, "rules[0] 'a': schemes: [tunnel] admits only CONNECTs, which show no path, so a rule with paths: could never match", "paths on a tunnel-only rule")]
    [InlineData("rules:\n  - name: a\n    action: deny\n    methods: [CONNECT]\n    paths: [/a]\n", 5, 12, "rules[0] 'a': methods: [CONNECT] admits only CONNECTs, which show no path, so a rule with paths: could never match", "paths on a CONNECT-only rule")]
    public void Rule_paths_errors_point_at_the_offending_node(string yaml, long line, long column, string message, string why) =>
        AssertRefused(yaml, line, column, message, why);

    [Theory]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/a/b, /a/b/]\n", new[] { "/a/b", "/a/b/" }, "a prefix and its directory are two entries")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/a/*, /a/%2A]\n", new[] { "/a/*", "/a/*" }, "a glob and a literal star are two entries")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: [/our-org, /our-orgs]\n", new[] { "/our-org", "/our-orgs" }, "similar names")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    schemes: [tunnel, http]\n    paths: [/a]\n", new[] { "/a" }, "http among the schemes: the paths apply there")]
    [InlineData("rules:\n  - name: a\n    action: deny\n    methods: [CONNECT, POST]\n    paths: [/a]\n", new[] { "/a" }, "POST among the methods")]
    [InlineData("rules:\n  - name: a\n    action: allow\n    paths: ['/caf%C3%A9', /bücher]\n", new[] { "/café", "/bücher" }, "non-ASCII, escaped or raw")]
    public void Rule_paths_are_read(string yaml, string[] expected, string why)
    {
        Assert.True(expected.SequenceEqual(Assert.Single(_files.Parse(yaml).Rules).Paths.Select(p => p.Text)), why);
    }

    [Fact]
    public void The_unknown_key_message_lists_paths_and_tls()
    {
        AssertRefused("rules:\n  - name: a\n    action: allow\n    path: [/a]\n", 4, 5, "unknown key 'path' in rules[0] (known: action, clients, destinations, ftp, groups, methods, name, paths, ports, schemes, tls, users, via)", "the singular");
    }

    // ---- shadowing, through the loader ----

    [Theory]
    [InlineData(Header + "rules:\n  - name: plain\n    action: allow\n    destinations: [github.com]\n  - name: org\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-org/*]\n", 10, 5, "rules[1] 'org' can never match: rule 'plain' (line 7) comes first and matches everything it matches", "a plain rule takes both decisions from a later inspecting one")]
    [InlineData(Header + "rules:\n  - name: org\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-org/]\n  - name: repo\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-org/repo/*]\n", 12, 5, "rules[1] 'repo' can never match: rule 'org' (line 7)", "inspecting rules: a wider path")]
    [InlineData("rules:\n  - name: all\n    action: deny\n    destinations: [github.com]\n    paths: ['/our-org/*']\n  - name: admin\n    action: deny\n    destinations: [github.com]\n    paths: [/our-org/admin]\n", 6, 5, "rules[1] 'admin' can never match: rule 'all' (line 2)", "a trailing-star glob covers a prefix under it")]
    public void Shadowed_rules_are_refused(string yaml, long line, long column, string message, string why) =>
        AssertRefused(yaml, line, column, message, why);

    [Theory]
    [InlineData(Header + "rules:\n  - name: gets\n    action: allow\n    destinations: [github.com]\n    methods: [GET]\n  - name: inspected-gets\n    action: allow\n    destinations: [github.com]\n    methods: [GET]\n    tls: inspect\n", "an earlier tunnelling GET rule does not shadow an inspecting one: the CONNECT is the inspecting rule's")]
    [InlineData(Header + "rules:\n  - name: org\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-org/*]\n  - name: other\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/other-org/*]\n", "two orgs")]
    [InlineData(Header + "rules:\n  - name: org\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-org]\n  - name: orgs\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-orgs]\n", "a prefix does not cover a longer name")]
    [InlineData(Header + "rules:\n  - name: org\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n    paths: [/our-org/*]\n  - name: plain\n    action: allow\n    destinations: [github.com]\n", "a plain rule after an inspecting path rule gets never-inspected CONNECTs and other paths")]
    [InlineData(Header + "rules:\n  - name: deny-admin\n    action: deny\n    destinations: [github.com]\n    paths: [/our-org/admin]\n  - name: org\n    action: allow\n    destinations: [github.com]\n    tls: inspect\n", "a deny with paths before the inspecting rule takes no CONNECT from it")]
    public void Unshadowed_rule_sets_are_accepted(string yaml, string why)
    {
        Assert.True(_files.Parse(yaml).Rules.Length == 2, why);
    }
}
