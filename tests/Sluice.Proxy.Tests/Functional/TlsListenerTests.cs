using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// The HTTPS proxy listener ("type: https"): TLS between client and proxy, with everything the plain listener does
/// inside it. Clients trust the test CA for the proxy leg only; the origin's certificate is checked on its own.
/// </summary>
public sealed class TlsListenerTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private static SluiceConfig WithTls(SluiceConfig c, TlsConfig tls) =>
        c with { Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = tls }] };

    private Task<TestProxy> StartAsync(TlsConfig? tls = null)
    {
        (string cert, string key, _) = _pki.Server();
        return TestProxy.StartAsync(c => WithTls(c, tls ?? new TlsConfig { Certificate = cert, Key = key }));
    }

    /// <summary>A handler whose proxy leg trusts only the test CA and whose origin leg trusts only the origin's certificate.</summary>
    private HttpClient Client(TestProxy proxy, TestOrigin? tlsOrigin = null, X509Certificate2? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (certificate is null)
            {
                return false;
            }

            if (tlsOrigin?.Certificate is { } origin && certificate.GetCertHashString() == origin.GetCertHashString())
            {
                return true; // the origin leg: its own self-signed certificate
            }

            using var verify = new X509Chain();
            verify.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            verify.ChainPolicy.CustomTrustStore.Add(_pki.Ca);
            verify.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return verify.Build(new X509Certificate2(certificate));
        };
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    [Fact]
    public async Task HttpClient_with_an_https_proxy_uri_forwards_and_tunnels()
    {
        await using TestOrigin plain = await TestOrigin.StartAsync();
        await using TestOrigin secure = await TestOrigin.StartAsync(tls: true);
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback);
        Assert.Equal("https", proxy.Uri.Scheme);

        using HttpClient http = Client(proxy, secure);
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{plain.Port}/hello"));
        Assert.Equal("hello from origin", await http.GetStringAsync($"https://secure.test:{secure.Port}/hello")); // TLS inside TLS
    }

    [Fact]
    public async Task A_tunnel_inside_tls_carries_64_MiB_byte_exact()
    {
        await using TestOrigin secure = await TestOrigin.StartAsync(tls: true);
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("secure.test", IPAddress.Loopback);
        using HttpClient http = Client(proxy, secure);
        const long size = 64L * 1024 * 1024;
        using HttpResponseMessage response = await http.GetAsync($"https://secure.test:{secure.Port}/bytes/{size}", HttpCompletionOption.ResponseHeadersRead);
        await using Stream body = await response.Content.ReadAsStreamAsync();
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        byte[] buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        Assert.Equal(size, total);
        Assert.Equal(TestData.Sha256(size), Convert.ToHexString(hash.GetHashAndReset()));

        byte[] upload = new byte[8 * 1024 * 1024];
        TestData.Fill(upload, 0);
        using HttpResponseMessage posted = await http.PostAsync($"https://secure.test:{secure.Port}/sha256", new ByteArrayContent(upload));
        Assert.Equal($"{upload.Length} {TestData.Sha256(upload.Length)}", await posted.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WebSocket_goes_through_the_tls_listener()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("ws.test", IPAddress.Loopback);
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(proxy.Uri);
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null && certificate.Issuer == _pki.Ca.Subject;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"ws://ws.test:{origin.Port}/ws"), cts.Token);
        byte[] message = Encoding.UTF8.GetBytes("over tls");
        await socket.SendAsync(message, WebSocketMessageType.Text, true, cts.Token);
        byte[] buffer = new byte[64];
        WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.Equal("over tls", Encoding.UTF8.GetString(buffer, 0, result.Count));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_proxy_ca_fails_with_a_certificate_error_and_the_proxy_logs_one_line()
    {
        await using TestProxy proxy = await StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("http://origin.test/"));
        Assert.True(error.HttpRequestError == HttpRequestError.SecureConnectionError || error.InnerException is System.Security.Authentication.AuthenticationException,
            $"expected a certificate error, got {error}");
    }

    [Fact]
    public async Task A_failed_handshake_is_one_log_line_with_the_client_and_the_reason_and_the_proxy_keeps_serving()
    {
        (string cert, string key, _) = _pki.Server();
        var log = new LogLines();
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithTls(c, new TlsConfig { Certificate = cert, Key = key }), log: log);
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);

        using (RawClient plain = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await plain.SendAsync("GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n"); // plain HTTP to a TLS port
            await plain.ReadToEndAsync();
        }

        string line = await WaitForAsync(log, l => l.Contains("TLS handshake from 127.0.0.1:"));
        Assert.StartsWith("Warning: TLS handshake from 127.0.0.1:", line);
        Assert.Single(log.Lines, l => l.Contains("TLS handshake"));
        Assert.DoesNotContain(log.Lines, l => l.Contains("   at "));

        using HttpClient http = Client(proxy);
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }

    [Fact]
    public async Task An_rsa_key_encrypted_with_a_passphrase_file_loads()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var request = new CertificateRequest("CN=sluice-rsa", rsa, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using System.Security.Cryptography.ECDsa caKey = _pki.Ca.GetECDsaPrivateKey()!;
        using X509Certificate2 issued = request.Create(_pki.Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), [7, 7]);
        string certPath = Path.Combine(_pki.Directory, "rsa.crt");
        string keyPath = Path.Combine(_pki.Directory, "rsa.key");
        string passPath = Path.Combine(_pki.Directory, "rsa.pass");
        File.WriteAllText(certPath, issued.ExportCertificatePem());
        File.WriteAllText(keyPath, rsa.ExportEncryptedPkcs8PrivateKeyPem("from a file", new System.Security.Cryptography.PbeParameters(System.Security.Cryptography.PbeEncryptionAlgorithm.Aes256Cbc, System.Security.Cryptography.HashAlgorithmName.SHA256, 100_000)));
        File.WriteAllText(passPath, "from a file\n");

        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithTls(c, new TlsConfig { Certificate = certPath, Key = keyPath, KeyPassphraseFile = passPath }));
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        using HttpClient http = Client(proxy);
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }

    private static async Task<string> WaitForAsync(LogLines log, Func<string, bool> match)
    {
        for (int i = 0; i < 200; i++)
        {
            if (log.Lines.FirstOrDefault(match) is { } line)
            {
                return line;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException($"no such log line; the log was:\n{string.Join("\n", log.Lines)}");
    }

    [Fact]
    public async Task Curl_trusts_the_proxy_with_proxy_cacert_or_skips_with_proxy_insecure()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        string url = $"http://origin.test:{origin.Port}/hello";
        string proxyUrl = $"https://127.0.0.1:{proxy.Endpoint.Port}";

        (int exit, string output) = await CurlAsync("-sS", "-x", proxyUrl, "--proxy-cacert", _pki.CaPath, url);
        Assert.True(exit == 0, output);
        Assert.Equal("hello from origin", output);

        (exit, output) = await CurlAsync("-sS", "-x", proxyUrl, "--proxy-insecure", url);
        Assert.True(exit == 0, output);

        (exit, output) = await CurlAsync("-sS", "-x", proxyUrl, url);
        Assert.Equal(60, exit); // CURLE_PEER_FAILED_VERIFICATION: the proxy's certificate is not trusted
    }

    [Fact]
    public async Task An_encrypted_key_loads_with_its_passphrase_from_the_environment()
    {
        (string cert, string key, _) = _pki.Server("encrypted", passphrase: "correct horse");
        Environment.SetEnvironmentVariable("SLUICE_TEST_KEY_PASSPHRASE", "correct horse");
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithTls(c, new TlsConfig { Certificate = cert, Key = key, KeyPassphraseEnv = "SLUICE_TEST_KEY_PASSPHRASE" }));
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        using HttpClient http = Client(proxy);
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }

    [Fact]
    public async Task Rotated_certificate_files_are_presented_to_new_handshakes_while_open_tunnels_continue()
    {
        (string cert, string key, X509Certificate2 first) = _pki.Server("rotating", serial: 1);
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithTls(c, new TlsConfig { Certificate = cert, Key = key }));
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);

        (SslStream tunnel, X509Certificate2 seen) = await OpenTlsTunnelAsync(proxy, echo.Port);
        Assert.Equal(first.Thumbprint, seen.Thumbprint);

        (_, _, X509Certificate2 second) = _pki.Server("rotating", serial: 2); // overwrites both files
        File.SetLastWriteTimeUtc(cert, DateTime.UtcNow.AddSeconds(5));
        X509Certificate2? presented = null;
        for (int attempt = 0; attempt < 50 && presented?.Thumbprint != second.Thumbprint; attempt++)
        {
            await Task.Delay(200);
            (SslStream probe, presented) = await OpenTlsTunnelAsync(proxy, echo.Port);
            await probe.DisposeAsync();
        }

        Assert.Equal(second.Thumbprint, presented!.Thumbprint);
        byte[] ping = "still relaying"u8.ToArray();
        await tunnel.WriteAsync(ping);
        byte[] back = new byte[ping.Length];
        await tunnel.ReadExactlyAsync(back);
        Assert.Equal(ping, back);
        await tunnel.DisposeAsync();
    }

    private static async Task<(SslStream, X509Certificate2)> OpenTlsTunnelAsync(TestProxy proxy, int port)
    {
        RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
        X509Certificate2? presented = null;
        var tls = new SslStream(raw.Stream, leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            presented = new X509Certificate2(certificate!);
            return presented.Issuer == "CN=Sluice Test CA"; // which certificate is presented is what this test looks at
        });
        await tls.AuthenticateAsClientAsync("127.0.0.1");
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT echo.test:{port} HTTP/1.1\r\nHost: echo.test\r\n\r\n"));
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await tls.ReadAsync(one) == 1)
        {
            head.Append((char)one[0]);
        }

        Assert.StartsWith("HTTP/1.1 200", head.ToString());
        return (tls, presented!);
    }

    private static async Task<(int Exit, string Output)> CurlAsync(params string[] args)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-q");
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (string variable in new[] { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy" })
        {
            info.Environment.Remove(variable);
        }

        using var process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
