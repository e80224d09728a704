using System.Net;
using System.Text.Json;
using Sluice.Cli.Commands;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// Report mode in <c>sluice explain</c> and <c>sluice check</c>: a would-deny is said plainly (let through, and what
/// enforcing would answer, by which rule or the default), from the pipeline's verdict; check prints the mode, marks
/// report rules and warns about a policy that refuses nothing. Names resolve through a loopback-only map.
/// </summary>
public sealed class ReportModeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-report-").FullName;
    private readonly MapResolver _resolver = new MapResolver().Map("trial.test", IPAddress.Loopback).Map("web.test", IPAddress.Loopback)
        .Map("secret.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback).Map("staff.test", IPAddress.Loopback);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FileInfo Write(string yaml)
    {
        string path = Path.Combine(_dir, $"sluice-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return new FileInfo(path);
    }

    private const string Rules = """
        listeners: [{ address: 127.0.0.1:3128 }]
        addresses:
          allow: [127.0.0.0/8]
        rules:
          - { name: no-secret, action: deny, destinations: [secret.test] }
          - { name: trial, action: report, destinations: [trial.test] }
          - { name: web, action: allow, destinations: [web.test, trial.test] }
        default: deny
        """;

    private async Task<(int Exit, string Text, JsonElement Json)> ExplainAsync(FileInfo config, string target, string? user = null)
    {
        var request = new ExplainCommand.ExplainRequest(target, "127.0.0.1", user, null, [], NoResolve: false);
        var text = new StringWriter();
        var errors = new StringWriter();
        int exit = await ExplainCommand.RunAsync(config, request, json: false, text, errors, _resolver, CancellationToken.None);
        var json = new StringWriter();
        int again = await ExplainCommand.RunAsync(config, request, json: true, json, errors, _resolver, CancellationToken.None);
        Assert.True(exit == again, $"text exit {exit}, json exit {again}: {errors}");
        using JsonDocument document = JsonDocument.Parse(json.ToString());
        return (exit, text.ToString(), document.RootElement.Clone());
    }

    [Fact]
    public async Task A_report_rule_is_allowed_and_says_what_enforcing_would_answer_by_that_rule()
    {
        (int exit, string text, JsonElement json) = await ExplainAsync(Write(Rules), "trial.test:443");
        Assert.Equal(0, exit);
        Assert.Contains("rule 2:   trial (report, line 6): MATCHES", text, StringComparison.Ordinal);
        Assert.Contains("decision: would deny: rule trial would deny CONNECT trial.test:443 (action: report lets it through)", text, StringComparison.Ordinal);
        Assert.Contains("report:   allowed in report mode (action: report); enforce would answer 403 Forbidden (Proxy-Status error=http_request_denied) by rule trial", text, StringComparison.Ordinal);
        Assert.Contains("result:   200 Connection established", text, StringComparison.Ordinal);
        Assert.False(json.GetProperty("refused").GetBoolean());
        Assert.Equal(200, json.GetProperty("status").GetInt32());
        Assert.Equal("trial", json.GetProperty("rule").GetString());
        Assert.True(json.GetProperty("report").GetBoolean());
        Assert.Equal(403, json.GetProperty("wouldStatus").GetInt32());
        Assert.Equal("http_request_denied", json.GetProperty("wouldError").GetString());
        Assert.Equal("direct", json.GetProperty("route").GetString());
    }

    [Fact]
    public async Task An_allowed_request_is_unchanged_by_report_mode()
    {
        (int exit, string text, JsonElement json) = await ExplainAsync(Write(Rules), "web.test:443");
        Assert.Equal(0, exit);
        Assert.Contains("decision: allow: rule web allows CONNECT web.test:443", text, StringComparison.Ordinal);
        Assert.DoesNotContain("report:", text, StringComparison.Ordinal);
        Assert.False(json.TryGetProperty("report", out _));
        Assert.False(json.TryGetProperty("wouldStatus", out _));

        // And enforced denials stay denials where only a rule is on trial.
        (int denied, string deniedText, JsonElement deniedJson) = await ExplainAsync(Write(Rules), "secret.test:443");
        Assert.Equal(1, denied);
        Assert.Contains("result:   403 Forbidden", deniedText, StringComparison.Ordinal);
        Assert.False(deniedJson.TryGetProperty("report", out _));
    }

    [Fact]
    public async Task Mode_report_lets_a_deny_rule_and_the_default_through_and_names_which()
    {
        FileInfo config = Write("mode: report\n" + Rules);
        (int exit, string text, JsonElement json) = await ExplainAsync(config, "http://secret.test/x");
        Assert.Equal(0, exit);
        Assert.Contains("report:   allowed in report mode (mode: report); enforce would answer 403 Forbidden (Proxy-Status error=http_request_denied) by rule no-secret", text, StringComparison.Ordinal);
        Assert.Contains("result:   forwarded", text, StringComparison.Ordinal);
        Assert.Equal(403, json.GetProperty("wouldStatus").GetInt32());
        Assert.Equal("no-secret", json.GetProperty("rule").GetString());

        (exit, text, json) = await ExplainAsync(config, "other.test:443");
        Assert.Equal(0, exit);
        Assert.Contains("decision: would deny: no rule matched CONNECT other.test:443; the default would deny it (mode: report lets it through)", text, StringComparison.Ordinal);
        Assert.Contains("report:   allowed in report mode (mode: report); enforce would answer 403 Forbidden (Proxy-Status error=http_request_denied) by the default", text, StringComparison.Ordinal);
        Assert.False(json.TryGetProperty("rule", out _));
        Assert.True(json.GetProperty("report").GetBoolean());
        Assert.Equal(200, json.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task An_anonymous_would_deny_where_a_rule_names_users_would_first_be_challenged()
    {
        string users = Path.Combine(_dir, "users");
        File.WriteAllText(users, $"alice:{PasswordHashes.HashBcrypt("wonderland", 4)}\n");
        FileInfo config = Write($$"""
            mode: report
            listeners: [{ address: 127.0.0.1:3128 }]
            addresses:
              allow: [127.0.0.0/8]
            auth:
              basic: { realm: egress, usersFile: {{users}} }
              required: false
            rules:
              - { name: staff, action: allow, destinations: [staff.test], users: [alice] }
            default: deny
            """);
        (int exit, string text, JsonElement json) = await ExplainAsync(config, "staff.test:443");
        Assert.Equal(0, exit);
        Assert.Contains("report:   allowed in report mode (mode: report); enforce would answer 407 Proxy Authentication Required (Proxy-Status error=http_request_denied) first, to ask for credentials (a rule for this destination names users or groups; anonymous, the default would deny it)", text, StringComparison.Ordinal);
        Assert.Equal(407, json.GetProperty("wouldStatus").GetInt32());
        Assert.Equal("http_request_denied", json.GetProperty("wouldError").GetString());
        Assert.False(json.GetProperty("refused").GetBoolean());

        // Alice is let through by her rule: no would-deny.
        (exit, text, json) = await ExplainAsync(config, "staff.test:443", user: "alice");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("report:", text, StringComparison.Ordinal);
        Assert.False(json.TryGetProperty("report", out _));
    }

    [Fact]
    public async Task The_address_guard_still_refuses_a_would_deny_and_explain_says_both()
    {
        (int exit, string text, JsonElement json) = await ExplainAsync(Write("mode: report\n" + Rules), "10.0.0.5:443");
        Assert.Equal(1, exit);
        Assert.Contains("report:   the rules let it through in report mode (mode: report), where enforce would answer 403 Forbidden (Proxy-Status error=http_request_denied) by the default; refused all the same by a later step", text, StringComparison.Ordinal);
        Assert.Contains("result:   403 Forbidden (Proxy-Status error=destination_ip_prohibited)", text, StringComparison.Ordinal);
        Assert.True(json.GetProperty("refused").GetBoolean());
        Assert.Equal("destination_ip_prohibited", json.GetProperty("proxyStatus").GetString());
        Assert.True(json.GetProperty("report").GetBoolean());
    }

    private (int Exit, string Output) Check(string yaml)
    {
        var output = new StringWriter();
        int exit = CheckCommand.Run(Write(yaml), output, new StringWriter());
        return (exit, output.ToString());
    }

    [Fact]
    public void Check_prints_the_mode_and_marks_report_rules()
    {
        (int exit, string output) = Check(Rules);
        Assert.Equal(0, exit);
        Assert.Contains("mode: enforce\n", output.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("  2. trial (report, line 6): destinations trial.test [report: a deny on trial; what it matches is let through by route.default and recorded as its would-deny]", output, StringComparison.Ordinal);
        Assert.Contains("default: deny (a request no rule matches is refused with 403)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("warning: mode: report", output, StringComparison.Ordinal);
        Assert.DoesNotContain("is a report rule with no allow rule after it", output, StringComparison.Ordinal); // web follows it for trial.test

        (exit, output) = Check("mode: report\n" + Rules);
        Assert.Equal(0, exit);
        Assert.Contains("mode: REPORT: nothing is refused by the rules", output, StringComparison.Ordinal);
        Assert.Contains("  1. no-secret (deny, line 6): destinations secret.test [reported only: mode: report]", output, StringComparison.Ordinal);
        Assert.Contains("default: deny, reported only (mode: report)", output, StringComparison.Ordinal);
        Assert.Contains("warning: mode: report: nothing is refused by the rules: every deny is only recorded", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_warns_about_a_report_rule_only_the_default_follows()
    {
        (int exit, string output) = Check("""
            listeners: [{ address: 127.0.0.1:3128 }]
            rules:
              - { name: web, action: allow, destinations: [web.test] }
              - { name: trial-tail, action: report, destinations: [.tail.test] }
            default: deny
            """);
        Assert.Equal(0, exit);
        Assert.Contains("warning: rule trial-tail (line 4) is a report rule with no allow rule after it for its destinations: enforced, it would refuse only what the default refuses already, and on trial it lets that through", output, StringComparison.Ordinal);
    }
}
