using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Ftp.FtpGatewayKit;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>
/// FTP servers that fail mid-transfer, scripted here on 127.0.0.1:0: once the response has started, the client must
/// see an abort (a reset, a missing last chunk), never a clean end of a truncated body.
/// </summary>
public sealed class FtpGatewayHostileTests
{
    private const int Sent = 100_000;

    [Fact]
    public async Task A_transfer_the_server_aborts_with_426_resets_the_client_and_sends_no_last_chunk()
    {
        await using HostileFtpServer server = HostileFtpServer.Start(size: null, async (data, control) =>
        {
            await data.WriteAsync(new byte[Sent]);
            data.Dispose();
            await control.WriteAsync("426 Connection closed; transfer aborted.\r\n"u8.ToArray());
        });
        await using TestProxy proxy = await StartProxyAsync();

        (string head, byte[] body) = await RawAsync(proxy, $"GET ftp://{Host}:{server.Port}/f.bin HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Contains("\r\nTransfer-Encoding: chunked\r\n", head);
        Assert.False(Encoding.Latin1.GetString(body).EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal), "the truncated body ended with a last chunk");
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://"), "the aborted transfer's line");
        Assert.Contains(" TCP_MISS/200 ", line);
    }

    [Theory]
    [InlineData("229 Entering Extended Passive Mode (|||22|)")]
    [InlineData("227 Entering Passive Mode (127,0,0,1,0,25)")]
    public async Task A_passive_reply_naming_a_port_below_1024_is_refused_without_connecting(string passive)
    {
        // Scripted: every command gets a plausible answer, EPSV and PASV the low port.
        var commands = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using RawOrigin server = RawOrigin.Start(async (stream, _) =>
        {
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            await stream.WriteAsync("220 ready\r\n"u8.ToArray());
            while (await reader.ReadLineAsync() is { } line)
            {
                commands.Enqueue(line);
                string verb = line.Split(' ')[0].ToUpperInvariant();
                string answer = verb switch
                {
                    "USER" => "230 in",
                    "TYPE" => "200 ok",
                    "SIZE" => "213 10",
                    "EPSV" or "PASV" => passive,
                    "QUIT" => "221 bye",
                    _ => "502 not here",
                };
                await stream.WriteAsync(Encoding.ASCII.GetBytes(answer + "\r\n"));
            }
        });
        await using TestProxy proxy = await StartProxyAsync();

        (string head, _) = await RawAsync(proxy, $"GET ftp://{Host}:{server.Port}/f.bin HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 502 ", head);
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://"), "the refused transfer's line");
        Assert.Contains(" TCP_MISS/502 ", line);
        Assert.DoesNotContain(commands, c => c.StartsWith("RETR", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_data_connection_short_of_SIZE_makes_curl_fail_even_with_a_226()
    {
        await using HostileFtpServer server = HostileFtpServer.Start(size: 2 * Sent, async (data, control) =>
        {
            await data.WriteAsync(new byte[Sent]);
            data.Dispose();
            await control.WriteAsync("226 Transfer complete.\r\n"u8.ToArray());
        });
        await using TestProxy proxy = await StartProxyAsync();

        (int code, string output) = await CurlAsync(proxy, "-o", "/dev/null", $"ftp://{Host}:{server.Port}/f.bin");

        Assert.True(code != 0, $"curl took a truncated file for a whole one: {output}");
    }

    [Fact]
    public async Task A_server_that_dies_mid_transfer_makes_curl_fail()
    {
        await using HostileFtpServer server = HostileFtpServer.Start(size: null, async (data, control) =>
        {
            await data.WriteAsync(new byte[Sent]);
            data.Socket.LingerState = new LingerOption(true, 0);
            data.Dispose(); // reset, then the control connection goes too
            control.Socket.LingerState = new LingerOption(true, 0);
            control.Dispose();
        });
        await using TestProxy proxy = await StartProxyAsync();

        (int code, string output) = await CurlAsync(proxy, "-o", "/dev/null", $"ftp://{Host}:{server.Port}/f.bin");

        Assert.True(code != 0, $"curl took a truncated file for a whole one: {output}");
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://"), "the dead server's line");
        Assert.Contains(" TCP_MISS/200 ", line);
    }

    /// <summary>
    /// One FTP session at a time, answering what the gateway sends (USER, PASS, TYPE, CWD, SIZE, EPSV, RETR, QUIT);
    /// RETR hands the data and control connections to the test's script.
    /// </summary>
    private sealed class HostileFtpServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly long? _size;
        private readonly Func<NetworkStream, NetworkStream, Task> _retrieve;
        private readonly Task _loop;

        private HostileFtpServer(long? size, Func<NetworkStream, NetworkStream, Task> retrieve)
        {
            _size = size;
            _retrieve = retrieve;
            _listener.Start();
            _loop = Task.Run(AcceptAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static HostileFtpServer Start(long? size, Func<NetworkStream, NetworkStream, Task> retrieve) => new(size, retrieve);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
                    _ = Task.Run(() => SessionAsync(new NetworkStream(socket, ownsSocket: true)));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task SessionAsync(NetworkStream control)
        {
            TcpListener? passive = null;
            try
            {
                using var reader = new StreamReader(control, Encoding.ASCII, leaveOpen: true);
                await Reply(control, "220 hostile ftpd");
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    string command = line.Split(' ')[0].ToUpperInvariant();
                    switch (command)
                    {
                        case "USER": await Reply(control, "331 password please"); break;
                        case "PASS": await Reply(control, "230 in"); break;
                        case "TYPE": await Reply(control, "200 type set"); break;
                        case "CWD": await Reply(control, "250 ok"); break;
                        case "SIZE": await Reply(control, _size is { } size ? $"213 {size}" : "502 no SIZE here"); break;
                        case "EPSV":
                            passive = new TcpListener(IPAddress.Loopback, 0);
                            passive.Start();
                            await Reply(control, $"229 Entering Extended Passive Mode (|||{((IPEndPoint)passive.LocalEndpoint).Port}|)");
                            break;
                        case "RETR":
                            using (Socket dataSocket = await passive!.AcceptSocketAsync(_stop.Token))
                            {
                                await Reply(control, "150 here it comes");
                                await _retrieve(new NetworkStream(dataSocket, ownsSocket: true), control);
                            }

                            break;
                        case "QUIT": await Reply(control, "221 bye"); return;
                        default: await Reply(control, "502 not here"); break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }
            finally
            {
                passive?.Stop();
                control.Dispose();
            }
        }

        private static Task Reply(NetworkStream control, string line) => control.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n")).AsTask();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }
}
