using Sluice.Cli.Commands;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

public sealed class CheckCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Exit, string Output, string Errors) Check(string yaml)
    {
        string path = Path.Combine(_dir, "sluice.yaml");
        File.WriteAllText(path, yaml);
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = CheckCommand.Run(new FileInfo(path), output, errors);
        return (exit, output.ToString(), errors.ToString().Replace(path, "sluice.yaml", StringComparison.Ordinal));
    }

    [Fact]
    public void Risky_configs_are_valid_but_warned_about()
    {
        (int exit, string output, _) = Check("""
            listeners: [{ address: 0.0.0.0:3128 }]
            rules:
              - name: everything-web
                action: allow
                destinations: ["*"]
                ports: [80, 443]
              - name: no-internal
                action: deny
                destinations: [".internal.example"]
                ports: [8443]
            addresses:
              allow: [10.0.0.0/8]
            """);
        Assert.Equal(0, exit);
        Assert.Contains("warning: rule everything-web (line 3) allows any destination before the deny rules no-internal", output);
        Assert.Contains("warning: addresses.allow 10.0.0.0/8 makes a whole non-public range reachable", output);
        Assert.Contains("warning: listener 0.0.0.0:3128 is reachable beyond this machine and rules everything-web allow any client", output);
    }

    [Fact]
    public void An_invalid_config_prints_the_error_with_line_and_column_and_exits_1()
    {
        (int exit, string output, string errors) = Check("""
            rules:
              - name: a
                action: allow
                destinations: [".example.com"]
              - name: b
                action: deny
                destinations: ["api.example.com"]
            """);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal("sluice: sluice.yaml:5:5: rules[1] 'b' can never match: rule 'a' (line 2) comes first and matches everything it matches\n", errors.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Basic_auth_on_a_plain_listener_beyond_loopback_is_warned_about()
    {
        File.WriteAllText(Path.Combine(_dir, "users"), "alice:$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a\n");
        (int exit, string output, _) = Check("""
            listeners: [{ address: "[::]:3128" }, { address: 127.0.0.1:3129 }]
            auth:
              basic: { realm: egress, usersFile: users }
            rules:
              - name: web
                action: allow
                destinations: ["*"]
            """);
        Assert.Equal(0, exit);
        Assert.Contains("warning: Basic authentication on the plain listener [::]:3128, which is reachable beyond this machine: passwords cross the network in clear text", output);
        Assert.DoesNotContain("127.0.0.1:3129, which", output);
        Assert.DoesNotContain("anyone who can reach it", output); // authentication is required, so not an open proxy
    }

    [Fact]
    public void The_embedded_default_is_valid_and_without_warnings()
    {
        var output = new StringWriter();
        Assert.Equal(0, CheckCommand.Run(null, output, new StringWriter()));
        Assert.Contains("embedded default: valid", output.ToString());
        Assert.Contains("public-web (allow, line", output.ToString());
        Assert.DoesNotContain("warning", output.ToString());
    }
    private const string UserVariable = "SLUICE_TEST_CHECK_CORP_USER";

    private static string Parents(string credentials) => $$"""
        listeners: [{ address: 127.0.0.1:3128 }]
        upstreams:
          - name: corp
            proxies: ["http://proxy-a.corp:3128", "https://proxy-b.corp:3129"]
            credentials: {{credentials}}
          - name: lab
            proxies: ["http://10.0.0.5:3128", "http://127.0.0.1:3128"]
            balance: hash-destination
            checkDestinations: parent
        rules:
          - { name: saas, action: allow, destinations: [".example-saas.com"], via: corp }
          - { name: lab, action: allow, destinations: [".lab.test"], via: lab }
          - { name: web, action: allow, destinations: [".example.net"] }
        route: { default: corp }
        """;

    [Fact]
    public void Upstreams_are_summarised_and_a_variable_not_set_here_is_a_warning_naming_it()
    {
        File.WriteAllText(Path.Combine(_dir, "corp-password"), "s3cret-Zq9\n");
        string? before = Environment.GetEnvironmentVariable(UserVariable);
        Environment.SetEnvironmentVariable(UserVariable, null);
        try
        {
            (int exit, string output, string errors) = Check(Parents($"{{ userEnv: {UserVariable}, passwordFile: corp-password }}"));
            Assert.Equal(0, exit);
            Assert.Equal("", errors);
            GoldenFile.AssertMatches("check-parents", output.Replace(Path.Combine(_dir, "sluice.yaml"), "sluice.yaml", StringComparison.Ordinal).Replace(_dir, "/etc/sluice", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable(UserVariable, before);
        }
    }

    [Fact]
    public void Secrets_that_can_be_read_give_no_warning_and_are_never_printed()
    {
        File.WriteAllText(Path.Combine(_dir, "corp-password"), "s3cret-Zq9\n");
        string? before = Environment.GetEnvironmentVariable(UserVariable);
        Environment.SetEnvironmentVariable(UserVariable, "etl-Zq9");
        try
        {
            (int exit, string output, string errors) = Check(Parents($"{{ userEnv: {UserVariable}, passwordFile: corp-password }}"));
            Assert.Equal(0, exit);
            Assert.DoesNotContain(UserVariable + " is", output);
            Assert.Contains($"credentials: user from the environment variable {UserVariable}, password from the file", output);
            Assert.DoesNotContain("Zq9", output + errors);
        }
        finally
        {
            Environment.SetEnvironmentVariable(UserVariable, before);
        }
    }

    [Fact]
    public void A_secret_file_that_cannot_be_used_is_an_error_with_its_place_and_exit_1()
    {
        File.WriteAllText(Path.Combine(_dir, "corp-password"), "");
        (int exit, string output, string errors) = Check(Parents("{ user: etl, passwordFile: corp-password }"));
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"sluice: sluice.yaml:5:45: upstreams[0].credentials.passwordFile: {Path.Combine(_dir, "corp-password")} is empty\n", errors.Replace("\r\n", "\n", StringComparison.Ordinal));
    }
}
