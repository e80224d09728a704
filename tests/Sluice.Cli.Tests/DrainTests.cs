using System.Net;
using System.Net.Sockets;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>Drain and restart with the real executable: readiness, open tunnels, a second signal.</summary>
public sealed class DrainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-drain-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);


    [Fact]
    public async Task On_sigterm_readiness_drops_at_once_an_open_tunnel_keeps_relaying_and_the_process_exits_0_when_it_ends()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        int proxyPort = Ports.Free();
        int adminPort = Ports.Free();
        string config = Path.Combine(_dir, "drain.yaml");
        await File.WriteAllLinesAsync(config, LoopbackConfig.Lines(proxyPort, adminPort, "127.0.0.0/8", "timeouts:", "  drain: 60s", "default: allow"));
        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("admin on http://127.0.0.1:", StringComparison.Ordinal), "the admin line");
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        Assert.Equal("ready\n", await admin.GetStringAsync("/readyz"));

        using var tunnel = new TcpClient();
        await tunnel.ConnectAsync(IPAddress.Loopback, proxyPort);
        NetworkStream stream = tunnel.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n"));
        await stream.ReadExactlyAsync(new byte["HTTP/1.1 200 Connection established\r\n\r\n".Length]);

        sluice.Signal("TERM");
        await sluice.WaitForStderrAsync(l => l.StartsWith("stopping: not ready", StringComparison.Ordinal), "the stopping line");
        HttpResponseMessage ready = await admin.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);

        byte[] ping = "during the drain"u8.ToArray();
        await stream.WriteAsync(ping);
        byte[] back = new byte[ping.Length];
        await stream.ReadExactlyAsync(back);
        Assert.Equal(ping, back);

        tunnel.Client.Shutdown(SocketShutdown.Send); // the tunnel ends: nothing is left to wait for
        Assert.Equal(0, await sluice.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(sluice.Stderr, l => l.StartsWith("stopped after", StringComparison.Ordinal) && l.Contains("1 connections were open at the signal", StringComparison.Ordinal));
    }

    [Fact]
    public async Task When_the_drain_time_runs_out_the_summary_counts_what_was_cut_and_the_cut_connections_are_reset()
    {
        const int Tunnels = 5;
        await using RawOrigin echo = RawOrigin.Echo();
        // An origin that starts a long response and then stalls: the response is in progress when the drain ends.
        await using RawOrigin slow = RawOrigin.Start(async (stream, socket) =>
        {
            await new StreamReader(stream).ReadLineAsync();
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nthe first bytes"u8.ToArray());
            _ = await stream.ReadAsync(new byte[1]); // until the proxy goes away
        });
        int proxyPort = Ports.Free();
        string config = Path.Combine(_dir, "cut.yaml");
        await File.WriteAllLinesAsync(config, LoopbackConfig.Lines(proxyPort, adminPort: null, "127.0.0.1/32", "timeouts:", "  drain: 2s", "default: allow"));
        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("listening on", StringComparison.Ordinal), "the ready line");

        var tunnels = new List<TcpClient>();
        for (int i = 0; i < Tunnels; i++)
        {
            var tunnel = new TcpClient();
            tunnels.Add(tunnel);
            await tunnel.ConnectAsync(IPAddress.Loopback, proxyPort);
            NetworkStream stream = tunnel.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n"));
            await stream.ReadExactlyAsync(new byte["HTTP/1.1 200 Connection established\r\n\r\n".Length]);
            await stream.WriteAsync("ping"u8.ToArray());
            await stream.ReadExactlyAsync(new byte[4]);
        }

        using var download = new TcpClient();
        await download.ConnectAsync(IPAddress.Loopback, proxyPort);
        NetworkStream body = download.GetStream();
        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{slow.Port}/big HTTP/1.1\r\nHost: 127.0.0.1:{slow.Port}\r\n\r\n"));
        var received = new System.Text.StringBuilder();
        byte[] buffer = new byte[4096];
        while (!received.ToString().Contains("the first bytes", StringComparison.Ordinal))
        {
            int n = await body.ReadAsync(buffer);
            Assert.True(n > 0, $"the proxy ended the response before the drain; received:\n{received}");
            received.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        }

        sluice.Signal("TERM");
        Assert.Equal(0, await sluice.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        string summary = Assert.Single(sluice.Stderr, l => l.StartsWith("stopped after", StringComparison.Ordinal));
        Assert.Contains($"{Tunnels + 1} connections were open at the signal, {Tunnels + 1} had to be cut", summary);

        // The truncated response must not look complete: the client sees a reset, not a clean end of stream.
        Assert.Equal(SocketError.ConnectionReset, await ReadUntilEndAsync(body));
        foreach (TcpClient tunnel in tunnels)
        {
            Assert.Equal(SocketError.ConnectionReset, await ReadUntilEndAsync(tunnel.GetStream()));
            tunnel.Dispose();
        }
    }

    /// <summary>Reads to the end; Success when the stream ended cleanly (FIN), otherwise the socket error it ended with.</summary>
    private static async Task<SocketError> ReadUntilEndAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return SocketError.Success;
        }
        catch (IOException e) when (e.InnerException is SocketException s)
        {
            return s.SocketErrorCode;
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException("the connection was neither closed nor reset within 30 s of the process exiting");
        }
    }

    [Fact]
    public async Task A_second_sigterm_exits_at_once()
    {
        int proxyPort = Ports.Free();
        string config = Path.Combine(_dir, "twice.yaml");
        await File.WriteAllLinesAsync(config, ["listeners:", $"  - address: 127.0.0.1:{proxyPort}", "admin: off", "timeouts:", "  drain: 5m"]);
        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("listening on", StringComparison.Ordinal), "the ready line");
        using var pending = new TcpClient();
        await pending.ConnectAsync(IPAddress.Loopback, proxyPort);
        await pending.GetStream().WriteAsync("GET http://"u8.ToArray()); // a request in flight keeps the drain waiting
        await Task.Delay(200);
        sluice.Signal("TERM");
        await sluice.WaitForStderrAsync(l => l.StartsWith("stopping:", StringComparison.Ordinal), "the stopping line");
        sluice.Signal("TERM");
        Assert.Equal(1, await sluice.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(sluice.Stderr, l => l.StartsWith("second SIGTERM: exiting now", StringComparison.Ordinal));
    }
}
