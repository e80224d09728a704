using System.Net;
using Sluice.Deploy.Squid;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>A translation as the configuration file `sluice import-squid` prints.</summary>
public sealed class SquidWriterTests
{
    private static SquidTranslation Minimal(params TranslatedRule[] rules) => new()
    {
        Listeners = [new SquidListener("[::]:3128")],
        Rules = rules,
        Default = RuleAction.Deny,
        DefaultWhy = "why",
        Notes = [],
    };

    private static TranslatedRule Rule(Rule rule) => new(rule, "http_access allow x");

    private static Rule Allow => new() { Name = "allow-x", Action = RuleAction.Allow, Line = 7 };

    [Theory]
    [InlineData("istio-external-proxy")]
    [InlineData("debian-default")]
    [InlineData("corporate-parents")]
    [InlineData("bump-some")]
    public void Squid_files_convert_to_the_reviewed_output(string fixture)
    {
        string text = File.ReadAllText(SquidConversion.Fixture($"{fixture}.conf"));
        SquidTranslation translation = SquidTranslator.Translate(SquidReader.Read(text, _ => null));
        string notes = string.Join("", translation.Notes.Select(n => $"# {n}\n"));
        string output = notes + SquidWriter.Write(translation, $"{fixture}.conf");
        Assert.DoesNotContain("Br4nch-Pa55", output, StringComparison.Ordinal); // corporate-parents' login password
        GoldenFile.AssertMatches($"import-squid-{fixture}", output);
    }

    [Fact]
    public void The_smallest_translation_has_the_header_a_listener_and_the_default_with_its_reason()
    {
        Assert.Equal("""
            ---
            # Converted by `sluice import-squid` from squid.conf.
            # Each rule comes from the http_access line named above it; first match wins, as in Squid.
            # Squid has no address guard: Sluice refuses private, loopback and link-local destinations unless addresses.allow lists them.
            listeners:
              - address: '[::]:3128'
            # why
            default: deny

            """, SquidWriter.Write(Minimal(), "squid.conf"));
    }

    [Theory]
    [InlineData("no matcher", "")]
    [InlineData("ports", "    ports:\n      - 443\n      - \"1024-65535\"\n")]
    [InlineData("methods", "    methods:\n      - GET\n")]
    [InlineData("schemes", "    schemes:\n      - http\n")]
    [InlineData("clients", "    clients:\n      - 10.0.0.0/8\n")]
    [InlineData("destinations", "    destinations:\n      - .example.com\n      - 203.0.113.0/24\n")]
    [InlineData("users", "    users:\n      - alice\n")]
    [InlineData("tls and paths", "    destinations:\n      - github.com\n    tls: inspect\n    methods:\n      - GET\n    paths:\n      - /our-org/*\n")]
    public void A_rule_is_written_with_the_matchers_it_has_under_its_line(string matcher, string expected)
    {
        Rule rule = matcher switch
        {
            "ports" => Allow with { Ports = [new PortRange(443, 443), new PortRange(1024, 65535)] },
            "methods" => Allow with { Methods = ["GET"] },
            "schemes" => Allow with { Schemes = [RequestScheme.Http] },
            "clients" => Allow with { Clients = [IPNetwork.Parse("10.0.0.0/8")] },
            "destinations" => Allow with { Destinations = [Pattern(".example.com"), Pattern("203.0.113.0/24")] },
            "users" => Allow with { Users = ["alice"] },
            "tls and paths" => Allow with { Destinations = [Pattern("github.com")], Tls = TlsMode.Inspect, Methods = ["GET"], Paths = [PathPattern.TryParse("/our-org/*", out PathPattern p, out _) ? p : null!] },
            _ => Allow,
        };
        string yaml = SquidWriter.Write(Minimal(Rule(rule)), "squid.conf");
        string rules = yaml[yaml.IndexOf("rules:", StringComparison.Ordinal)..yaml.IndexOf("# why", StringComparison.Ordinal)];
        Assert.Equal("rules:\n# line 7: http_access allow x\n  - name: allow-x\n    action: allow\n" + expected, rules);
    }

    [Fact]
    public void Settings_are_written_only_when_the_squid_file_had_them()
    {
        string yaml = SquidWriter.Write(Minimal() with
        {
            Name = "corp",
            Listeners = [new SquidListener("0.0.0.0:3129", new SquidListenerTls("/c.pem", "/k.pem", null))],
            Auth = new SquidAuth(null, "/etc/squid/passwd"),
            ConnectTimeout = TimeSpan.FromMinutes(1),
            AccessLog = "off",
        }, "squid.conf");
        Assert.Contains("name: corp\n", yaml, StringComparison.Ordinal);
        Assert.Contains("  - address: \"0.0.0.0:3129\"\n    tls:\n      certificate: /c.pem\n      key: /k.pem\n", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("clientCa", yaml, StringComparison.Ordinal);
        Assert.Contains("auth:\n  basic:\n    usersFile: /etc/squid/passwd\n  required: true\n", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("realm", yaml, StringComparison.Ordinal);
        Assert.Contains("timeouts:\n  connect: 1m\n", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("idle", yaml, StringComparison.Ordinal);
        Assert.Contains("log:\n  access: \"off\"\n  format: squid\n", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("rules:", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("tls:\n  inspection", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspection_is_written_with_its_comment_before_the_rules()
    {
        string yaml = SquidWriter.Write(Minimal(Rule(Allow with { Tls = TlsMode.Inspect }) with { Tls = "ssl_bump line 9 (ssl_bump bump all) bumps its CONNECTs: tls: inspect" }) with
        {
            Inspection = new SquidInspection("/etc/squid/ca.pem", "/etc/squid/ca.key", "/etc/squid/roots.pem", [".bank.example"], "why\nand more"),
        }, "squid.conf");
        Assert.Contains("# why\n# and more\ntls:\n  inspection:\n    ca: /etc/squid/ca.pem\n    key: /etc/squid/ca.key\n    upstreamCa: /etc/squid/roots.pem\n    neverInspect:\n      - .bank.example\nrules:\n", yaml, StringComparison.Ordinal);
        Assert.Contains("# line 7: http_access allow x\n# ssl_bump line 9 (ssl_bump bump all) bumps its CONNECTs: tls: inspect\n  - name: allow-x\n    action: allow\n    tls: inspect\n", yaml, StringComparison.Ordinal);
    }

    private static DestinationPattern Pattern(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern pattern, out string problem) ? pattern : throw new ArgumentException(problem);
}
