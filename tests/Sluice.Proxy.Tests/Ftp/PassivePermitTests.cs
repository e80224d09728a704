using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Ftp;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>
/// <c>ftp: passive</c> end to end: the real pyftpdlib server, the real proxy, and curl tunnelling FTP through CONNECT
/// (<c>-p</c>), or raw sockets speaking FTP for the precise cases. Only the control port has a rule; every data
/// connection gets through on a permit its control tunnel's server granted, or not at all.
/// </summary>
public sealed class PassivePermitTests
{
    [Fact]
    public async Task Curl_downloads_a_large_file_byte_exact_over_EPSV_permits()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        byte[] content = server.WriteFile("big.bin", 6 * 1024 * 1024);
        await using TestProxy proxy = await StartProxyAsync(server);
        string download = TempFile();
        try
        {
            (int code, string output) = await CurlAsync(proxy, "-o", download, $"ftp://ftp.test:{server.Port}/big.bin");
            Assert.True(code == 0, $"curl failed ({code}): {output}\n{server.Output}\n{string.Join("\n", proxy.AccessLog.Lines)}");
            Assert.Equal(content, await File.ReadAllBytesAsync(download));
            Assert.Contains("EPSV", server.Output, StringComparison.Ordinal);
            string data = await proxy.AccessLog.WaitForAsync(l => l.Contains("ftp passive permit", StringComparison.Ordinal), "for the data CONNECT");
            Assert.Contains($"\"rule\":\"test-ftp\"", data, StringComparison.Ordinal);
            Assert.Contains($"ftp passive permit from the control connection to ftp.test:{server.Port} (rule test-ftp)", data, StringComparison.Ordinal);
            Assert.Contains("\"url\":\"ftp.test:", data, StringComparison.Ordinal); // curl names the data port by the control connection's name
        }
        finally
        {
            File.Delete(download);
        }
    }

    [Fact]
    public async Task Curl_lists_and_uploads_with_PASV_only()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { NoEpsv = true, NoMlsd = true, Users = [("etl", "s3cret")] });
        server.WriteFile("a.txt", 10);
        await using TestProxy proxy = await StartProxyAsync(server);
        (int code, string output) = await CurlAsync(proxy, "-l", $"ftp://ftp.test:{server.Port}/");
        Assert.True(code == 0, $"listing failed ({code}): {output}\n{server.Output}");
        Assert.Contains("a.txt", output, StringComparison.Ordinal);

        string upload = TempFile();
        try
        {
            byte[] content = RandomNumberGenerator(200_000);
            await File.WriteAllBytesAsync(upload, content);
            (code, output) = await CurlAsync(proxy, "-u", "etl:s3cret", "-T", upload, $"ftp://ftp.test:{server.Port}/up.bin");
            Assert.True(code == 0, $"upload failed ({code}): {output}\n{server.Output}");
            Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(server.Root, "up.bin")));
            Assert.Contains("PASV", server.Output, StringComparison.Ordinal);
            // With PASV too curl connects to the control connection's name (--ftp-skip-pasv-ip is its default).
            await proxy.AccessLog.WaitForAsync(l => l.Contains("ftp passive permit", StringComparison.Ordinal) && l.Contains("\"url\":\"ftp.test:", StringComparison.Ordinal), "a data tunnel's line"); // written in the background
        }
        finally
        {
            File.Delete(upload);
        }
    }

    [Fact]
    public async Task A_227_naming_another_address_grants_nothing_and_is_logged()
    {
        // 192.0.2.1 (TEST-NET-1) is only ever named: curl connects to the control connection's name (its default
        // --ftp-skip-pasv-ip), and the CONNECT to the literal is refused before any dial.
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { NoEpsv = true, PassiveAddress = "192.0.2.1" });
        var log = new LogLines();
        await using TestProxy proxy = await StartProxyAsync(server, log: log);
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        await control.LoginAsync();
        (int code, string text) = await control.CommandAsync("PASV");
        Assert.Equal(227, code);
        Assert.True(FtpReply.TryParsePassive(text, out IPAddress named, out int port));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), named);

        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"192.0.2.1:{port}"), StringComparison.Ordinal);
        Assert.Contains(log.Lines, l => l.Contains("named 192.0.2.1:", StringComparison.Ordinal) && l.Contains("rule test-ftp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_AUTH_TLS_the_channel_grants_no_permits_and_says_so_once()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Tls = true });
        var log = new LogLines();
        await using TestProxy proxy = await StartProxyAsync(server, log: log);
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        (int code, _) = await control.CommandAsync("AUTH TLS");
        Assert.Equal(234, code);
        await control.StartTlsAsync();
        await control.LoginAsync();
        (code, string text) = await control.CommandAsync("EPSV");
        Assert.Equal(229, code);
        Assert.True(FtpReply.TryParseExtendedPassive(text, out int port));

        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
        (code, _) = await control.CommandAsync("EPSV");
        Assert.Equal(229, code);
        Assert.Single(log.Lines, l => l.Contains("switched to TLS (234)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_permit_is_used_once()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync(server);
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        await control.LoginAsync();
        int port = await control.ExtendedPassiveAsync();

        using (RawClient data = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await data.SendAsync($"CONNECT ftp.test:{port} HTTP/1.1\r\nHost: ftp.test:{port}\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await data.ReadHeadAsync(), StringComparison.Ordinal);
        }

        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_data_CONNECT_may_name_the_control_address_as_an_IP_literal()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync(server);
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        await control.LoginAsync();
        int port = await control.ExtendedPassiveAsync();
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"other.test:{port}"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", await ConnectAsync(proxy, $"127.0.0.1:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_client_is_refused_the_data_port_and_leaves_the_permit_to_its_owner()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync(server);
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        await control.LoginAsync();
        int port = await control.ExtendedPassiveAsync();

        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}", from: IPAddress.Parse("127.0.0.2")), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_permit_expires_after_the_permit_lifetime()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync(server, lifetime: "200ms");
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        await control.LoginAsync();
        int port = await control.ExtendedPassiveAsync();
        await Task.Delay(TimeSpan.FromSeconds(2)); // ten lifetimes: long expired however loaded the machine
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Closing_the_control_tunnel_revokes_its_permits()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync(server);
        int port;
        await using (var control = await TunnelledFtp.OpenAsync(proxy, server.Port))
        {
            await control.LoginAsync();
            port = await control.ExtendedPassiveAsync();
        }

        await proxy.AccessLog.WaitForAsync(l => l.Contains($"CONNECT ftp.test:{server.Port}", StringComparison.Ordinal), "for the control tunnel's end", 30_000);
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_keeps_an_open_control_tunnels_permits()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync(server);
        await using var control = await TunnelledFtp.OpenAsync(proxy, server.Port);
        await control.LoginAsync();
        SluiceConfig without = proxy.Server.CurrentConfig with { Rules = ConfigLoader.Parse("rules:\n  - name: other\n    action: allow\n    destinations: [other.test]\n", "reload.yaml").Rules };
        proxy.Server.Reload(without);
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{server.Port}"), StringComparison.Ordinal); // new control tunnels: refused

        int port = await control.ExtendedPassiveAsync();
        Assert.StartsWith("HTTP/1.1 200", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_flooding_227_replies_leaves_only_the_latest_permits()
    {
        // Not pyftpdlib: a hostile server that answers with 5000 passive replies at once. The last names a port
        // really listening; the first must have been dropped long before.
        using var data = new TcpListener(IPAddress.Loopback, 0);
        data.Start();
        int live = ((IPEndPoint)data.LocalEndpoint).Port;
        using var hostile = new TcpListener(IPAddress.Loopback, 0);
        hostile.Start();
        int controlPort = ((IPEndPoint)hostile.LocalEndpoint).Port;
        Task serve = Task.Run(async () =>
        {
            using TcpClient accepted = await hostile.AcceptTcpClientAsync();
            var replies = new StringBuilder("220 hostile\r\n");
            for (int i = 0; i < 5000; i++)
            {
                replies.Append(Pasv(20000 + i));
            }

            replies.Append(Pasv(live));
            await accepted.GetStream().WriteAsync(Encoding.ASCII.GetBytes(replies.ToString()));
            await accepted.GetStream().ReadAtLeastAsync(new byte[1], 1, throwOnEndOfStream: false); // until the client leaves
        });

        await using TestProxy proxy = await StartProxyAsync(controlPort);
        using RawClient control = await RawClient.ConnectAsync(proxy.Endpoint);
        await control.SendAsync($"CONNECT ftp.test:{controlPort} HTTP/1.1\r\nHost: ftp.test:{controlPort}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await control.ReadHeadAsync(), StringComparison.Ordinal);
        string expected = Pasv(live);
        var received = new StringBuilder();
        byte[] buffer = new byte[64 * 1024];
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!received.ToString().EndsWith(expected, StringComparison.Ordinal))
            {
                int n = await control.Stream.ReadAsync(buffer, cts.Token);
                Assert.True(n > 0, "the hostile server's replies did not all arrive");
                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }

        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, "ftp.test:20000"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{20000 + 5000 - PassivePermits.PerChannel}"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", await ConnectAsync(proxy, $"ftp.test:{live}"), StringComparison.Ordinal);
        control.Dispose();
        await serve.WaitAsync(TimeSpan.FromSeconds(30));

        static string Pasv(int port) => $"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})\r\n";
    }

    private static Task<TestProxy> StartProxyAsync(FtpServer server, string lifetime = "30s", LogLines? log = null) =>
        StartProxyAsync(server.Port, lifetime, log);

    /// <summary>Only the control port has a rule; the default denies, so a data port gets through on a permit or not at all.</summary>
    private static async Task<TestProxy> StartProxyAsync(int controlPort, string lifetime = "30s", LogLines? log = null)
    {
        SluiceConfig file = ConfigLoader.Parse(
            $"rules:\n  - name: test-ftp\n    action: allow\n    destinations: [ftp.test]\n    ports: [{controlPort}]\n    ftp: passive\n"
            + $"default: deny\nftp:\n  permitLifetime: {lifetime}\n", "ftp.yaml");
        TestProxy proxy = await TestProxy.StartAsync(c => c with { Rules = file.Rules, Default = file.Default, Ftp = file.Ftp }, format: AccessLogFormat.Json, log: log);
        proxy.Resolver.Map("ftp.test", IPAddress.Loopback);
        proxy.Resolver.Map("other.test", IPAddress.Loopback);
        return proxy;
    }

    /// <summary>Opens a CONNECT and returns the proxy's answer's head; the tunnel, if any, is closed at once.</summary>
    private static async Task<string> ConnectAsync(TestProxy proxy, string authority, IPAddress? from = null)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint, from);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        return await client.ReadHeadAsync(30_000);
    }

    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"sluice-ftp-{Guid.NewGuid():N}");

    private static byte[] RandomNumberGenerator(int length) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);

    private static async Task<(int Code, string Output)> CurlAsync(TestProxy proxy, params string[] arguments)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string name in new[] { "no_proxy", "NO_PROXY", "ftp_proxy", "FTP_PROXY", "all_proxy", "ALL_PROXY" })
        {
            info.Environment.Remove(name);
        }

        foreach (string argument in (string[])["-sS", "--max-time", "120", "-p", "-x", $"http://{proxy.Endpoint}", .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>An FTP control connection spoken by hand through a CONNECT tunnel, replies read with the proxy's own reader.</summary>
    private sealed class TunnelledFtp : IAsyncDisposable
    {
        private readonly RawClient _client;
        private readonly FtpReplyReader _reader = new();
        private Stream _stream;

        private TunnelledFtp(RawClient client)
        {
            _client = client;
            _stream = client.Stream;
        }

        public static async Task<TunnelledFtp> OpenAsync(TestProxy proxy, int port)
        {
            RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync($"CONNECT ftp.test:{port} HTTP/1.1\r\nHost: ftp.test:{port}\r\n\r\n");
            string head = await client.ReadHeadAsync(30_000);
            Assert.True(head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), $"the control CONNECT was refused: {head}");
            var ftp = new TunnelledFtp(client);
            (int code, string text) = await ftp.ReadReplyAsync();
            Assert.True(code == 220, $"no greeting: {code} {text}");
            return ftp;
        }

        public async Task LoginAsync()
        {
            (int code, string text) = await CommandAsync("USER anonymous");
            Assert.True(code == 331, $"USER: {code} {text}");
            (code, text) = await CommandAsync("PASS test@example.org");
            Assert.True(code == 230, $"PASS: {code} {text}");
        }

        public async Task<int> ExtendedPassiveAsync()
        {
            (int code, string text) = await CommandAsync("EPSV");
            int port = 0;
            Assert.True(code == 229 && FtpReply.TryParseExtendedPassive(text, out port), $"EPSV: {code} {text}");
            return port;
        }

        public async Task<(int Code, string Text)> CommandAsync(string command)
        {
            await _stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
            await _stream.FlushAsync();
            return await ReadReplyAsync();
        }

        /// <summary>Explicit FTPS (RFC 4217) after a 234: the rest of the control connection is TLS.</summary>
        public async Task StartTlsAsync()
        {
            var tls = new SslStream(_client.Stream, leaveInnerStreamOpen: true, (_, certificate, _, _) => certificate is not null); // the fixture's own, made for the test
            await tls.AuthenticateAsClientAsync("ftp.test").WaitAsync(TimeSpan.FromSeconds(30));
            _stream = tls;
        }

        private async Task<(int Code, string Text)> ReadReplyAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            byte[] buffer = new byte[4096];
            FtpReply reply;
            while (!_reader.TryTake(out reply))
            {
                int n = await _stream.ReadAsync(buffer, cts.Token);
                Assert.True(n > 0, "the control connection closed before a complete reply");
                _reader.Feed(buffer.AsSpan(0, n));
            }

            return (reply.Code, reply.Text);
        }

        public async ValueTask DisposeAsync()
        {
            if (_stream is SslStream tls)
            {
                await tls.DisposeAsync();
            }

            _client.Dispose();
        }
    }
}
