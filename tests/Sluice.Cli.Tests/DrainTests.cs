using System.Net;
using System.Net.Sockets;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>Drain and restart with the real executable: readiness, open tunnels, a second signal.</summary>
public sealed class DrainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-drain-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task On_sigterm_readiness_drops_at_once_an_open_tunnel_keeps_relaying_and_the_process_exits_0_when_it_ends()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        int proxyPort = FreePort();
        int adminPort = FreePort();
        string config = Path.Combine(_dir, "drain.yaml");
        await File.WriteAllLinesAsync(config,
        [
            "listeners:",
            $"  - address: 127.0.0.1:{proxyPort}",
            "admin:",
            $"  address: 127.0.0.1:{adminPort}",
            "addresses:",
            "  allow: [127.0.0.0/8]",
            "timeouts:",
            "  drain: 60s",
            "default: allow",
            "log:",
            "  access: off",
        ]);
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
    public async Task A_second_sigterm_exits_at_once()
    {
        int proxyPort = FreePort();
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
