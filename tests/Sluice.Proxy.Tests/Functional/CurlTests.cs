using System.Diagnostics;
using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// curl as an independent client. With a proxy, curl resolves nothing itself: test names reach the proxy, whose
/// map resolver sends them to loopback.
/// </summary>
public sealed class CurlTests : IAsyncLifetime
{
    private const string Curl = "/usr/bin/curl";

    private readonly string _temp = Directory.CreateTempSubdirectory("sluice-curl-").FullName;
    private TestOrigin _origin = null!;
    private TestProxy _proxy = null!;

    private string ProxyArg => $"http://127.0.0.1:{_proxy.Endpoint.Port}";

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        _proxy = await TestProxy.StartAsync();
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
        Directory.Delete(_temp, recursive: true);
    }

    [Fact]
    public async Task Plain_get_through_the_proxy()
    {
        CurlResult r = await RunAsync("-sS", "-i", "-x", ProxyArg, $"http://origin.test:{_origin.Port}/hello");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.StartsWith("HTTP/1.1 200 ", r.Stdout);
        Assert.Contains($"\r\nVia: 1.1 {TestProxy.Name}\r\n", r.Stdout);
        Assert.EndsWith("\r\n\r\nhello from origin", r.Stdout);
    }

    [Fact]
    public async Task Https_through_a_connect_tunnel_verifies_the_origin_certificate()
    {
        await using TestOrigin secure = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        string caFile = Path.Combine(_temp, "origin.pem");
        await File.WriteAllTextAsync(caFile, secure.Certificate!.ExportCertificatePem());

        CurlResult r = await RunAsync("-sS", "-p", "-x", ProxyArg, "--cacert", caFile, $"https://secure.test:{secure.Port}/hello");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Equal("hello from origin", r.Stdout);
        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains($" CONNECT secure.test:{secure.Port} "), "for curl's CONNECT");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
    }

    [Fact]
    public async Task Http_1_0_request_gets_its_response_and_connection_close()
    {
        CurlResult r = await RunAsync("-sS", "-i", "-0", "-x", ProxyArg, $"http://origin.test:{_origin.Port}/hello");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Matches(@"^HTTP/1\.[01] 200 ", r.Stdout);
        Assert.Contains("\r\nConnection: close\r\n", r.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Transfer-Encoding", r.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("\r\n\r\nhello from origin", r.Stdout);
    }

    [Fact]
    public async Task Http_1_0_request_that_fails_gets_connection_close_too()
    {
        // An HTTP/1.0 client without keep-alive expects the connection to end after each response (RFC 9112 §9.3).
        CurlResult r = await RunAsync("-sS", "-i", "-0", "-x", ProxyArg, "http://nowhere.test/");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.StartsWith("HTTP/1.1 502 ", r.Stdout);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=dns_error", r.Stdout);
        Assert.Contains("\r\nConnection: close\r\n", r.Stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Http_1_0_client_gets_a_chunked_origin_response_as_raw_bytes_ended_by_close()
    {
        const int size = 300_000;
        string output = Path.Combine(_temp, "chunked.bin");
        CurlResult r = await RunAsync("-sS", "-0", "-D", "-", "-o", output, "-x", ProxyArg, $"http://origin.test:{_origin.Port}/bytes/{size}?chunked=1");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.DoesNotContain("Transfer-Encoding", r.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nConnection: close\r\n", r.Stdout, StringComparison.OrdinalIgnoreCase);
        byte[] expected = new byte[size];
        TestData.Fill(expected, 0);
        byte[] got = await File.ReadAllBytesAsync(output);
        Assert.Equal(size, got.Length);
        Assert.True(expected.AsSpan().SequenceEqual(got), "the body an HTTP/1.0 client received differs from what the origin sent");
    }

    [Fact]
    public async Task Posting_a_mebibyte_file_echoes_it_back_equal()
    {
        byte[] body = new byte[1024 * 1024];
        TestData.Fill(body, 3);
        string input = Path.Combine(_temp, "upload.bin");
        string output = Path.Combine(_temp, "echoed.bin");
        await File.WriteAllBytesAsync(input, body);

        CurlResult r = await RunAsync("-sS", "-x", ProxyArg, "-H", "Content-Type: application/octet-stream",
            "--data-binary", $"@{input}", "-o", output, $"http://origin.test:{_origin.Port}/echo");

        Assert.True(r.ExitCode == 0, r.Describe());
        byte[] echoed = await File.ReadAllBytesAsync(output);
        Assert.Equal(body.Length, echoed.Length);
        Assert.True(body.AsSpan().SequenceEqual(echoed), "the echoed body differs from the uploaded file");
    }

    [Fact]
    public async Task Errors_show_status_and_proxy_status_to_curl()
    {
        CurlResult dns = await RunAsync("-sS", "-i", "-x", ProxyArg, "http://nowhere.test/");
        Assert.True(dns.ExitCode == 0, dns.Describe());
        Assert.StartsWith("HTTP/1.1 502 ", dns.Stdout);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=dns_error", dns.Stdout);

        await using TestProxy strict = await TestProxy.StartAsync(c => c with { Addresses = new AddressesConfig() });
        CurlResult denied = await RunAsync("-sS", "-i", "-x", $"http://127.0.0.1:{strict.Endpoint.Port}", $"http://127.0.0.1:{_origin.Port}/hello");
        Assert.True(denied.ExitCode == 0, denied.Describe());
        Assert.StartsWith("HTTP/1.1 403 ", denied.Stdout);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=destination_ip_prohibited", denied.Stdout);
        Assert.Equal(0, _origin.Connections);
    }

    [Fact]
    public async Task A_refused_tunnel_shows_curl_the_connect_response()
    {
        // curl exits 56 when CONNECT is not answered with 2xx; with -i it still prints the proxy's response head.
        CurlResult r = await RunAsync("-sS", "-i", "-p", "-x", ProxyArg, "https://nowhere.test/");

        Assert.True(r.ExitCode == 56, r.Describe());
        Assert.Contains("502", r.Stderr);
        Assert.StartsWith("HTTP/1.1 502 ", r.Stdout);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=dns_error", r.Stdout);
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

        foreach (string variable in new[] { "http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "CURL_HOME" })
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
