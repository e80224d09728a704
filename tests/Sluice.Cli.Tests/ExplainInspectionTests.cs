using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Sluice.Cli.Commands;

namespace Sluice.Cli.Tests;

/// <summary>
/// <c>sluice explain</c> with <c>tls.inspection</c>: the CONNECT, the TLS handling and why, and for an inspected tunnel
/// the request inside with its own rules and the status a client gets in the tunnel. Nothing is resolved (--no-resolve)
/// and nothing is connected to; the CA is made here, in a temporary folder.
/// </summary>
public sealed class ExplainInspectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-explain-inspect-").FullName;

    private readonly FileInfo _config;

    public ExplainInspectionTests()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Explain Inspection Test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using X509Certificate2 ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "ca.key"), key.ExportPkcs8PrivateKeyPem());
        _config = new FileInfo(Path.Combine(_dir, "sluice.yaml"));
        File.WriteAllText(_config.FullName, $$"""
            name: sluice-explain
            listeners: [{ address: 127.0.0.1:3128 }]
            tls:
              inspection:
                ca: {{Path.Combine(_dir, "ca.crt")}}
                key: {{Path.Combine(_dir, "ca.key")}}
                neverInspect: [".bank.test"]
            rules:
              - { name: no-secrets, action: deny, destinations: [code.test], paths: ["/our-org/secrets"] }
              - { name: our-org, action: allow, destinations: [code.test], tls: inspect, paths: ["/our-org/*"] }
              - { name: store-reads, action: allow, destinations: [store.test], tls: inspect, methods: [GET, HEAD] }
              - { name: bank-login, action: allow, destinations: [pay.bank.test], tls: inspect, paths: ["/login"] }
              - { name: bank, action: allow, destinations: [open.bank.test], tls: inspect }
              - { name: plain, action: allow, destinations: [plain.test] }
              - { name: guide, action: allow, destinations: [docs.test], paths: ["/guide"] }
            default: deny
            """);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task An_inspected_tunnel_is_explained_twice_the_connect_then_the_request_inside()
    {
        (int exit, string[] lines) = await ExplainAsync("https://code.test/our-org/sluice");
        Assert.Equal(0, exit);
        Assert.Equal(
        [
            "request:  CONNECT code.test:443 (tunnel) from 127.0.0.1",
            "rule 1:   no-secrets (deny, line 9): a CONNECT shows no path and this rule names paths",
            "rule 2:   our-org (allow, line 10): MATCHES",
            "decision: allow: rule our-org allows CONNECT code.test:443",
            "route:    direct",
            "tls:      inspected: rule our-org says tls: inspect",
            "address:  not resolved (--no-resolve): the address guard decides after resolution",
            "result:   200 Connection established: once the origin's certificate checks out (else 502), the proxy opens the tunnel and shows the client a certificate from the inspection CA",
            "inside:   GET /our-org/sluice (https) in the tunnel to code.test:443",
            "  path:     /our-org/sluice",
            "  rule 1:   no-secrets (deny, line 9): path /our-org/sluice is not in paths",
            "  rule 2:   our-org (allow, line 10): MATCHES",
            "  decision: allow: rule our-org allows GET code.test:443",
            "  result:   forwarded over the tunnel's TLS connection to the origin: the client gets the origin's response",
        ], lines);
    }

    [Theory]
    [InlineData("https://code.test/other", "  decision: deny: no rule matched GET code.test:443; the default is deny")]
    [InlineData("https://code.test/our-org/secrets", "  decision: deny: rule no-secrets denies GET code.test:443")]
    [InlineData("https://code.test/our-org/x/%2e%2e/secrets", "  path:     /our-org/secrets (read from /our-org/x/%2e%2e/secrets)")]
    [InlineData("wss://code.test/elsewhere", "inside:   GET /elsewhere (https) in the tunnel to code.test:443")]
    public async Task A_request_refused_inside_is_a_403_in_the_tunnel_and_exit_1(string url, string line)
    {
        (int exit, string[] lines) = await ExplainAsync(url);
        Assert.Equal(1, exit);
        Assert.Contains("decision: allow: rule our-org allows CONNECT code.test:443", lines);
        Assert.Contains(line, lines);
        Assert.Equal("  result:   403 Forbidden (Proxy-Status error=http_request_denied), inside the tunnel, which stays open", lines[^1]);
    }

    [Theory]
    [InlineData("GET", 0, "  rule 3:   store-reads (allow, line 11): MATCHES")]
    [InlineData("HEAD", 0, "  rule 3:   store-reads (allow, line 11): MATCHES")]
    [InlineData("POST", 1, "  rule 3:   store-reads (allow, line 11): method POST is not in methods")]
    [InlineData("get", 1, "  rule 3:   store-reads (allow, line 11): method get is not in methods")]
    public async Task Methods_decide_the_request_inside_not_the_connect(string method, int expectedExit, string line)
    {
        (int exit, string[] lines) = await ExplainAsync("https://store.test/items", method);
        Assert.Equal(expectedExit, exit);
        Assert.Contains("rule 3:   store-reads (allow, line 11): MATCHES", lines); // the CONNECT: connection keys only
        Assert.Contains($"inside:   {method} /items (https) in the tunnel to store.test:443", lines);
        Assert.Contains(line, lines);
    }

    [Fact]
    public async Task A_path_inside_that_does_not_normalise_is_a_400_in_the_tunnel()
    {
        (int exit, string[] lines) = await ExplainAsync("https://code.test/our-org/%zz");
        Assert.Equal(1, exit);
        Assert.Equal("inside:   GET /our-org/%zz (https) in the tunnel to code.test:443", lines[^2]);
        Assert.StartsWith("  result:   400 Bad Request (Proxy-Status error=http_request_error): the path has a '%'", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_never_inspected_destination_is_a_plain_tunnel_so_a_path_rule_cannot_open_it()
    {
        (int exit, string[] lines) = await ExplainAsync("https://pay.bank.test/login");
        Assert.Equal(1, exit);
        Assert.Contains("rule 4:   bank-login (allow, line 12): the destination is never inspected, so its paths cannot be seen", lines);
        Assert.Contains("tls:      never inspected: tls.inspection.neverInspect lists it; rules with paths or methods cannot match its CONNECT", lines);
        Assert.Equal("result:   403 Forbidden (Proxy-Status error=http_request_denied)", lines[^1]);
        Assert.DoesNotContain(lines, l => l.StartsWith("inside:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("https://open.bank.test/", "tls:      never inspected: tls.inspection.neverInspect lists it; tunnelled untouched by rule bank")]
    [InlineData("https://plain.test/anything", "tls:      tunnelled untouched by rule plain")]
    public async Task A_tunnel_left_untouched_says_why_and_explains_nothing_inside(string url, string line)
    {
        (int exit, string[] lines) = await ExplainAsync(url);
        Assert.Equal(0, exit);
        Assert.Contains(line, lines);
        Assert.Contains("route:    direct", lines);
        Assert.Equal("result:   200 Connection established: the proxy opens the tunnel", lines[^1]);
    }

    [Theory]
    [InlineData("code.test:443", "inside:   give the URL (https://host/path, and -X) to explain a request inside the tunnel")]
    [InlineData("ws://code.test/chat", "inside:   a ws:// client speaks plain HTTP in its tunnel, but the proxy speaks TLS in an inspected one: the origin's TLS handshake fails (502); use wss://")]
    public async Task An_inspected_connect_without_an_https_url_says_what_is_missing(string target, string line)
    {
        (int exit, string[] lines) = await ExplainAsync(target);
        Assert.Equal(0, exit);
        Assert.Contains("tls:      inspected: rule our-org says tls: inspect", lines);
        Assert.Equal(line, lines[^1]);
    }

    [Theory]
    [InlineData("http://docs.test/guide/intro", 0, "path:     /guide/intro", "rule 7:   guide (allow, line 15): MATCHES")]
    [InlineData("http://docs.test/guide/%2e%2e/admin", 1, "path:     /admin (read from /guide/%2e%2e/admin)", "rule 7:   guide (allow, line 15): path /admin is not in paths")]
    [InlineData("http://code.test/our-org/x?q=1", 0, "path:     /our-org/x", "rule 2:   our-org (allow, line 10): MATCHES")]
    public async Task Http_urls_are_matched_on_their_normalised_path(string url, int expectedExit, string pathLine, string ruleLine)
    {
        (int exit, string[] lines) = await ExplainAsync(url);
        Assert.Equal(expectedExit, exit);
        Assert.Equal(pathLine, lines[1]);
        Assert.Contains(ruleLine, lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("tls:", StringComparison.Ordinal) || l.StartsWith("inside:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://docs.test/guide/%zz", "", "sluice explain: the proxy answers 400 to this URL: the path has a '%'")]
    [InlineData("https://code.test/our-org/x", "CONNECT", "sluice explain: -X CONNECT: the proxy answers 400 to a CONNECT inside a tunnel")]
    [InlineData("https://code.test/our-org/x", "G T", "sluice explain: 'G T' is not an HTTP method")]
    public async Task Targets_the_proxy_answers_400_before_any_decision_are_usage_errors(string url, string method, string message)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(url, "127.0.0.1", null, method.Length == 0 ? null : method, [], NoResolve: true);
        Assert.Equal(2, await ExplainCommand.RunAsync(_config, request, json: false, output, errors, CancellationToken.None));
        Assert.StartsWith(message, errors.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task The_json_has_the_tls_handling_and_the_request_inside()
    {
        var output = new StringWriter();
        var request = new ExplainCommand.ExplainRequest("https://code.test/our-org/secrets", "127.0.0.1", null, "POST", [], NoResolve: true);
        Assert.Equal(1, await ExplainCommand.RunAsync(_config, request, json: true, output, new StringWriter(), CancellationToken.None));
        using JsonDocument document = JsonDocument.Parse(output.ToString());
        JsonElement root = document.RootElement;
        Assert.Equal("inspect", root.GetProperty("tls").GetString());
        Assert.Equal("inspected: rule our-org says tls: inspect", root.GetProperty("tlsReason").GetString());
        Assert.False(root.GetProperty("neverInspected").GetBoolean());
        Assert.False(root.GetProperty("refused").GetBoolean());
        Assert.Equal(200, root.GetProperty("status").GetInt32());
        JsonElement inside = root.GetProperty("inside");
        Assert.Equal("POST", inside.GetProperty("method").GetString());
        Assert.Equal("https", inside.GetProperty("scheme").GetString());
        Assert.Equal("/our-org/secrets", inside.GetProperty("path").GetString());
        Assert.Equal("no-secrets", inside.GetProperty("rule").GetString());
        Assert.True(inside.GetProperty("refused").GetBoolean());
        Assert.Equal(403, inside.GetProperty("status").GetInt32());
        Assert.Equal("http_request_denied", inside.GetProperty("proxyStatus").GetString());
        Assert.Equal(["no-secrets"], inside.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("name").GetString()));

        var never = new StringWriter();
        request = new ExplainCommand.ExplainRequest("https://open.bank.test/", "127.0.0.1", null, null, [], NoResolve: true);
        Assert.Equal(0, await ExplainCommand.RunAsync(_config, request, json: true, never, new StringWriter(), CancellationToken.None));
        using JsonDocument tunnelled = JsonDocument.Parse(never.ToString());
        Assert.Equal("tunnel", tunnelled.RootElement.GetProperty("tls").GetString());
        Assert.True(tunnelled.RootElement.GetProperty("neverInspected").GetBoolean());
        Assert.False(tunnelled.RootElement.TryGetProperty("inside", out _));
    }

    private async Task<(int Exit, string[] Lines)> ExplainAsync(string target, string? method = null)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(target, "127.0.0.1", null, method, [], NoResolve: true);
        int exit = await ExplainCommand.RunAsync(_config, request, json: false, output, errors, CancellationToken.None);
        Assert.Equal("", errors.ToString());
        return (exit, output.ToString().TrimEnd('\n').Split('\n'));
    }
}
