using Sluice.Cli.Commands;

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
}
