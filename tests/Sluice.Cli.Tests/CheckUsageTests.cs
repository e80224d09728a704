using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sluice.Cli.Commands;
using Sluice.Policy.Config;
using Sluice.Proxy;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// <c>sluice check --usage URL</c> against a real proxy started here (loopback only, names through a loopback map):
/// after known traffic, the rules never hit are listed in order, every rule's hits and would-denies are the proxy's,
/// a token is required when the endpoint has one and never printed, and an endpoint that cannot be read is exit 3.
/// </summary>
public sealed class CheckUsageTests : IAsyncLifetime
{
    private const string Token = "a-long-random-admin-token-0123";

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-usage-").FullName;
    private TestOrigin _origin = null!;
    private ProxyServer _open = null!;
    private ProxyServer _guarded = null!;
    private string _openUrl = "";
    private string _guardedUrl = "";
    private string _openFile = "";

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        var resolver = new MapResolver().Map("used.test", IPAddress.Loopback).Map("trial.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
        (_open, _openUrl, _openFile) = await StartAsync("open", null, resolver);
        (_guarded, _guardedUrl, _) = await StartAsync("guarded", Token, resolver);
    }

    private async Task<(ProxyServer Server, string Url, string File)> StartAsync(string name, string? token, MapResolver resolver)
    {
        int port = Ports.Free();
        int admin = Ports.Free();
        string file = Path.Combine(_dir, $"{name}.yaml");
        File.WriteAllLines(file,
        [
            "listeners:",
            $"  - address: 127.0.0.1:{port}",
            "admin:",
            $"  address: 127.0.0.1:{admin}",
            token is null ? "  # no token" : $"  token: {token}",
            "addresses:",
            "  allow: [127.0.0.0/8]",
            "log:",
            "  access: off",
            "rules:",
            "  - { name: no-secret, action: deny, destinations: [secret.test] }",
            "  - { name: used, action: allow, destinations: [used.test] }",
            "  - { name: trial, action: report, destinations: [trial.test] }",
            "  - { name: allowed-trial, action: allow, destinations: [trial.test, spare.test] }",
            "  - { name: idle, action: allow, destinations: [idle.test] }",
            "default: deny",
        ]);
        var server = new ProxyServer(ConfigLoader.LoadFile(file), new ProxyServerOptions
        {
            Resolver = resolver,
            AccessLogOutput = new LogCapture(),
            LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
        });
        await server.StartAsync();

        // Known traffic: used twice, trial once (a would-deny), the default once; no-secret, allowed-trial and idle never.
        foreach ((string host, int expected) in new[] { ("used.test", 200), ("used.test", 200), ("trial.test", 200), ("other.test", 403) })
        {
            Assert.Equal(expected, await ConnectAsync(port, $"{host}:{_origin.Port}"));
        }

        return (server, $"http://127.0.0.1:{admin}", file);
    }

