using System.Diagnostics;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// curl (OpenSSL, its own HTTP/1.1 and HTTP/2 code) as an independent client of inspected tunnels. Through a proxy
/// curl always CONNECTs for https:// and resolves nothing itself: the proxy's map resolver sends the name to loopback.
/// </summary>
public sealed class InspectionCurlTests : IAsyncLifetime
{
    private const string Curl = "/usr/bin/curl";

    private InspectionKit _kit = null!;
    private TestProxy _proxy = null!;

    private string ProxyArg => $"http://127.0.0.1:{_proxy.Endpoint.Port}";

    public async Task InitializeAsync()
    {
        _kit = await InspectionKit.StartAsync();
        _proxy = await _kit.ProxyAsync(
            InspectionKit.Inspect("reads", methods: ["GET", "HEAD"], paths: ["/hello", "/bytes"]),
            InspectionKit.Inspect("echo", methods: ["POST"], paths: ["/echo"]));
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Fact]
    public async Task Curl_trusting_only_the_inspection_ca_gets_the_origin_over_http_1_1_though_it_offers_h2()
    {
        CurlResult r = await RunAsync("-sS", "--proxy", ProxyArg, "--cacert", _kit.CaPath, "-w", "\n%{http_version} %{response_code}", _kit.Url("/hello").ToString());

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Equal("hello from origin\n1.1 200", r.Stdout);
        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for curl's CONNECT");
        Assert.Contains(" NONE_NONE/200 ", line);
        Assert.Contains(_proxy.AccessLog.Lines, l => l.Contains($" TCP_MISS/200 ") && l.Contains($" GET https://{_kit.Authority}/hello "));
    }

    [Fact]
    public async Task Curl_trusting_only_the_origins_ca_refuses_the_minted_leaf()
    {
        CurlResult r = await RunAsync("-sS", "--proxy", ProxyArg, "--cacert", _kit.Origins.CaPath, _kit.Url("/hello").ToString());

        Assert.True(r.ExitCode == 60, r.Describe()); // CURLE_PEER_FAILED_VERIFICATION
        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for the CONNECT curl gave up on");
        Assert.Contains(" NONE_NONE/200 ", line);
        Assert.DoesNotContain(_proxy.AccessLog.Lines, l => l.Contains(" TCP_MISS/"));
    }

    [Fact]
    public async Task Curl_sees_a_refused_method_as_403_with_proxy_status_from_inside_the_tunnel()
    {
        CurlResult r = await RunAsync("-sS", "-i", "--proxy", ProxyArg, "--cacert", _kit.CaPath, "--data-binary", "x=1", _kit.Url("/hello").ToString());

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Contains("HTTP/1.1 403 Forbidden\r\n", r.Stdout);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=http_request_denied", r.Stdout);
    }

    [Fact]
    public async Task Curl_with_path_as_is_cannot_climb_out_of_an_allowed_prefix()
    {
        CurlResult r = await RunAsync("-sS", "--path-as-is", "--proxy", ProxyArg, "--cacert", _kit.CaPath, "-o", "/dev/null", "-w", "%{response_code}",
            $"https://{_kit.Authority}/hello/../headers");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Equal("403", r.Stdout);
        await _proxy.AccessLog.WaitForAsync(l => l.Contains(" TCP_DENIED/403 ") && l.Contains("/hello/../headers "), "for the refused climb");
    }

    [Fact]
    public async Task Curl_uploads_and_downloads_through_inspection_byte_exact()
    {
        string temp = Directory.CreateTempSubdirectory("sluice-inspect-curl-").FullName;
        try
        {
            byte[] body = new byte[3 * 1024 * 1024 + 17];
            TestData.Fill(body, 5);
            string input = Path.Combine(temp, "upload.bin");
            string echoed = Path.Combine(temp, "echoed.bin");
            string downloaded = Path.Combine(temp, "downloaded.bin");
            await File.WriteAllBytesAsync(input, body);

            CurlResult up = await RunAsync("-sS", "--proxy", ProxyArg, "--cacert", _kit.CaPath, "-H", "Content-Type: application/octet-stream",
                "--data-binary", $"@{input}", "-o", echoed, _kit.Url("/echo").ToString());
            Assert.True(up.ExitCode == 0, up.Describe());
            byte[] back = await File.ReadAllBytesAsync(echoed);
            Assert.True(body.AsSpan().SequenceEqual(back), "the echoed body differs from the upload");

            CurlResult down = await RunAsync("-sS", "--proxy", ProxyArg, "--cacert", _kit.CaPath, "-o", downloaded, _kit.Url($"/bytes/{body.Length}?chunked=1").ToString());
            Assert.True(down.ExitCode == 0, down.Describe());
            byte[] expected = new byte[body.Length];
            TestData.Fill(expected, 0);
            byte[] got = await File.ReadAllBytesAsync(downloaded);
            Assert.True(expected.AsSpan().SequenceEqual(got), "the downloaded body differs from what the origin sent");
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    private sealed record CurlResult(int ExitCode, string Stdout, string Stderr, string Command)
    {
        public string Describe() => $"{Command}\nexit code {ExitCode}\nstderr: {Stderr}\nstdout: {Stdout}";
    }

    private static async Task<CurlResult> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Curl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-q"); // ignore any ~/.curlrc
        start.ArgumentList.Add("--max-time");
        start.ArgumentList.Add("60");
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string variable in new[] { "http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "CURL_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE" })
        {
            start.Environment.Remove(variable);
        }

        string command = "curl " + string.Join(' ', start.ArgumentList);
        using Process process = Process.Start(start) ?? throw new Xunit.Sdk.XunitException($"could not start {command}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{command} did not finish within 90 s");
        }

        return new CurlResult(process.ExitCode, await stdout, await stderr, command);
    }
}
