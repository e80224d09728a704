using System.Text.Json;
using Sluice.Cli.Commands;

namespace Sluice.Cli.Tests;

/// <summary>
/// <c>sluice explain</c> and <c>sluice check</c> with a rule that says <c>ftp: passive</c>. Explain runs without a
/// proxy, so without open control tunnels: it says what their permits would do, for the control CONNECT and for a data
/// port only a permit could open. Nothing is resolved (--no-resolve) and nothing is connected to.
/// </summary>
public sealed class ExplainPassivePermitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-explain-ftp-").FullName;
    private readonly FileInfo _config;

    public ExplainPassivePermitTests()
    {
        _config = new FileInfo(Path.Combine(_dir, "sluice.yaml"));
        File.WriteAllText(_config.FullName, """
            name: sluice-explain
            listeners: [{ address: 127.0.0.1:3128 }]
            rules:
              - name: partner-ftp
                action: allow
                destinations: [ftp.partner.example]
                ports: [21]
                ftp: passive
              - { name: web, action: allow, destinations: [www.partner.example], ports: [443] }
            default: deny
            ftp:
              permitLifetime: 10s
            """);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_control_CONNECT_is_allowed_and_its_data_ports_are_permitted_per_control_connection()
    {
        (int exit, string[] lines) = await ExplainAsync("ftp.partner.example:21");
        Assert.Equal(0, exit);
        Assert.Contains("decision: allow: rule partner-ftp allows CONNECT ftp.partner.example:21", lines);
        Assert.Contains("ftp:      passive (rule partner-ftp): data ports are permitted per control connection: each 227/229 reply of the server in this tunnel lets this client make one CONNECT to the port it names, on the address this tunnel goes to", lines);
        Assert.Equal("result:   200 Connection established: the proxy opens the tunnel", lines[^1]);
    }

    [Fact]
    public async Task A_data_port_is_refused_unless_a_control_tunnels_reply_permits_it()
    {
        (int exit, string[] lines) = await ExplainAsync("ftp.partner.example:50021");
        Assert.Equal(1, exit);
        Assert.Contains("decision: deny: no rule matched CONNECT ftp.partner.example:50021; the default is deny", lines);
        Assert.Contains("ftp:      refused unless an open control tunnel of rule partner-ftp from this client was sent this port in its server's 227/229 reply (a one-time passive permit)", lines);
        Assert.Equal("result:   403 Forbidden (Proxy-Status error=http_request_denied)", lines[^1]);
    }

    [Theory]
    [InlineData("www.partner.example:443")]
    [InlineData("www.partner.example:50021")]
    public async Task Other_hosts_say_nothing_about_ftp(string target)
    {
        (_, string[] lines) = await ExplainAsync(target);
        Assert.DoesNotContain(lines, l => l.StartsWith("ftp:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_json_says_it_too()
    {
        var output = new StringWriter();
        var request = new ExplainCommand.ExplainRequest("ftp.partner.example:50021", "127.0.0.1", null, null, [], NoResolve: true);
        Assert.Equal(1, await ExplainCommand.RunAsync(_config, request, json: true, output, new StringWriter(), CancellationToken.None));
        using JsonDocument document = JsonDocument.Parse(output.ToString());
        Assert.StartsWith("refused unless an open control tunnel of rule partner-ftp", document.RootElement.GetProperty("ftp").GetString(), StringComparison.Ordinal);
        Assert.Equal(403, document.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public void Check_shows_the_ftp_key()
    {
        var output = new StringWriter();
        Assert.Equal(0, CheckCommand.Run(_config, output, new StringWriter()));
        Assert.Contains("  1. partner-ftp (allow, line 4): destinations ftp.partner.example; ports 21; ftp passive", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("  2. web (allow, line 9): destinations www.partner.example; ports 443\n", output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    private async Task<(int Exit, string[] Lines)> ExplainAsync(string target)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(target, "127.0.0.1", null, null, [], NoResolve: true);
        int exit = await ExplainCommand.RunAsync(_config, request, json: false, output, errors, CancellationToken.None);
        Assert.Equal("", errors.ToString());
        return (exit, output.ToString().TrimEnd('\n').Split('\n'));
    }
}