    public async Task DisposeAsync()
    {
        await _open.DisposeAsync();
        await _guarded.DisposeAsync();
        await _origin.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    // A CONNECT through the proxy: its status.
    private static async Task<int> ConnectAsync(int proxyPort, string authority)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, proxyPort));
        using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string status = await reader.ReadLineAsync(timeout.Token) ?? throw new Xunit.Sdk.XunitException($"no answer to CONNECT {authority}");
        return int.Parse(status.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<(int Exit, string Output, string Errors)> UsageAsync(string url, string? token = null, bool json = false, FileInfo? file = null)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = await CheckCommand.RunUsageAsync(file, url, token, json, output, errors, TimeSpan.FromSeconds(10), CancellationToken.None);
        return (exit, output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal), errors.ToString());
    }

    [Fact]
    public async Task The_rules_never_hit_are_listed_in_order_with_their_lines_and_every_rule_has_its_figures()
    {
        (int exit, string output, string errors) = await UsageAsync(_openUrl);
        Assert.True(exit == 0, $"exit {exit}: {errors}");
        Assert.Contains($"rule usage: {_openUrl}/api/rules\n", output, StringComparison.Ordinal);
        Assert.Contains("mode:     enforce\n", output, StringComparison.Ordinal);
        Assert.Contains("since:    ", output, StringComparison.Ordinal);
        Assert.Contains("never hit: 3 of 5 rules, in order:\n  line 11: no-secret (deny)\n  line 14: allowed-trial (allow)\n  line 15: idle (allow)\n", output, StringComparison.Ordinal);
        string[] table = [.. output.Split('\n').SkipWhile(l => !l.TrimStart().StartsWith("# ", StringComparison.Ordinal)).Where(l => l.Length > 0)];
        Assert.Equal(7, table.Length);
        Assert.Matches(@"^\s+#\s+rule\s+action\s+line\s+hits\s+would-deny\s+last hit$", table[0]);
        Assert.Matches(@"^\s+1\s+no-secret\s+deny\s+11\s+0\s+0\s+never$", table[1]);
        Assert.Matches(@"^\s+2\s+used\s+allow\s+12\s+2\s+0\s+\d{4}-\d\d-\d\dT[0-9:.]+Z$", table[2]);
        Assert.Matches(@"^\s+3\s+trial\s+report\s+13\s+1\s+1\s+\d{4}-", table[3]);
        Assert.Matches(@"^\s+\(default\)\s+deny\s+-\s+1\s+0\s+\d{4}-", table[6]);
    }

    [Fact]
    public async Task The_json_is_the_same_figures_for_scripts()
    {
        (int exit, string output, string errors) = await UsageAsync(_openUrl + "/", json: true);
        Assert.True(exit == 0, $"exit {exit}: {errors}");
        using JsonDocument document = JsonDocument.Parse(output);
        JsonElement root = document.RootElement;
        Assert.Equal($"{_openUrl}/api/rules", root.GetProperty("endpoint").GetString());
        Assert.Equal("enforce", root.GetProperty("mode").GetString());
        Assert.Equal(1, root.GetProperty("configGeneration").GetInt64());
        Assert.True(DateTimeOffset.Parse(root.GetProperty("since").GetString()!, System.Globalization.CultureInfo.InvariantCulture) <= DateTimeOffset.UtcNow);
        Assert.Equal(["no-secret", "allowed-trial", "idle"], root.GetProperty("neverHit").EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal([11, 14, 15], root.GetProperty("neverHit").EnumerateArray().Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal(["no-secret:0:0", "used:2:0", "trial:1:1", "allowed-trial:0:0", "idle:0:0"],
            root.GetProperty("rules").EnumerateArray().Select(r => $"{r.GetProperty("name").GetString()}:{r.GetProperty("hits").GetInt64()}:{r.GetProperty("wouldDeny").GetInt64()}"));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("rules")[0].GetProperty("lastHit").ValueKind);
        JsonElement byDefault = root.GetProperty("default");
        Assert.Equal(("deny", 1L), (byDefault.GetProperty("action").GetString(), byDefault.GetProperty("hits").GetInt64()));
    }

    [Fact]
    public async Task With_the_config_file_it_is_checked_first_and_rules_not_in_force_are_named()
    {
        string other = Path.Combine(_dir, "edited.yaml");
        File.WriteAllText(other, File.ReadAllText(_openFile).Replace("name: idle,", "name: idle-renamed,", StringComparison.Ordinal));
        (int exit, string output, string errors) = await UsageAsync(_openUrl, file: new FileInfo(other));
        Assert.True(exit == 0, $"exit {exit}: {errors}");
        Assert.Contains("edited.yaml: valid", output, StringComparison.Ordinal);
        Assert.Contains("never hit: 3 of 5 rules", output, StringComparison.Ordinal);
        Assert.Contains("runs other rules than the file checked; not in force there: idle-renamed; in force there but not in the file: idle", errors, StringComparison.Ordinal);

        string broken = Path.Combine(_dir, "broken.yaml");
        File.WriteAllText(broken, "rules: [{ name: a, action: maybe }]\n");
        (exit, output, _) = await UsageAsync(_openUrl, file: new FileInfo(broken));
        Assert.Equal(1, exit);
        Assert.DoesNotContain("rule usage", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_is_required_when_the_endpoint_has_one_and_never_printed()
    {
        (int exit, string output, string errors) = await UsageAsync(_guardedUrl);
        Assert.Equal(3, exit);
        Assert.Equal("", output);
        Assert.Contains("401 Unauthorized: the admin endpoint has a token (admin.token); give it in SLUICE_ADMIN_TOKEN (or --token)", errors, StringComparison.Ordinal);

        (exit, output, errors) = await UsageAsync(_guardedUrl, token: "not-the-token-but-long-enough");
        Assert.Equal(3, exit);
        Assert.Contains("401 Unauthorized: the admin endpoint refused the token given", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-token", output + errors, StringComparison.Ordinal);

        foreach (bool json in new[] { false, true })
        {
            (exit, output, errors) = await UsageAsync(_guardedUrl, token: Token, json: json);
            Assert.True(exit == 0, $"exit {exit}: {errors}");
            Assert.Contains("no-secret", output, StringComparison.Ordinal);
            Assert.DoesNotContain(Token, output + errors, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_executable_reads_the_token_from_the_environment()
    {
        using SluiceProcess check = SluiceProcess.StartWithEnvironment(new Dictionary<string, string> { ["SLUICE_ADMIN_TOKEN"] = Token }, "check", "--usage", _guardedUrl, "--json");
        int exit = await check.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"exit {exit}: {string.Join("\n", check.Stderr)}");
        using JsonDocument document = JsonDocument.Parse(string.Join("\n", check.Stdout));
        Assert.Equal(5, document.RootElement.GetProperty("rules").GetArrayLength());
        Assert.DoesNotContain(Token, string.Join("\n", check.Stdout.Concat(check.Stderr)), StringComparison.Ordinal);

        using SluiceProcess misused = SluiceProcess.Start("check", "--json");
        Assert.Equal(2, await misused.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(misused.Stderr, l => l.Contains("--json and --token go with --usage URL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_endpoint_that_cannot_be_read_is_a_clear_error_and_exit_3()
    {
        (int exit, string output, string errors) = await UsageAsync($"http://127.0.0.1:{Ports.Free()}");
        Assert.Equal(3, exit);
        Assert.Equal("", output);
        Assert.Contains("/api/rules: cannot reach the admin endpoint: ", errors, StringComparison.Ordinal);

        // Something answers, but not with the rule usage: the origin (404), and a server answering plain text.
        (exit, _, errors) = await UsageAsync($"http://127.0.0.1:{_origin.Port}");
        Assert.Equal(3, exit);
        Assert.Contains("404 Not Found: no rule usage here", errors, StringComparison.Ordinal);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task answer = Task.Run(async () =>
        {
            using TcpClient client = await listener.AcceptTcpClientAsync();
            NetworkStream stream = client.GetStream();
            byte[] buffer = new byte[4096];
            _ = await stream.ReadAsync(buffer);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"u8.ToArray());
        });
        (exit, _, errors) = await UsageAsync($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        await answer;
        Assert.Equal(3, exit);
        Assert.Contains("the answer is not Sluice's rule usage JSON", errors, StringComparison.Ordinal);

        (exit, _, errors) = await UsageAsync("ftp://127.0.0.1:9090");
        Assert.Equal(2, exit);
        Assert.Contains("is not an http:// or https:// URL of the admin endpoint", errors, StringComparison.Ordinal);
    }
}
