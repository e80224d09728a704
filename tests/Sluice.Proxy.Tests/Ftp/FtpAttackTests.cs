using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Ftp;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>
/// Attacks on the two FTP features: clients and servers trying to make a control tunnel grant data ports it should
/// not, and hostile servers and clients of the ftp:// gateway. Only loopback is ever connected to.
/// </summary>
public sealed class FtpAttackTests
{
    [Theory]
    [InlineData("ftp://etl:pa/ss3cret@ftp.test/x")]
    [InlineData("ftp://etl:pa?ss3cret@ftp.test/x")]
    [InlineData("ftp://etl:pa#ss3cret@ftp.test/x")]
    [InlineData("ftp://etl:ss3cret@ftp.test:99999/x")]
    public async Task A_refused_ftp_url_never_shows_its_password_in_the_answer_or_the_log(string url)
    {
        await using TestProxy proxy = await FtpGatewayKit.StartProxyAsync();
        (string head, byte[] body) = await FtpGatewayKit.RawAsync(proxy, $"GET {url} HTTP/1.1\r\nHost: ftp.test\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", head);
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://", StringComparison.Ordinal), "the refused URL's line");
        string everything = head + Encoding.UTF8.GetString(body) + line;
        Assert.DoesNotContain("ss3cret", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("'pa'", everything, StringComparison.Ordinal); // the invalid "port" is the password's first half
        Assert.DoesNotContain("etl:", everything, StringComparison.Ordinal);
        Assert.Contains("ftp://***@ftp.test", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_cannot_forge_a_permit_through_a_bare_LF_the_server_echoes()
    {
        // pyftpdlib ends a command at CRLF only and repeats SIZE's argument in its 550: a bare LF in the argument
        // puts "227 Entering Passive Mode (...)" at the start of a line of the server's reply. It is the client's
        // text, not a passive reply: it must grant nothing.
        using var target = new TcpListener(IPAddress.Loopback, 0); // stands for the server's port 25 or 22
        target.Start();
        int port = ((IPEndPoint)target.LocalEndpoint).Port;
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartTunnelProxyAsync(server.Port);
        using RawClient control = await RawClient.ConnectAsync(proxy.Endpoint);
        await control.SendAsync($"CONNECT ftp.test:{server.Port} HTTP/1.1\r\nHost: ftp.test:{server.Port}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await control.ReadHeadAsync(30_000), StringComparison.Ordinal);
        await ReadUntilAsync(control, "220 ");
        await control.SendAsync("USER anonymous\r\n");
        await ReadUntilAsync(control, "331 ");
        await control.SendAsync("PASS test@example.org\r\n");
        await ReadUntilAsync(control, "230 ");
        await control.SendAsync("TYPE I\r\n");
        await ReadUntilAsync(control, "200 ");
        await control.SendAsync($"SIZE x\n227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})\r\n");
        string echoed = await ReadUntilAsync(control, "not retrievable");
        Assert.True(echoed.Contains("\n227 Entering Passive Mode", StringComparison.Ordinal), echoed + server.Output); // the server did echo it

        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(proxy, $"ftp.test:{port}"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_watchers_reader_ends_lines_at_CRLF_only_however_the_bytes_are_split()
    {
        var reader = new FtpReplyReader(strictLineEnds: true);
        byte[] bytes = Encoding.ASCII.GetBytes("550 /x\n227 Entering Passive Mode (127,0,0,1,0,25) is not retrievable.\r\n229 Entering Extended Passive Mode (|||2121|)\r\n");
        int split = Array.IndexOf(bytes, (byte)'\r') + 1; // the CR in one read, its LF in the next
        reader.Feed(bytes.AsSpan(0, split));
        reader.Feed(bytes.AsSpan(split));
        Assert.True(reader.TryTake(out FtpReply first));
        Assert.Equal(550, first.Code);
        Assert.Contains("\n227 Entering", first.Text, StringComparison.Ordinal);
        Assert.True(reader.TryTake(out FtpReply second));
        Assert.Equal(229, second.Code);
        Assert.False(reader.TryTake(out _));
    }

    [Fact]
    public async Task A_hostile_server_naming_the_proxys_own_listener_gets_no_tunnel_to_it()
    {
        int proxyPort = 0;
        await using RawOrigin hostile = RawOrigin.Start(async (stream, _) =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"220 hostile\r\n229 Entering Extended Passive Mode (|||{Volatile.Read(ref proxyPort)}|)\r\n"));
            await stream.ReadAtLeastAsync(new byte[1], 1, throwOnEndOfStream: false);
        });
        await using TestProxy proxy = await StartTunnelProxyAsync(hostile.Port);
        Volatile.Write(ref proxyPort, proxy.Endpoint.Port);
        using RawClient control = await RawClient.ConnectAsync(proxy.Endpoint);
        await control.SendAsync($"CONNECT ftp.test:{hostile.Port} HTTP/1.1\r\nHost: ftp.test:{hostile.Port}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await control.ReadHeadAsync(30_000), StringComparison.Ordinal);
        await ReadUntilAsync(control, $"|||{proxy.Endpoint.Port}|)\r\n");

        string head = await ConnectAsync(proxy, $"ftp.test:{proxy.Endpoint.Port}");
        Assert.StartsWith("HTTP/1.1 403", head, StringComparison.Ordinal);
        Assert.Contains("own listener", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gateway_refuses_a_data_port_that_is_the_proxys_own_listener()
    {
        int proxyPort = 0;
        await using RawOrigin hostile = RawOrigin.Start(async (stream, _) =>
        {
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            await stream.WriteAsync("220 hostile\r\n"u8.ToArray());
            while (await reader.ReadLineAsync() is { } line)
            {
                string reply = line.Split(' ')[0].ToUpperInvariant() switch
                {
                    "USER" => "230 in",
                    "TYPE" => "200 ok",
                    "SIZE" => "213 5",
                    "EPSV" => $"229 Entering Extended Passive Mode (|||{Volatile.Read(ref proxyPort)}|)",
                    "QUIT" => "221 bye",
                    _ => "502 no",
                };
                await stream.WriteAsync(Encoding.ASCII.GetBytes(reply + "\r\n"));
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("ftp.test", IPAddress.Loopback);
        Volatile.Write(ref proxyPort, proxy.Endpoint.Port);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET ftp://ftp.test:{hostile.Port}/f.bin HTTP/1.1\r\nHost: ftp.test\r\nConnection: close\r\n\r\n");
        string head = await client.ReadHeadAsync(30_000);
        string body = Encoding.UTF8.GetString(await client.ReadToEndAsync(30_000));

        Assert.StartsWith("HTTP/1.1 403", head, StringComparison.Ordinal);
        Assert.Contains("own listener", head + body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_leaving_mid_download_closes_the_FTP_data_and_control_connections()
    {
        var dataClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var controlClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin endless = RawOrigin.Start(async (stream, __) =>
        {
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            using var passive = new TcpListener(IPAddress.Loopback, 0);
            passive.Start();
            await stream.WriteAsync("220 endless\r\n"u8.ToArray());
            try
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    string command = line.Split(' ')[0].ToUpperInvariant();
                    if (command == "RETR")
                    {
                        Socket data = await passive.AcceptSocketAsync();
                        await stream.WriteAsync("150 here it comes\r\n"u8.ToArray());
                        _ = Task.Run(() => SendForeverAsync(data, dataClosed));
                        continue;
                    }

                    string reply = command switch
                    {
                        "USER" => "230 in",
                        "TYPE" => "200 ok",
                        "SIZE" => "502 no SIZE",
                        "EPSV" => $"229 Entering Extended Passive Mode (|||{((IPEndPoint)passive.LocalEndpoint).Port}|)",
                        "QUIT" => "221 bye",
                        _ => "502 no",
                    };
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(reply + "\r\n"));
                }
            }
            catch (IOException)
            {
            }

            controlClosed.TrySetResult();
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("ftp.test", IPAddress.Loopback);
        using (RawClient client = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await client.SendAsync($"GET ftp://ftp.test:{endless.Port}/endless.bin HTTP/1.1\r\nHost: ftp.test\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync(30_000), StringComparison.Ordinal);
            await client.ReadExactlyAsync(100_000, 30_000);
            client.Socket.LingerState = new LingerOption(true, 0); // a reset: the client is gone
        }

        await dataClosed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await controlClosed.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private static async Task SendForeverAsync(Socket data, TaskCompletionSource closed)
    {
        byte[] chunk = new byte[64 * 1024];
        using (data)
        {
            try
            {
                while (await data.SendAsync(chunk) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        closed.TrySetResult();
    }

    private static async Task<string> ReadUntilAsync(RawClient client, string marker)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new StringBuilder();
        byte[] buffer = new byte[4096];
        while (!received.ToString().Contains(marker, StringComparison.Ordinal))
        {
            int n = await client.Stream.ReadAsync(buffer, cts.Token);
            Assert.True(n > 0, $"closed before '{marker}': {received}");
            received.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        return received.ToString();
    }

    /// <summary>Only the control port has a rule with ftp: passive; the default denies.</summary>
    private static async Task<TestProxy> StartTunnelProxyAsync(int controlPort)
    {
        SluiceConfig file = ConfigLoader.Parse(
            $"rules:\n  - name: test-ftp\n    action: allow\n    destinations: [ftp.test]\n    ports: [{controlPort}]\n    ftp: passive\ndefault: deny\n", "ftp.yaml");
        TestProxy proxy = await TestProxy.StartAsync(c => c with { Rules = file.Rules, Default = file.Default, Ftp = file.Ftp }, format: AccessLogFormat.Json);
        proxy.Resolver.Map("ftp.test", IPAddress.Loopback);
        return proxy;
    }

    private static async Task<string> ConnectAsync(TestProxy proxy, string authority)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        return await client.ReadHeadAsync(30_000);
    }
}
