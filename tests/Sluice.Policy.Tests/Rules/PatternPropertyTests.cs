using CsCheck;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>The algebra of patterns and of shadowing, checked on generated names and rules (CsCheck, shrinking on failure).</summary>
public sealed class PatternPropertyTests
{
    // Few, similar labels: "ab" next to "a" and "b" makes suffix-without-a-dot mistakes likely to show.
    private static readonly Gen<string> Label = Gen.OneOf("a", "b", "ab", "ba", "c", "xn--bcher-kva", "a-b", "1z");

    private static readonly Gen<string> Name = Label.Array[1, 5].Select(labels => string.Join('.', labels));

    private static readonly Gen<int> Port = Gen.OneOf(22, 80, 443, 8080);

    [Fact]
    public void A_dot_pattern_matches_exactly_the_name_and_the_names_ending_in_dot_name()
    {
        Gen.Select(Name, Name, Port).Sample((suffix, host, port) =>
        {
            DestinationPattern p = RuleKit.Pattern("." + suffix);
            bool matches = p.Matches(host, null, port);
            bool endsWith = host == suffix || host.EndsWith("." + suffix, StringComparison.Ordinal);

            // In particular ".a.b" never matches a name not ending in "a.b".
            Assert.False(matches && !host.EndsWith(suffix, StringComparison.Ordinal), $".{suffix} matched {host}");
            Assert.True(matches == endsWith, $".{suffix} vs {host}: matches {matches}, label suffix {endsWith}");
        }, iter: 20_000, threads: 1);
    }

    [Fact]
    public void A_dot_pattern_matches_a_name_built_under_it()
    {
        Gen.Select(Name, Name).Sample((suffix, prefix) =>
        {
            Assert.True(RuleKit.Pattern("." + suffix).Matches($"{prefix}.{suffix}", null, 443));
            Assert.True(RuleKit.Pattern("." + suffix).Matches(suffix, null, 443));
            Assert.False(RuleKit.Pattern("." + suffix).Matches(prefix + suffix, null, 443) && !(prefix + suffix).EndsWith("." + suffix, StringComparison.Ordinal) && prefix + suffix != suffix);
        }, iter: 5_000, threads: 1);
    }

    [Fact]
    public void A_wildcard_matches_what_the_dot_pattern_matches_except_the_name_itself()
    {
        Gen.Select(Name, Name, Port).Sample((suffix, host, port) =>
        {
            bool star = RuleKit.Pattern("*." + suffix).Matches(host, null, port);
            bool dot = RuleKit.Pattern("." + suffix).Matches(host, null, port);
            Assert.True(star == (dot && host != suffix), $"*.{suffix} {star}, .{suffix} {dot}, host {host}");
        }, iter: 20_000, threads: 1);
    }

    [Fact]
    public void An_exact_pattern_matches_only_itself_and_any_name_pattern_never_matches_an_address()
    {
        Gen.Select(Name, Name, Gen.OneOf("10.0.0.1", "::1", "192.0.2.9")).Sample((pattern, host, ip) =>
        {
            Assert.Equal(pattern == host, RuleKit.Pattern(pattern).Matches(host, null, 443));
            var address = System.Net.IPAddress.Parse(ip);
            foreach (string text in new[] { pattern, "." + pattern, "*." + pattern, "*" })
            {
                Assert.False(RuleKit.Pattern(text).Matches(address.ToString(), address, 443), $"{text} matched the IP literal {ip}");
            }
        }, iter: 5_000, threads: 1);
    }

    [Fact]
    public void A_port_in_a_pattern_only_narrows_it()
    {
        Gen.Select(Gen.OneOf([.. Universe.Patterns.Where(p => !p.Contains(':', StringComparison.Ordinal) && !p.Contains('/', StringComparison.Ordinal)), "2001:db8::1"]), Gen.OneOf(Universe.Hosts), Port, Port)
            .Sample((pattern, host, port, requestPort) =>
            {
                string withPort = pattern.Contains(':', StringComparison.Ordinal) ? $"[{pattern}]:{port}" : $"{pattern}:{port}";
                RequestFacts r = RuleKit.Request(host, requestPort);
                bool narrow = RuleKit.Pattern(withPort).Matches(r.Host, r.Address, r.Port);
                bool wide = RuleKit.Pattern(pattern).Matches(r.Host, r.Address, r.Port);
                Assert.True(narrow == (wide && port == requestPort), $"{withPort} vs {pattern} on {host}:{requestPort}");
            }, iter: 5_000, threads: 1);
    }

    private static readonly Gen<string[]> Destinations = Gen.Frequency(
        (1, Gen.Const(Array.Empty<string>())),
        (6, Gen.OneOf(Universe.Patterns).Array[1, 3]));

