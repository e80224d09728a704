using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// The real executable under a low open-file limit: one client opens more idle connections than the limit allows.
/// The proxy must cap its connection limit to fit, refuse the excess cleanly, keep serving what it has, and serve
/// new connections again once the client lets go.
/// </summary>
public sealed class DescriptorLimitTests : IDisposable
{
    private const int OpenFileLimit = 512;
    private const int Flood = 600; // more than the whole limit: without a cap the process runs out of descriptors

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-fd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task More_idle_connections_than_descriptors_are_refused_while_open_connections_tunnels_and_the_admin_endpoint_still_work()
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            // One response per connection, so every forwarded request needs a fresh upstream socket.
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            while (!string.IsNullOrEmpty(await reader.ReadLineAsync()))
            {
            }

            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
        });
        await using RawOrigin echo = RawOrigin.Echo();
        int proxyPort = Ports.Free();
        int adminPort = Ports.Free();
        string config = Path.Combine(_dir, "fd.yaml");
        await File.WriteAllLinesAsync(config, LoopbackConfig.Lines(proxyPort, adminPort, "127.0.0.1/32", "timeouts:", "  requestHeaders: 5m", "default: allow"));
        using SluiceProcess sluice = SluiceProcess.StartWithOpenFileLimit(OpenFileLimit, "run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("admin on http://", StringComparison.Ordinal), "the admin line");
        string get = $"GET http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n\r\n";

        // Two connections opened before the flood: one keep-alive client, one that will ask for a tunnel later.
        using var existing = new TcpClient();
        await existing.ConnectAsync(IPAddress.Loopback, proxyPort);
        Assert.StartsWith("HTTP/1.1 200", await ExchangeAsync(existing.GetStream(), get));
        using var waiting = new TcpClient();
        await waiting.ConnectAsync(IPAddress.Loopback, proxyPort);

        using (var flood = new IdleConnections())
        {
            await flood.OpenAsync(proxyPort, Flood);

            // A new connection while full is refused with an answer (or, while many refusals are under way, closed).
            await EventuallyAsync(async () => (await TryExchangeAsync(proxyPort, get)).StartsWith("HTTP/1.1 503", StringComparison.Ordinal),
                "a new connection was never refused with 503 while the proxy was full", sluice);

            // What was open before the flood is still served, including a tunnel that needs a new upstream socket.
            NetworkStream tunnel = waiting.GetStream();
            string established = await ExchangeAsync(tunnel, $"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n", headOnly: true);
            Assert.True(established.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), $"a CONNECT on an open connection got: {established}\nstderr:\n{Tail(sluice)}");
            await tunnel.WriteAsync("ping"u8.ToArray());
            byte[] pong = new byte[4];
            await tunnel.ReadExactlyAsync(pong).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("ping"u8.ToArray(), pong);
            string again = await ExchangeAsync(existing.GetStream(), get);
            Assert.True(again.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), $"a request on an open keep-alive connection got: {again}\nstderr:\n{Tail(sluice)}");

            using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(30) };
            Assert.Equal("ok\n", await admin.GetStringAsync("/healthz"));
            Assert.False(sluice.HasExited, $"sluice exited; stderr:\n{Tail(sluice)}");
        }

        // Released: new connections are served again.
        await EventuallyAsync(async () => (await TryExchangeAsync(proxyPort, get)).StartsWith("HTTP/1.1 200", StringComparison.Ordinal),
            "new connections were not served again after the idle ones closed", sluice);
        Assert.False(sluice.HasExited, $"sluice exited; stderr:\n{Tail(sluice)}");

        string cap = await sluice.WaitForStderrAsync(l => l.Contains("limits.maxConnections", StringComparison.Ordinal), "a line saying the connection limit was capped");
        Assert.Contains($"open-file limit {OpenFileLimit}", cap);
        Assert.Single(sluice.Stderr, l => l.Contains("limits.maxConnections", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Near_the_open_file_limit_accepting_pauses_with_one_log_line_while_open_connections_are_served_and_resumes_when_descriptors_are_free()
    {
        if (!File.Exists("/usr/bin/prlimit"))
        {
            return; // util-linux is on every machine the project runs on; elsewhere there is no way to lower it from outside
        }

        int proxyPort = Ports.Free();
        int adminPort = Ports.Free();
        string config = Path.Combine(_dir, "emfile.yaml");
        await File.WriteAllLinesAsync(config, LoopbackConfig.Lines(proxyPort, adminPort, allow: null, "timeouts:", "  requestHeaders: 5m", "default: deny"));
        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("admin on http://", StringComparison.Ordinal), "the admin line");
        // Denied before any lookup or connection: answered with no new descriptor, and the connection stays open.
        const string denied = "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n";
        using var existing = new TcpClient();
        await existing.ConnectAsync(IPAddress.Loopback, proxyPort);
        Assert.StartsWith("HTTP/1.1 403", await ExchangeAsync(existing.GetStream(), denied));

        // The limit drops below what the process needs (as when something else ate the descriptors the budget
        // counted on); only the soft limit, so that it can be raised again.
        (string hard, _) = await LowerSoftLimitAsync(sluice.Id, headroom: 5);
        var flood = new IdleConnections();
        try
        {
            await flood.OpenAsync(proxyPort, 100);

            await sluice.WaitForStderrAsync(l => l.Contains($"Not accepting on 127.0.0.1:{proxyPort}: ", StringComparison.Ordinal) && l.Contains("file descriptors", StringComparison.Ordinal), "the line saying it stopped accepting");
            await Task.Delay(TimeSpan.FromSeconds(2)); // time for more failed accepts, which must not happen (nor print a line each)
            Assert.False(sluice.HasExited, $"sluice exited; stderr:\n{Tail(sluice)}");
            string answer = await ExchangeAsync(existing.GetStream(), denied);
            Assert.True(answer.StartsWith("HTTP/1.1 403", StringComparison.Ordinal), $"an open connection got: {answer}\nstderr:\n{Tail(sluice)}");
        }
        finally
        {
            if (!sluice.HasExited)
            {
                await PrlimitAsync(sluice.Id, $"{hard}:{hard}");
            }

            flood.Dispose();
        }

        await EventuallyAsync(async () => (await TryExchangeAsync(proxyPort, denied)).StartsWith("HTTP/1.1 403", StringComparison.Ordinal),
            "new connections were not served again once descriptors were available", sluice);
        await sluice.WaitForStderrAsync(l => l.Contains($"Accepting on 127.0.0.1:{proxyPort} again after", StringComparison.Ordinal), "the line saying accepting works again");
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(30) };
        Assert.Equal("ok\n", await admin.GetStringAsync("/healthz"));
        string metrics = await admin.GetStringAsync("/metrics");
        string counter = metrics.Split('\n').Single(l => l.StartsWith("sluice_accept_failures_total ", StringComparison.Ordinal));
        Assert.True(double.Parse(counter.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 1, counter);
        // It stopped accepting instead of failing over and over: one line for the whole shortage.
        Assert.Single(sluice.Stderr, l => l.Contains($"Not accepting on 127.0.0.1:{proxyPort}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reload_that_raises_max_connections_is_still_capped_to_the_open_file_limit()
    {
        int proxyPort = Ports.Free();
        string config = Path.Combine(_dir, "reload-cap.yaml");
        string[] Config(int maxConnections) =>
            LoopbackConfig.Lines(proxyPort, adminPort: null, allow: null, "limits:", $"  maxConnections: {maxConnections}", "timeouts:", "  requestHeaders: 5m", "default: deny");

        // Under the cap at start: nothing to cap, no line.
        await File.WriteAllLinesAsync(config, Config(50));
        using SluiceProcess sluice = SluiceProcess.StartWithOpenFileLimit(OpenFileLimit, "run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("config: ", StringComparison.Ordinal), "the config line");
        Assert.DoesNotContain(sluice.Stderr, l => l.Contains("capped", StringComparison.Ordinal));

        await File.WriteAllLinesAsync(config, Config(20000));
        string reloaded = await sluice.WaitForStderrAsync(l => l.Contains("config reloaded", StringComparison.Ordinal), "the reload line");
        Assert.Contains("limits.maxConnections 20000 capped to", reloaded);

        const string denied = "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n";
        using (var flood = new IdleConnections())
        {
            await flood.OpenAsync(proxyPort, 200); // more than the 512 descriptors leave room for, less than the limit itself

            await EventuallyAsync(async () => (await TryExchangeAsync(proxyPort, denied)).StartsWith("HTTP/1.1 503", StringComparison.Ordinal),
                "a new connection was never refused with 503 after the reload raised maxConnections above what the descriptors allow", sluice);
        }
    }

    [Fact]
    public async Task Accepting_resumes_once_connections_close_when_the_limit_was_lowered_to_less_than_the_margins_kept_at_start()
    {
        if (!File.Exists("/usr/bin/prlimit"))
        {
            return;
        }

        int proxyPort = Ports.Free();
        string config = Path.Combine(_dir, "lowered.yaml");
        await File.WriteAllLinesAsync(config, LoopbackConfig.Lines(proxyPort, adminPort: null, allow: null, "timeouts:", "  requestHeaders: 5m", "default: deny"));
        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("config: ", StringComparison.Ordinal), "the config line");
        const string denied = "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n";

        // Lowered for good (no raising it back), to a limit that still leaves room for a few hundred connections:
        // the margins kept near the limit must fit the limit in force, not the one the process started with.
        (_, int open) = await LowerSoftLimitAsync(sluice.Id, headroom: 300);
        using (var flood = new IdleConnections())
        {
            await flood.OpenAsync(proxyPort, 300);

            await sluice.WaitForStderrAsync(l => l.Contains($"Not accepting on 127.0.0.1:{proxyPort}: ", StringComparison.Ordinal), "the line saying it stopped accepting");
        }

        await EventuallyAsync(async () => (await TryExchangeAsync(proxyPort, denied)).StartsWith("HTTP/1.1 403", StringComparison.Ordinal),
            $"accepting never resumed after the connections closed, with the soft limit at {open + 300} and about {open} descriptors open", sluice);
    }

    /// <summary>Lowers only the soft open-file limit, to what the process has open now plus headroom; the hard limit stays so it can be raised again.</summary>
    private static async Task<(string Hard, int Open)> LowerSoftLimitAsync(int pid, int headroom)
    {
        string hard = File.ReadAllLines($"/proc/{pid}/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];
        int open = Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;
        await PrlimitAsync(pid, $"{open + headroom}:{hard}");
        return (hard, open);
    }

    /// <summary>Connections a client opens and leaves idle, each holding a descriptor in the proxy until disposed.</summary>
    private sealed class IdleConnections : IDisposable
    {
        private readonly List<TcpClient> _clients = [];

        public async Task OpenAsync(int port, int count)
        {
            for (int i = 0; i < count; i++)
            {
                var idle = new TcpClient();
                _clients.Add(idle);
                await idle.ConnectAsync(IPAddress.Loopback, port);
            }
        }

        public void Dispose()
        {
            foreach (TcpClient idle in _clients)
            {
                idle.Dispose();
            }
        }
    }

    private static async Task PrlimitAsync(int pid, string nofile)
    {
        using var prlimit = System.Diagnostics.Process.Start("prlimit", ["--pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--nofile={nofile}"]);
        await prlimit.WaitForExitAsync();
        Assert.True(prlimit.ExitCode == 0, $"prlimit --nofile={nofile} failed");
    }


    private static string Tail(SluiceProcess sluice) => string.Join("\n", sluice.Stderr.TakeLast(20));

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string failure, SluiceProcess sluice)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            Assert.False(sluice.HasExited, $"sluice exited; stderr:\n{Tail(sluice)}");
            await Task.Delay(200);
        }

        throw new Xunit.Sdk.XunitException($"{failure} (within 60 s); stderr:\n{Tail(sluice)}");
    }

    /// <summary>One request on a new connection; the response head, or "" when the connection failed or stayed silent.</summary>
    private static async Task<string> TryExchangeAsync(int port, string request)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));
            return await ExchangeAsync(client.GetStream(), request, timeoutSeconds: 10);
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException)
        {
            return "";
        }
    }

    /// <summary>Sends a request and reads the response head (and a Content-Length body unless headOnly).</summary>
    private static async Task<string> ExchangeAsync(NetworkStream stream, string request, bool headOnly = false, int timeoutSeconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        var received = new List<byte>();
        byte[] one = new byte[1];
        try
        {
            while (!(received.Count >= 4 && received[^4] == '\r' && received[^3] == '\n' && received[^2] == '\r' && received[^1] == '\n'))
            {
                if (await stream.ReadAsync(one, timeout.Token) == 0)
                {
                    return Encoding.ASCII.GetString(received.ToArray()) + "<closed>";
                }

                received.Add(one[0]);
            }

            string head = Encoding.ASCII.GetString(received.ToArray());
            string? length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            if (!headOnly && length is not null)
            {
                await stream.ReadExactlyAsync(new byte[int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)], timeout.Token);
            }

            return head;
        }
        catch (OperationCanceledException)
        {
            return Encoding.ASCII.GetString(received.ToArray()) + $"<no complete response within {timeoutSeconds} s>";
        }
    }
}
