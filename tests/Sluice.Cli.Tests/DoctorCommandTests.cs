using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sluice.Cli.Commands;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

public sealed class DoctorCommandTests : IDisposable
{
    private const string PolicyHint = "the proxy's policy refuses this destination: ask for it to be allowed, or add it to excludedDomains if it must go direct";

    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    internal static async Task<(int Exit, string Output, string Errors)> Doctor(DoctorCommand.DoctorRequest request, Dictionary<string, string>? environment = null, string stdin = "")
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var io = new DoctorCommand.DoctorIo(output, errors)
        {
            Environment = name => environment?.GetValueOrDefault(name), // never the test process's own proxy variables
            Input = new StringReader(stdin),
        };
        int exit = await DoctorCommand.RunAsync(request, io, CancellationToken.None);
        return (exit, output.ToString(), errors.ToString());
    }

    private static SluiceConfig Rules(SluiceConfig c, string yaml) =>
        c with { Rules = ConfigLoader.Parse(yaml, "t.yaml").Rules, Default = RuleAction.Deny };

    private string File(string name, string text)
    {
        string path = Path.Combine(_pki.Directory, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private static string Row(string output, string target) =>
        output.Split('\n').Single(l => l.StartsWith(target + " ", StringComparison.Ordinal));

    [Fact]
    public async Task The_table_has_a_row_per_target_with_status_proxy_status_and_a_hint_for_each_failure()
    {
        await using var origin = PkiOrigin.Start(_pki);
        int closed = ClosedPort();
        await using var proxy = await TestProxy.StartAsync(c => Rules(c, """
            rules:
              - name: local
                action: allow
                destinations: ["localhost", "closed.test"]
            """));
        proxy.Resolver.Map("localhost", IPAddress.Loopback).Map("closed.test", IPAddress.Loopback);

        (int exit, string output, string errors) = await Doctor(new([$"localhost:{origin.Port}", "https://denied.test", $"closed.test:{closed}"])
        {
            Proxy = proxy.Uri.ToString(),
            Ca = _pki.CaPath,
        });

        Assert.Equal(1, exit);
        Assert.Equal("", errors);
        string[] lines = output.Split('\n');
        string header = lines.Single(l => l.StartsWith("TARGET", StringComparison.Ordinal));
        Assert.Equal(["TARGET", "PROXY", "PROXY TLS", "AUTH", "CONNECT", "ORIGIN TLS", "INTERCEPTION", "TIMES", "RESULT"],
            header.Split("  ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        string allowed = Row(output, $"localhost:{origin.Port}");
        Assert.Equal(header.IndexOf("CONNECT", StringComparison.Ordinal), allowed.IndexOf("200", StringComparison.Ordinal)); // aligned columns
        Assert.Contains("ok (Sluice Test CA)", allowed);
        Assert.Contains("trusted via --ca", allowed);
        Assert.Matches(@"tcp \d+\.\dms, connect \d+\.\dms, origin \d+\.\dms", allowed);
        Assert.EndsWith("ok", allowed.TrimEnd(), StringComparison.Ordinal);

        string denied = Row(output, "denied.test:443");
        Assert.Contains("403 http_request_denied", denied);
        Assert.EndsWith("FAIL", denied.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains($"denied.test:443: 403 Forbidden (http_request_denied", output);
        Assert.Contains($"  hint: {PolicyHint}", output);

        Assert.Contains("502 connection_refused", Row(output, $"closed.test:{closed}"));
        Assert.Contains("hint: nothing listens on that port at the destination", output);
        Assert.Contains("3 targets: 1 passed, 2 failed", output);
    }

    [Fact]
    public async Task Every_check_passing_exits_0()
    {
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("localhost", IPAddress.Loopback);

        (int exit, string output, _) = await Doctor(new([$"https://localhost:{origin.Port}/health"]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath });

        Assert.Equal(0, exit);
        Assert.Contains("1 target: 1 passed, 0 failed", output);
        Assert.DoesNotContain("hint:", output);
    }

    [Fact]
    public async Task Json_reports_interception_phases_and_hints_and_the_exit_code_says_a_check_failed()
    {
        await using var intercepted = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("secure.test", IPAddress.Loopback).Map("localhost", IPAddress.Loopback);

        (int exit, string output, _) = await Doctor(new([$"localhost:{origin.Port}", $"secure.test:{intercepted.Port}"])
        {
            Proxy = proxy.Uri.ToString(),
            Ca = _pki.CaPath,
            Json = true,
        });

        Assert.Equal(1, exit);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement root = json.RootElement;
        Assert.False(root.GetProperty("passed").GetBoolean());
        Assert.Equal(proxy.Uri.ToString().TrimEnd('/'), root.GetProperty("proxy").GetString());
        JsonElement[] targets = [.. root.GetProperty("targets").EnumerateArray()];
        Assert.Equal(2, targets.Length);

        JsonElement trusted = targets[0];
        Assert.True(trusted.GetProperty("passed").GetBoolean());
        Assert.Equal("trusted-via-ca", trusted.GetProperty("interception").GetString());
        Assert.Equal("extra-ca", trusted.GetProperty("originCertificate").GetProperty("trust").GetString());
        Assert.Equal(200, trusted.GetProperty("connect").GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, trusted.GetProperty("hint").ValueKind);
        string[] phases = [.. trusted.GetProperty("phases").EnumerateArray().Select(p => $"{p.GetProperty("phase").GetString()}={p.GetProperty("outcome").GetString()}")];
        Assert.Equal(["proxyConnect=passed", "proxyTls=not-applicable", "proxyAuth=passed", "connect=passed", "originTls=passed"], phases);
        Assert.True(trusted.GetProperty("phases")[0].GetProperty("ms").GetDouble() >= 0);

        JsonElement bad = targets[1];
        Assert.Equal("secure.test:" + intercepted.Port, bad.GetProperty("target").GetString());
        Assert.False(bad.GetProperty("passed").GetBoolean());
        Assert.Equal("intercepted", bad.GetProperty("interception").GetString());
        Assert.Equal("secure.test", bad.GetProperty("originCertificate").GetProperty("issuerName").GetString());
        Assert.Equal("untrusted", bad.GetProperty("originCertificate").GetProperty("trust").GetString());
        Assert.StartsWith("TLS INTERCEPTION", bad.GetProperty("failure").GetString(), StringComparison.Ordinal);
        Assert.Equal("a TLS-inspecting proxy: trust its CA with --ca, or exclude this destination", bad.GetProperty("hint").GetString());
    }

    [Fact]
    public async Task A_denied_destination_in_json_carries_status_proxy_status_and_hint()
    {
        await using var proxy = await TestProxy.StartAsync(c => Rules(c, """
            rules:
              - name: vendor
                action: allow
                destinations: ["allowed.test"]
            """));

        (int exit, string output, _) = await Doctor(new(["denied.test:443"]) { Proxy = proxy.Uri.ToString(), Json = true });

        Assert.Equal(1, exit);
        JsonElement target = JsonDocument.Parse(output).RootElement.GetProperty("targets")[0];
        JsonElement connect = target.GetProperty("connect");
        Assert.Equal(403, connect.GetProperty("status").GetInt32());
        Assert.Equal("http_request_denied", connect.GetProperty("error").GetString());
        Assert.StartsWith("sluice-test; error=http_request_denied", connect.GetProperty("proxyStatus").GetString(), StringComparison.Ordinal);
        Assert.Equal(PolicyHint, target.GetProperty("hint").GetString());
        Assert.Equal(JsonValueKind.Null, target.GetProperty("originCertificate").ValueKind);
    }

    [Fact]
    public async Task A_proxy_that_requires_authentication_fails_without_user_and_passes_with_it()
    {
        string users = File("users.htpasswd", $"alice:{Sluice.Proxy.Auth.PasswordHashes.HashBcrypt("s3cret", 5)}\n");
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync(c => c with { Auth = new AuthConfig { Basic = new BasicAuthConfig { UsersFile = users, Realm = "egress" } } });
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        string[] target = [$"localhost:{origin.Port}"];

        (int anonymousExit, string anonymous, _) = await Doctor(new(target) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath });
        (int envExit, string viaEnvironment, _) = await Doctor(new(target) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, User = "alice" },
            new() { ["SLUICE_PROXY_PASSWORD"] = "s3cret" });
        (int stdinExit, _, _) = await Doctor(new(target) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, User = "alice", PasswordStdin = true }, stdin: "s3cret\n");
        (int wrongExit, string wrong, _) = await Doctor(new(target) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, User = "alice" },
            new() { ["SLUICE_PROXY_PASSWORD"] = "nope" });

        Assert.Equal(1, anonymousExit);
        Assert.Contains("407 realm=egress", Row(anonymous, target[0]));
        Assert.Contains("hint: pass --user", anonymous);

        Assert.Equal(0, envExit);
        Assert.Contains("200", Row(viaEnvironment, target[0]));
        Assert.Equal(0, stdinExit);

        Assert.Equal(1, wrongExit);
        Assert.Contains("rejected", Row(wrong, target[0]));
        Assert.Contains("hint: the proxy refused these credentials", wrong);
    }

    [Fact]
    public async Task An_https_proxy_passes_with_its_ca_and_fails_without_with_the_ca_hint()
    {
        (string certificate, string key, _) = _pki.Server();
        await using var origin = PkiOrigin.Start(_pki);
        await using var proxy = await TestProxy.StartAsync(c => c with
        {
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = certificate, Key = key } }],
        });
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        string[] target = [$"localhost:{origin.Port}"];

        (int trustedExit, string trusted, _) = await Doctor(new(target) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath });
        (int untrustedExit, string untrusted, _) = await Doctor(new(target) { Proxy = proxy.Uri.ToString() });

        Assert.Equal(0, trustedExit);
        Assert.StartsWith("proxy: https://127.0.0.1:", trusted, StringComparison.Ordinal);
        Assert.Contains("ok (Sluice Test CA)", Row(trusted, target[0]));
        Assert.Matches(@"tcp \d+\.\dms, tls \d+\.\dms, connect", Row(trusted, target[0]));

        Assert.Equal(1, untrustedExit);
        Assert.Contains("untrusted (Sluice Test CA)", Row(untrusted, target[0]));
        Assert.Contains("hint: trust the proxy's CA with --ca", untrusted);
    }

    [Fact]
    public async Task Through_an_https_proxy_a_service_without_https_proxy_support_gets_the_exclusion_hint()
    {
        (string certificate, string key, _) = _pki.Server();
        await using var proxy = await TestProxy.StartAsync(c => c with
        {
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = certificate, Key = key } }],
        });

        // The proxy's resolver knows no such name: nothing is ever looked up for real.
        (int exit, string output, _) = await Doctor(new(["acme.snowflakecomputing.com:443"]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath });

        Assert.Equal(1, exit);
        Assert.Contains("hint: add snowflakecomputing.com to excludedDomains: that service does not support HTTPS proxies", output);
    }

    [Fact]
    public async Task Targets_come_from_a_file_and_from_the_exact_names_of_a_policy_with_notes_for_what_is_skipped()
    {
        await using var origin = PkiOrigin.Start(_pki);
        string policy = File("sluice.yaml", $"""
            rules:
              - name: deny-internal
                action: deny
                destinations: ["secret.test"]
              - name: local
                action: allow
                destinations: ["localhost", "*.wild.test", ".suffix.test"]
                ports: [{origin.Port}]
            """);
        await using var proxy = await TestProxy.StartAsync(c => c with { Rules = ConfigLoader.LoadFile(policy).Rules, Default = RuleAction.Deny });
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        string list = File("targets.txt", $"""
            # destinations the vendor needs
            localhost:{origin.Port}   # the same as the policy's: checked once

            denied.test:443
            """);

        (int exit, string output, string errors) = await Doctor(new([]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, TargetsFile = list, FromPolicy = policy, Json = true });

        Assert.Equal(1, exit);
        JsonElement root = JsonDocument.Parse(output).RootElement;
        Assert.Equal([$"localhost:{origin.Port}", "denied.test:443"], root.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("target").GetString()));
        string[] notes = [.. root.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!)];
        Assert.Contains(notes, n => n.Contains("skipped *.wild.test, a wildcard pattern", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("skipped .suffix.test", StringComparison.Ordinal));
        Assert.DoesNotContain(notes, n => n.Contains("secret.test", StringComparison.Ordinal));
        Assert.Contains("note: rule local: skipped *.wild.test", errors);
        // What the policy expects, said before probing, from the same pipeline as the proxy's: both answers agree.
        Assert.Contains(notes, n => n.Contains($"expects localhost:{origin.Port}: 200 (rule local allows CONNECT localhost:{origin.Port})", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("expects denied.test:443: 403 http_request_denied (no rule matched", StringComparison.Ordinal));
        Assert.DoesNotContain("unexpected:", errors, StringComparison.Ordinal);

        (int policyExit, string policyOutput, _) = await Doctor(new([]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, FromPolicy = policy });
        Assert.Equal(0, policyExit);
        Assert.Contains("1 target: 1 passed, 0 failed", policyOutput);
    }

    [Fact]
    public async Task The_policy_expects_its_own_listener_to_be_refused_as_a_destination()
    {
        string policy = File("own.yaml", """
            listeners: [{ address: "127.0.0.1:3128" }]
            addresses: { allow: [127.0.0.0/8] }
            rules: [{ name: any, action: allow }]
            """);
        var notes = new List<string>();
        await DoctorExpectations.DecideAsync(policy, ConfigLoader.LoadFile(policy), [new Sluice.Client.Diagnostics.ProbeTarget("127.0.0.1", 3128, true), new Sluice.Client.Diagnostics.ProbeTarget("127.0.0.1", 3129, true)],
            null, null, IPAddress.Loopback, notes);
        Assert.Contains(notes, n => n.Contains("expects 127.0.0.1:3128: 403 destination_ip_prohibited (127.0.0.1:3128 refused: 127.0.0.1:3128 is this proxy's own listener)", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("expects 127.0.0.1:3129: 200", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_answer_the_policy_does_not_expect_is_named_after_the_probe()
    {
        await using var origin = PkiOrigin.Start(_pki);
        string policy = File("expect.yaml", $"""
            rules:
              - name: local
                action: allow
                destinations: ["localhost"]
                ports: [{origin.Port}]
            """);
        // The running proxy has another policy: it denies what the file allows.
        await using var proxy = await TestProxy.StartAsync(c => c with { Default = RuleAction.Deny });
        proxy.Resolver.Map("localhost", IPAddress.Loopback);

        (int exit, string output, string errors) = await Doctor(new([]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, FromPolicy = policy, Json = true });

        Assert.Equal(1, exit);
        Assert.Contains($"unexpected: localhost:{origin.Port}: the proxy answered 403 (http_request_denied) where {policy} expects 200 (rule local allows", errors, StringComparison.Ordinal);
        string[] notes = [.. JsonDocument.Parse(output).RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!)];
        Assert.Contains(notes, n => n.Contains("the proxy answered 403", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("no-targets")]
    [InlineData("bad-target")]
    [InlineData("no-proxy")]
    [InlineData("bad-proxy")]
    [InlineData("missing-ca")]
    [InlineData("user-without-password")]
    [InlineData("missing-targets-file")]
    [InlineData("invalid-policy")]
    [InlineData("parents-without-policy")]
    public async Task Usage_errors_exit_2_with_a_message(string problem)
    {
        var request = new DoctorCommand.DoctorRequest(["example.test:443"]) { Proxy = "http://127.0.0.1:9" };
        request = problem switch
        {
            "no-targets" => request with { Targets = [] },
            "bad-target" => request with { Targets = ["example.test"] },
            "no-proxy" => request with { Proxy = null },
            "bad-proxy" => request with { Proxy = "ftp://proxy.test" },
            "missing-ca" => request with { Ca = Path.Combine(_pki.Directory, "absent.pem") },
            "user-without-password" => request with { User = "alice" },
            "missing-targets-file" => request with { TargetsFile = Path.Combine(_pki.Directory, "absent.txt") },
            "parents-without-policy" => request with { Parents = true },
            _ => request with { FromPolicy = File("bad.yaml", "rules: [{ name: x, action: maybe }]") },
        };

        (int exit, string output, string errors) = await Doctor(request);

        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.StartsWith("sluice doctor: ", errors, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