    private static Gen<string[]> Optional(string[] from, int absentWeight) => Gen.Frequency(
        (absentWeight, Gen.Const(Array.Empty<string>())),
        (1, Gen.OneOf(from).Array[1, 2]));

    private static readonly Gen<Rule> GeneratedRule = Gen.Select(
        Destinations,
        Optional(Universe.PortRanges, 2),
        Optional(Universe.Methods, 2),
        Gen.Frequency((4, Gen.Const(Array.Empty<RequestScheme>())), (1, Gen.OneOf(RequestScheme.Http, RequestScheme.Tunnel).Array[1, 1])),
        Optional(Universe.ClientNetworks, 3),
        Optional(Universe.UserNames, 4),
        Optional(Universe.GroupNames, 5),
        (destinations, ports, methods, schemes, clients, users, groups) => RuleKit.Rule(
            "generated",
            RuleAction.Allow,
            destinations: destinations,
            ports: ports,
            methods: methods,
            schemes: schemes,
            clients: clients,
            users: users,
            groups: groups));

    /// <summary>
    /// Soundness of shadowing: when Covers(a, b) says the earlier rule a matches everything the later rule b matches,
    /// no request of the whole alphabet may match b but not a. (Over-claiming would reject a valid config, or worse,
    /// hide that the later rule does matter.)
    /// </summary>
    [Fact]
    public void Covers_is_never_true_when_a_request_matches_the_later_rule_but_not_the_earlier()
    {
        int covered = 0;
        Gen.Select(GeneratedRule, GeneratedRule).Sample((a, b) =>
        {
            if (!RuleShadowing.Covers(a, b))
            {
                return;
            }

            Interlocked.Increment(ref covered);
            foreach (RequestFacts request in Universe.AllRequests)
            {
                if (b.Mismatch(request) is null && a.Mismatch(request) is { } why)
                {
                    Assert.Fail($"Covers said {Show(a)} covers {Show(b)}, but {request} matches the later rule and not the earlier: {why}");
                }
            }
        }, iter: 4_000, threads: 1);

        Assert.True(covered > 100, $"only {covered} covering pairs were generated: the property would be nearly vacuous");
    }

    [Fact]
    public void Pattern_covers_is_sound_over_every_host_and_port_of_the_alphabet()
    {
        int covered = 0;
        foreach (string a in Universe.Patterns)
        {
            foreach (string b in Universe.Patterns)
            {
                DestinationPattern pa = RuleKit.Pattern(a), pb = RuleKit.Pattern(b);
                if (!RuleShadowing.Covers(pa, pb))
                {
                    continue;
                }

                covered++;
                foreach (string host in Universe.Hosts)
                {
                    foreach (int port in Universe.RequestPorts)
                    {
                        RequestFacts r = RuleKit.Request(host, port);
                        Assert.False(
                            pb.Matches(r.Host, r.Address, r.Port) && !pa.Matches(r.Host, r.Address, r.Port),
                            $"Covers({a}, {b}) but {host}:{port} matches {b} only");
                    }
                }
            }
        }

        Assert.True(covered > 50, $"{covered} covering pairs");
    }

    [Fact]
    public void Covers_is_sound_for_generated_dot_and_wildcard_patterns()
    {
        Gen<string> pattern = Gen.Select(Gen.OneOf("", ".", "*."), Name, (prefix, name) => prefix + name);
        Gen.Select(pattern, pattern, Name).Sample((a, b, host) =>
        {
            DestinationPattern pa = RuleKit.Pattern(a), pb = RuleKit.Pattern(b);
            if (RuleShadowing.Covers(pa, pb))
            {
                Assert.False(pb.Matches(host, null, 443) && !pa.Matches(host, null, 443), $"Covers({a}, {b}) but {host} matches {b} only");
            }
        }, iter: 30_000, threads: 1);
    }

    [Fact]
    public void Every_rule_covers_itself_and_a_rule_without_matchers_covers_every_rule()
    {
        Rule everything = RuleKit.Rule("all", RuleAction.Deny);
        GeneratedRule.Sample(rule =>
        {
            Assert.True(RuleShadowing.Covers(everything, rule));
            Assert.True(RuleShadowing.Covers(rule, rule), $"{Show(rule)} should cover itself");
        }, iter: 2_000, threads: 1);
    }

    private static string Show(Rule r) =>
        $"[dst {string.Join(' ', r.Destinations)}; ports {string.Join(' ', r.Ports)}; methods {string.Join(' ', r.Methods)}; schemes {string.Join(' ', r.Schemes)}; clients {string.Join(' ', r.Clients)}; users {string.Join(' ', r.Users)}; groups {string.Join(' ', r.Groups)}]";
}
