using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Hostile lifecycles against the tunnel machinery: one server-wide idle watch cutting relays from its timer thread,
/// splice(2) holding socket handles while another thread cuts, open connections kept as a count that a stop waits on,
/// the CONNECT 200 sent with one non-blocking send(2), and one address dialled with a plain wait-with-timeout. Real
/// sockets on loopback only; the only timings asserted are generous upper bounds meaning "does not hang".
/// </summary>
public sealed class TunnelLifecycleAttackTests
{
    private static readonly TimeSpan NoHang = TimeSpan.FromSeconds(30);

    // ------------------------------------------------------------------ 1. cross-talk and descriptor reuse

    private enum Role : byte
    {
        Normal = 0,
        ClientReset = 1,
        OriginReset = 2,
        Silent = 3,
    }

    private const int StreamSize = 512 * 1024;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Concurrent_tunnels_carry_exactly_their_own_bytes_while_others_are_reset_cut_idle_and_opened(bool splice)
    {
        Assert.True(!splice || !OperatingSystem.IsLinux() || Sluice.Proxy.Tunnels.SplicePipe.IsSupported, "splice(2) should be available on Linux");
        var originFailures = new ConcurrentQueue<string>();
        var originComplete = new ConcurrentDictionary<int, bool>();
        await using RawOrigin origin = RawOrigin.Start((stream, socket) => StreamOriginAsync(stream, socket, originFailures, originComplete));
        // The silent tunnels start under a 1 s idle timeout; everything after the reload has five minutes.
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } }, splice: splice);
        proxy.Resolver.Map("x.test", IPAddress.Loopback);

        var silent = new List<RawClient>();
        for (int i = 0; i < 10; i++)
        {
            RawClient client = await OpenTunnelAsync(proxy, "x.test", origin.Port);
            await client.SendAsync(Header(1000 + i, Role.Silent));
            silent.Add(client);
        }

        proxy.Server.Reload(proxy.Server.CurrentConfig with { Timeouts = proxy.Server.CurrentConfig.Timeouts with { Idle = TimeSpan.FromMinutes(5) } });

        var failures = new ConcurrentQueue<string>();
        var tasks = new List<Task>();
        // Wave A: 30 full transfers, 5 clients that reset mid-transfer, 5 origins that reset mid-transfer.
        for (int i = 0; i < 40; i++)
        {
            int id = i;
            Role role = i < 30 ? Role.Normal : i < 35 ? Role.ClientReset : Role.OriginReset;
            tasks.Add(Task.Run(() => TunnelClientAsync(proxy, origin.Port, id, role, failures)));
        }

        // The silent ones are cut by the idle watch from its timer thread while wave A moves bytes...
        Task[] silentEnd = [.. silent.Select(c => ExpectSilentEndAsync(c, failures))];
        await Task.WhenAny(silentEnd).WaitAsync(NoHang);
        // ...and wave B opens on the descriptors those cuts (and the resets) just gave back.
        for (int i = 100; i < 130; i++)
        {
            int id = i;
            Role role = i < 120 ? Role.Normal : i < 125 ? Role.ClientReset : Role.OriginReset;
            tasks.Add(Task.Run(() => TunnelClientAsync(proxy, origin.Port, id, role, failures)));
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(45));
        await Task.WhenAll(silentEnd).WaitAsync(NoHang);
        foreach (RawClient client in silent)
        {
            client.Dispose();
        }

        Assert.True(failures.IsEmpty, "client side:\n" + string.Join("\n", failures));
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        int[] normals = [.. Enumerable.Range(0, 30), .. Enumerable.Range(100, 20)];
        await WaitForAsync(() => normals.All(originComplete.ContainsKey), () => "origin never completed tunnels " + string.Join(",", normals.Where(n => !originComplete.ContainsKey(n))));
        Assert.True(originFailures.IsEmpty, "origin side:\n" + string.Join("\n", originFailures));
        await AssertNoSocketsHeldAsync(proxy, origin.Port);

        // One access-log line per tunnel: 10 silent + 40 + 30.
        const int tunnels = 80;
        await WaitForAsync(() => TunnelLines(proxy, "x.test") >= tunnels, () => $"{TunnelLines(proxy, "x.test")} tunnel lines, expected {tunnels}");
        await Task.Delay(200);
        Assert.Equal(tunnels, TunnelLines(proxy, "x.test"));
    }

    private static byte[] Header(int id, Role role)
    {
        byte[] header = new byte[5];
        BitConverter.TryWriteBytes(header.AsSpan(0, 4), id);
        header[4] = (byte)role;
        return header;
    }

    /// <summary>The origin half: a 5-byte header names the tunnel and its role; then each direction has its own stream.</summary>
    private static async Task StreamOriginAsync(NetworkStream stream, Socket socket, ConcurrentQueue<string> failures, ConcurrentDictionary<int, bool> complete)
    {
        byte[] header = new byte[5];
        await stream.ReadExactlyAsync(header);
        int id = BitConverter.ToInt32(header, 0);
        var role = (Role)header[4];
        switch (role)
        {
            case Role.Silent:
                await DrainQuietlyAsync(stream);
                return;
            case Role.OriginReset:
                await SendStreamAsync(stream, id, StreamSize / 4);
                socket.LingerState = new LingerOption(true, 0);
                socket.Close(); // RST mid-transfer
                return;
        }

        Task send = SendStreamAsync(stream, id, StreamSize);
        var checker = new StreamChecker(id, down: false);
        byte[] buffer = new byte[41_017];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                if (checker.Check(buffer.AsSpan(0, n)) is { } wrong)
                {
                    failures.Enqueue($"origin, tunnel {id} ({role}): {wrong}");
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                    return;
                }
            }

            await send;
            if (role == Role.Normal)
            {
                if (checker.Offset != StreamSize)
                {
                    failures.Enqueue($"origin, tunnel {id}: {checker.Offset} bytes up before the end, expected {StreamSize}");
                }

                complete[id] = true;
            }

            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            if (role == Role.Normal)
            {
                failures.Enqueue($"origin, tunnel {id}: {e.GetType().Name} {e.Message} after {checker.Offset} bytes up");
            }
        }
    }

    private static async Task SendStreamAsync(Stream stream, int id, int size, bool down = true)
    {
        byte[] chunk = new byte[29_989]; // odd: writes straddle every 64 KiB buffer and pipe boundary
        for (int sent = 0; sent < size;)
        {
            int n = Math.Min(chunk.Length, size - sent);
            TestStreams.Fill(chunk.AsSpan(0, n), id, down, sent);
            await stream.WriteAsync(chunk.AsMemory(0, n));
            sent += n;
        }
    }

    private static async Task DrainQuietlyAsync(Stream stream)
    {
        byte[] buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task TunnelClientAsync(TestProxy proxy, int port, int id, Role role, ConcurrentQueue<string> failures)
    {
        try
        {
            using RawClient client = await OpenTunnelAsync(proxy, "x.test", port);
            await client.SendAsync(Header(id, role));
            var checker = new StreamChecker(id, down: true);
            byte[] buffer = new byte[33_331];
            using var deadline = new CancellationTokenSource(NoHang);
            switch (role)
            {
                case Role.Normal:
                {
                    Task upload = SendStreamAsync(client.Stream, id, StreamSize, down: false).ContinueWith(t =>
                    {
                        t.GetAwaiter().GetResult();
                        client.ShutdownSend();
                    }, TaskScheduler.Default);
                    int n;
                    while ((n = await client.Stream.ReadAsync(buffer, deadline.Token)) > 0)
                    {
                        if (checker.Check(buffer.AsSpan(0, n)) is { } wrong)
                        {
                            failures.Enqueue($"client, tunnel {id}: {wrong}");
                            return;
                        }
                    }

                    await upload;
                    if (checker.Offset != StreamSize)
                    {
                        failures.Enqueue($"client, tunnel {id}: the tunnel ended after {checker.Offset} of {StreamSize} bytes down");
                    }

                    return;
                }

                case Role.ClientReset:
                {
                    Task upload = SendStreamAsync(client.Stream, id, 64 * 1024, down: false);
                    while (checker.Offset < 32 * 1024)
                    {
                        int n = await client.Stream.ReadAsync(buffer, deadline.Token);
                        if (n == 0)
                        {
                            failures.Enqueue($"client, tunnel {id}: EOF after {checker.Offset} bytes, before it reset");
                            return;
                        }

                        if (checker.Check(buffer.AsSpan(0, n)) is { } wrong)
                        {
                            failures.Enqueue($"client, tunnel {id}: {wrong}");
                            return;
                        }
                    }

                    await upload;
                    client.Socket.LingerState = new LingerOption(true, 0);
                    return; // disposed with linger 0: RST mid-transfer
                }

                default: // OriginReset: the bytes before the origin's RST are a prefix of ours, then the end
                {
                    try
                    {
                        int n;
                        while ((n = await client.Stream.ReadAsync(buffer, deadline.Token)) > 0)
                        {
                            if (checker.Check(buffer.AsSpan(0, n)) is { } wrong)
                            {
                                failures.Enqueue($"client, tunnel {id}: {wrong}");
                                return;
                            }
                        }
                    }
                    catch (IOException)
                    {
                        // reset passed on: the end
                    }

                    if (checker.Offset > StreamSize / 4)
                    {
                        failures.Enqueue($"client, tunnel {id}: {checker.Offset} bytes, more than the origin sent");
                    }

                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            failures.Enqueue($"client, tunnel {id} ({role}): hung for {NoHang.TotalSeconds} s");
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            failures.Enqueue($"client, tunnel {id} ({role}): {e.GetType().Name}: {e.Message}");
        }
    }

    private static async Task ExpectSilentEndAsync(RawClient client, ConcurrentQueue<string> failures)
    {
        byte[] got = await client.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
        if (got.Length != 0)
        {
            failures.Enqueue($"a silent tunnel received {got.Length} bytes nobody sent it");
        }
    }

    // ------------------------------------------------------------------ 2. reload storm

    [Fact]
    public async Task Two_hundred_reloads_alternating_the_idle_timeout_each_tunnel_keeps_its_own_and_only_silent_short_ones_close()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromMinutes(5) } });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        Sluice.Policy.Config.SluiceConfig basis = proxy.Server.CurrentConfig;

        var shortSilent = new List<RawClient>();
        var longSilent = new List<RawClient>();
        var active = new List<RawClient>();
        var pingFailures = new ConcurrentQueue<string>();
        using var stopPings = new CancellationTokenSource();
        var pings = new List<Task>();
        for (int i = 0; i < 200; i++)
        {
            bool isShort = i % 2 == 0;
            proxy.Server.Reload(basis with { Timeouts = basis.Timeouts with { Idle = isShort ? TimeSpan.FromSeconds(1) : TimeSpan.FromMinutes(5) } });
            Assert.Equal(isShort ? TimeSpan.FromSeconds(1) : TimeSpan.FromMinutes(5), proxy.Server.CurrentConfig.Timeouts.Idle);
            RawClient client = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
            if (i % 10 is 0 or 1)
            {
                active.Add(client);
                int n = i;
                pings.Add(Task.Run(() => PingAsync(client, n, pingFailures, stopPings.Token)));
            }
            else
            {
                (isShort ? shortSilent : longSilent).Add(client);
            }
        }

        // Every silent tunnel opened under 1 s is cut...
        await Task.WhenAll(shortSilent.Select(c => c.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
        // ...and those opened under five minutes, silent all along (longer than 1 s by now), are not.
        for (int i = 0; i < longSilent.Count; i++)
        {
            byte[] message = Encoding.ASCII.GetBytes($"L{i:D3}");
            await longSilent[i].SendAsync(message);
            Assert.Equal(message, await longSilent[i].ReadExactlyAsync(message.Length));
        }

        // Another storm with everything open: it touches nothing that is open.
        for (int i = 0; i < 200; i++)
        {
            proxy.Server.Reload(basis with { Timeouts = basis.Timeouts with { Idle = i % 2 == 0 ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromMinutes(5) } });
        }

        await Task.Delay(500);
        // While the pings still run, only the short silent ones have ended (lines are written in the background).
        Assert.Equal(80, shortSilent.Count);
        await WaitForAsync(() => TunnelLines(proxy, "echo.test") >= shortSilent.Count, () => $"{TunnelLines(proxy, "echo.test")} tunnel lines, expected {shortSilent.Count}");
        await Task.Delay(300);
        Assert.Equal(shortSilent.Count, TunnelLines(proxy, "echo.test"));
        await stopPings.CancelAsync(); // the active 1 s ones fall silent now, and will be cut too
        await Task.WhenAll(pings).WaitAsync(NoHang);
        Assert.True(pingFailures.IsEmpty, string.Join("\n", pingFailures));
        for (int i = 0; i < longSilent.Count; i++)
        {
            await longSilent[i].SendAsync("again");
            Assert.Equal("again", Encoding.ASCII.GetString(await longSilent[i].ReadExactlyAsync(5)));
        }

        foreach (RawClient client in shortSilent.Concat(longSilent).Concat(active))
        {
            client.Dispose();
        }

        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open after every client closed");
        await AssertNoSocketsHeldAsync(proxy, echo.Port);
        await WaitForAsync(() => TunnelLines(proxy, "echo.test") == 200, () => $"{TunnelLines(proxy, "echo.test")} tunnel lines, expected 200");
    }

    /// <summary>An origin that answers every request with 101 and then echoes.</summary>
    private static RawOrigin UpgradeEchoOrigin() => RawOrigin.Start(async (stream, _) =>
    {
        if (await StreamHeads.ReadHeadAsync(stream) is null)
        {
            return;
        }

        await stream.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"u8.ToArray());
        byte[] buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n));
        }
    });

    /// <summary>A WebSocket upgrade through the proxy to ws.test, answered 101.</summary>
    private static async Task<RawClient> OpenUpgradeAsync(TestProxy proxy, RawOrigin origin)
    {
        RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://ws.test:{origin.Port}/ws HTTP/1.1\r\nHost: ws.test:{origin.Port}\r\nConnection: Upgrade\r\n"
            + "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 101", await client.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds));
        return client;
    }

    private static async Task PingAsync(RawClient client, int n, ConcurrentQueue<string> failures, CancellationToken stop)
    {
        byte[] message = Encoding.ASCII.GetBytes($"p{n:D3}");
        int count = 0;
        DateTime lastSend = default;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                lastSend = DateTime.UtcNow;
                await client.SendAsync(message);
                byte[] back = await client.ReadExactlyAsync(message.Length, timeoutMs: (int)NoHang.TotalMilliseconds);
                if (!back.AsSpan().SequenceEqual(message))
                {
                    failures.Enqueue($"tunnel {n}: ping {count} came back as {Encoding.Latin1.GetString(back)}");
                    return;
                }

                count++;
                await Task.Delay(100, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or OperationCanceledException)
        {
            failures.Enqueue($"connection {n} (active): {e.GetType().Name} {e.Message} after {count} pings; now {DateTime.UtcNow:HH:mm:ss.fff}, last send {lastSend:HH:mm:ss.fff}");
        }
    }

    // ------------------------------------------------------------------ 3. stop during heavy traffic

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_stop_with_a_hundred_busy_tunnels_returns_cuts_every_one_and_leaves_nothing_open(bool splice)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(splice: splice, drain: TimeSpan.FromSeconds(2));
        proxy.Resolver.Map("busy.test", IPAddress.Loopback);

        const int count = 100;
        RawClient[] clients = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => OpenTunnelAsync(proxy, "busy.test", echo.Port)));
        using var flowing = new CountdownEvent(count);
        var ends = new Task<string>[count];
        for (int i = 0; i < count; i++)
        {
            RawClient client = clients[i];
            ends[i] = Task.Run(() => BusyAsync(client, flowing));
        }

        Assert.True(flowing.Wait(NoHang), $"{flowing.CurrentCount} tunnels never echoed");
        Assert.Equal(count, proxy.OpenConnections);

        var stopwatch = Stopwatch.StartNew();
        await proxy.StopAsync().WaitAsync(NoHang);
        Assert.True(stopwatch.Elapsed < NoHang, $"the stop took {stopwatch.Elapsed}");
        Assert.Equal(0, proxy.OpenConnections);
        Assert.Equal(count, proxy.Server.CutConnections);

        string[] outcomes = await Task.WhenAll(ends).WaitAsync(NoHang);
        Assert.All(outcomes, o => Assert.True(o is "eof" or "reset", o));
        foreach (RawClient client in clients)
        {
            client.Dispose();
        }

        Assert.Equal(count, TunnelLines(proxy, "busy.test")); // the log was flushed by the stop
        await AssertNoSocketsHeldAsync(proxy, echo.Port);
    }

    /// <summary>Writes and reads until the tunnel ends; says how it ended.</summary>
    private static async Task<string> BusyAsync(RawClient client, CountdownEvent flowing)
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        Task writer = Task.Run(async () =>
        {
            byte[] chunk = new byte[4096];
            Random.Shared.NextBytes(chunk);
            try
            {
                while (!giveUp.IsCancellationRequested)
                {
                    await client.Stream.WriteAsync(chunk, giveUp.Token);
                    await Task.Delay(2, giveUp.Token);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }
        });
        byte[] buffer = new byte[16 * 1024];
        bool counted = false;
        string outcome;
        try
        {
            while (true)
            {
                int n = await client.Stream.ReadAsync(buffer, giveUp.Token);
                if (n == 0)
                {
                    outcome = "eof";
                    break;
                }

                if (!counted)
                {
                    counted = true;
                    flowing.Signal();
                }
            }
        }
        catch (IOException)
        {
            outcome = "reset";
        }
        catch (OperationCanceledException)
        {
            outcome = "hung: neither EOF nor RST within 50 s";
        }

        await giveUp.CancelAsync();
        await writer;
        return outcome;
    }

    // ------------------------------------------------------------------ 4. a client that never reads

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_client_that_never_reads_a_50_MB_download_is_cut_by_the_idle_timeout_and_the_proxy_serves_others_meanwhile(bool splice)
    {
        const long total = 50L * 1024 * 1024;
        long originSent = 0;
        var originEnd = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stuckHandlerStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin flood = RawOrigin.Start(async (stream, _) =>
        {
            stuckHandlerStarted.TrySetResult();
            byte[] chunk = new byte[64 * 1024];
            try
            {
                while (Interlocked.Read(ref originSent) < total)
                {
                    await stream.WriteAsync(chunk);
                    Interlocked.Add(ref originSent, chunk.Length);
                }

                originEnd.TrySetResult(null);
            }
            catch (Exception e)
            {
                originEnd.TrySetResult(e);
                throw;
            }
        });
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } }, splice: splice);
        proxy.Resolver.Map("flood.test", IPAddress.Loopback).Map("echo.test", IPAddress.Loopback);

        using var stuck = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stuck.ConnectAsync(proxy.Endpoint);
        using var stuckStream = new NetworkStream(stuck, ownsSocket: false);
        await stuckStream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT flood.test:{flood.Port} HTTP/1.1\r\nHost: flood.test\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 200", await ReadHeadAsync(stuckStream));
        await stuckHandlerStarted.Task.WaitAsync(NoHang);

        // While that one is stuck, others are served.
        for (int i = 0; i < 3; i++)
        {
            using RawClient other = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
            await other.SendAsync($"hello{i}");
            Assert.Equal($"hello{i}", Encoding.ASCII.GetString(await other.ReadExactlyAsync(6)));
        }

        Exception? end = await originEnd.Task.WaitAsync(NoHang);
        Assert.True(end is not null, "the origin wrote all 50 MB to a client that reads nothing: something buffered it all");
        Assert.True(Interlocked.Read(ref originSent) < total);
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("flood.test"), "for the stuck tunnel cut by the idle timeout");

        // The client sees the end (after whatever was in its own buffer), not silence.
        using var deadline = new CancellationTokenSource(NoHang);
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (await stuckStream.ReadAsync(buffer, deadline.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
        }

        stuck.Dispose();
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await AssertNoSocketsHeldAsync(proxy, flood.Port, echo.Port);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_client_uploading_50_MB_to_an_origin_that_never_reads_is_cut_by_the_idle_timeout(bool splice)
    {
        const long total = 50L * 1024 * 1024;
        var originHolding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new CancellationTokenSource();
        await using RawOrigin sink = RawOrigin.Start(async (stream, socket) =>
        {
            socket.ReceiveBufferSize = 4096;
            originHolding.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, release.Token); // reads nothing, never closes
            }
            catch (OperationCanceledException)
            {
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } }, splice: splice);
        proxy.Resolver.Map("sink.test", IPAddress.Loopback);
        long written = 0;
        Exception? failure = null;
        try
        {
            using RawClient client = await OpenTunnelAsync(proxy, "sink.test", sink.Port);
            await originHolding.Task.WaitAsync(NoHang);
            byte[] chunk = new byte[64 * 1024];
            using var deadline = new CancellationTokenSource(NoHang);
            try
            {
                while (written < total)
                {
                    await client.Stream.WriteAsync(chunk, deadline.Token);
                    written += chunk.Length;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                failure = e;
            }
        }
        finally
        {
            await release.CancelAsync();
        }

        Assert.True(failure is IOException or SocketException, $"the upload ended with {failure?.GetType().Name ?? "nothing"} after {written} bytes: it should be cut (a reset), not hang or complete");
        Assert.True(written < total);
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("sink.test"), "for the stuck upload cut by the idle timeout");
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await AssertNoSocketsHeldAsync(proxy, sink.Port);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task A_half_closed_tunnel_whose_other_side_falls_silent_is_cut_by_the_idle_timeout(bool splice, bool clientCloses)
    {
        using var release = new CancellationTokenSource();
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await stream.WriteAsync("hi"u8.ToArray());
            if (!clientCloses)
            {
                socket.Shutdown(SocketShutdown.Send); // the origin is done sending, but stays open to read
            }

            byte[] buffer = new byte[4096];
            try
            {
                // reads what comes (the client's FIN too), then stays open and silent until released
                while (await stream.ReadAsync(buffer, release.Token) > 0)
                {
                }

                await Task.Delay(Timeout.Infinite, release.Token);
            }
            catch (OperationCanceledException)
            {
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } }, splice: splice);
        proxy.Resolver.Map("half.test", IPAddress.Loopback);
        try
        {
            using RawClient client = await OpenTunnelAsync(proxy, "half.test", origin.Port);
            Assert.Equal("hi", Encoding.ASCII.GetString(await client.ReadExactlyAsync(2)));
            if (clientCloses)
            {
                client.ShutdownSend(); // the client is done sending; the origin never answers nor closes
            }

            // Either way one direction has ended cleanly and the other is silent: the idle timeout must end it.
            await client.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
            await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("half.test"), "for the half-closed tunnel cut by the idle timeout");
        }
        finally
        {
            await release.CancelAsync();
        }

        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await AssertNoSocketsHeldAsync(proxy, origin.Port);
    }

    // ------------------------------------------------------------------ 5. the CONNECT 200

    [Fact]
    public async Task The_200_reaches_a_client_with_a_tiny_receive_window_and_the_tunnel_then_works()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("tiny.test", IPAddress.Loopback);
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1, NoDelay = true })
        {
            await socket.ConnectAsync(proxy.Endpoint);
            using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT tiny.test:{echo.Port} HTTP/1.1\r\nHost: tiny.test\r\n\r\n"));
            await Task.Delay(100); // the 200 sits against the tiny window before anything is read
            Assert.Equal("HTTP/1.1 200 Connection established\r\n\r\n", await ReadHeadAsync(stream));

            byte[] payload = new byte[200_000];
            TestStreams.Fill(payload, 7, down: false, 0);
            Task upload = Task.Run(async () =>
            {
                await stream.WriteAsync(payload);
                socket.Shutdown(SocketShutdown.Send);
            });
            using var back = new MemoryStream();
            byte[] buffer = new byte[1000];
            using var deadline = new CancellationTokenSource(NoHang);
            int n;
            while ((n = await stream.ReadAsync(buffer, deadline.Token)) > 0)
            {
                back.Write(buffer, 0, n);
            }

            await upload;
            Assert.True(back.ToArray().AsSpan().SequenceEqual(payload), $"echoed {back.Length} bytes, not the {payload.Length} sent");
        }

        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("tiny.test"), "for the tunnel");
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        Assert.Equal(1, TunnelLines(proxy, "tiny.test"));
        await AssertNoSocketsHeldAsync(proxy, echo.Port);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_client_that_half_closes_right_after_its_CONNECT_gets_the_200_then_the_end_and_one_log_line(bool splice)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(splice: splice);
        proxy.Resolver.Map("half.test", IPAddress.Loopback);
        for (int i = 0; i < 5; i++)
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync($"CONNECT half.test:{echo.Port} HTTP/1.1\r\nHost: half.test\r\n\r\nearly{i}");
            client.ShutdownSend();
            Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
            Assert.Equal($"early{i}", Encoding.ASCII.GetString(await client.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
        }

        await WaitForAsync(() => TunnelLines(proxy, "half.test") == 5, () => $"{TunnelLines(proxy, "half.test")} tunnel lines, expected 5");
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        Assert.All(proxy.AccessLog.Lines.Where(l => l.Contains("half.test")), l => Assert.Contains("TCP_TUNNEL/200", l));
        await AssertNoSocketsHeldAsync(proxy, echo.Port);
    }

    [Fact]
    public async Task Clients_that_reset_right_after_their_CONNECT_leave_one_log_line_per_dialled_tunnel_and_nothing_open()
    {
        const int rounds = 20;
        var origins = new RawOrigin[rounds];
        var accepted = new int[rounds];
        var reached = new TaskCompletionSource[rounds];
        try
        {
            for (int i = 0; i < rounds; i++)
            {
                int n = i;
                reached[n] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                origins[n] = RawOrigin.Start(async (stream, _) =>
                {
                    Interlocked.Increment(ref accepted[n]);
                    reached[n].TrySetResult();
                    await DrainQuietlyAsync(stream);
                });
            }

            await using TestProxy proxy = await TestProxy.StartAsync();
            for (int i = 0; i < rounds; i++)
            {
                proxy.Resolver.Map($"rst{i}.test", IPAddress.Loopback);
                var client = await RawClient.ConnectAsync(proxy.Endpoint);
                await client.SendAsync($"CONNECT rst{i}.test:{origins[i].Port} HTTP/1.1\r\nHost: rst{i}.test\r\n\r\n");
                if (i % 2 == 1)
                {
                    await reached[i].Task.WaitAsync(NoHang); // dialled: the 200 is going out about now
                }

                client.Socket.LingerState = new LingerOption(true, 0);
                client.Dispose(); // RST
            }

            await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
            await WaitForAsync(
                () => Enumerable.Range(0, rounds).All(i => TunnelLines(proxy, $"rst{i}.test") == Volatile.Read(ref accepted[i])),
                () => string.Join(", ", Enumerable.Range(0, rounds).Select(i => $"rst{i}: {Volatile.Read(ref accepted[i])} dialled, {TunnelLines(proxy, $"rst{i}.test")} lines")));
            await Task.Delay(300);
            for (int i = 0; i < rounds; i++)
            {
                Assert.True(Volatile.Read(ref accepted[i]) <= 1);
                Assert.Equal(Volatile.Read(ref accepted[i]), TunnelLines(proxy, $"rst{i}.test"));
            }

            Assert.All(Enumerable.Range(0, rounds).Where(i => i % 2 == 1), i => Assert.Equal(1, accepted[i]));
            Assert.Equal(0, proxy.OpenConnections);
            await AssertNoSocketsHeldAsync(proxy, [.. origins.Select(o => o.Port)]);

            // Still serving.
            await using RawOrigin echo = RawOrigin.Echo();
            proxy.Resolver.Map("after.test", IPAddress.Loopback);
            using RawClient after = await OpenTunnelAsync(proxy, "after.test", echo.Port);
            await after.SendAsync("still");
            Assert.Equal("still", Encoding.ASCII.GetString(await after.ReadExactlyAsync(5)));
        }
        finally
        {
            foreach (RawOrigin origin in origins)
            {
                await origin.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Bytes_pipelined_behind_the_CONNECT_head_arrive_in_order_across_the_buffered_part_and_the_socket_part(bool splice)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(splice: splice);
        proxy.Resolver.Map("pipe.test", IPAddress.Loopback);
        for (int round = 0; round < 3; round++)
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            byte[] head = Encoding.ASCII.GetBytes($"CONNECT pipe.test:{echo.Port} HTTP/1.1\r\nHost: pipe.test\r\n\r\n");
            byte[] payload = new byte[300_007 + round * 65_536];
            TestStreams.Fill(payload, 500 + round, down: false, 0);
            // Head and payload in one write, before the 200: part of the payload is read with the head (the early
            // bytes), the rest waits in the socket for the relay.
            Task send = Task.Run(async () =>
            {
                await client.SendAsync([.. head, .. payload]);
                client.ShutdownSend();
            });
            Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds));
            byte[] back = await client.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
            await send;
            Assert.Equal(payload.Length, back.Length);
            Assert.True(back.AsSpan().SequenceEqual(payload), $"round {round}: the echoed bytes differ from the pipelined ones");
        }

        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await AssertNoSocketsHeldAsync(proxy, echo.Port);
    }

    // ------------------------------------------------------------------ 6. dial timeouts

    [Fact]
    public async Task A_CONNECT_to_an_address_whose_backlog_is_full_gets_504_with_Proxy_Status_within_the_connect_timeout_and_leaves_no_socket()
    {
        using var hanging = new HangingListener();
        await hanging.FillAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Connect = TimeSpan.FromSeconds(1) } });
        proxy.Resolver.Map("hang.test", IPAddress.Loopback);

        var stopwatch = Stopwatch.StartNew();
        string[] heads = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync($"CONNECT hang.test:{hanging.Port} HTTP/1.1\r\nHost: hang.test\r\n\r\n");
            return await client.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
        }));
        Assert.True(stopwatch.Elapsed < NoHang);
        foreach (string head in heads)
        {
            Assert.StartsWith("HTTP/1.1 504", head);
            string status = head.Split("\r\n").Single(l => l.StartsWith("Proxy-Status:", StringComparison.OrdinalIgnoreCase));
            Assert.Contains("error=connection_timeout", status);
        }

        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await WaitForAsync(() => TcpTable.Connecting(hanging.Port) == 0, () => $"{TcpTable.Connecting(hanging.Port)} sockets still in SYN_SENT to the hanging address");
        await WaitForAsync(() => proxy.AccessLog.Lines.Count(l => l.Contains("hang.test") && l.Contains("/504")) == 5, () => "5 log lines with 504\n" + string.Join("\n", proxy.AccessLog.Lines));

        // The dial attempts really were hanging, not refused: the backlog is still full, and a new probe still hangs.
        Assert.True(await hanging.StillHangsAsync(), "the listener's backlog stopped swallowing connections");
    }

    [Fact]
    public async Task A_stop_while_a_CONNECT_hangs_in_its_dial_returns_and_closes_the_dialling_socket()
    {
        using var hanging = new HangingListener();
        await hanging.FillAsync();
        TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Connect = TimeSpan.FromMinutes(2) } }, drain: TimeSpan.FromSeconds(1));
        try
        {
            proxy.Resolver.Map("hang.test", IPAddress.Loopback);
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync($"CONNECT hang.test:{hanging.Port} HTTP/1.1\r\nHost: hang.test\r\n\r\n");
            await WaitForAsync(() => TcpTable.Connecting(hanging.Port) == 1, () => $"{TcpTable.Connecting(hanging.Port)} sockets in SYN_SENT, expected the proxy's one dial");

            var stopwatch = Stopwatch.StartNew();
            await proxy.StopAsync().WaitAsync(NoHang);
            Assert.True(stopwatch.Elapsed < NoHang);
            Assert.Equal(0, proxy.OpenConnections);
            await client.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds); // an answer or not, then the end: no hang
            await WaitForAsync(() => TcpTable.Connecting(hanging.Port) == 0, () => $"{TcpTable.Connecting(hanging.Port)} sockets still in SYN_SENT after the stop");
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    // ------------------------------------------------------------------ 7. upgraded connections on the same watch

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Upgraded_connections_silent_past_their_idle_timeout_are_cut_busy_ones_are_not_and_a_stop_cuts_the_rest(bool splice)
    {
        await using RawOrigin origin = UpgradeEchoOrigin();
        TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(2) } }, splice: splice, drain: TimeSpan.FromSeconds(1));
        try
        {
            proxy.Resolver.Map("ws.test", IPAddress.Loopback);
            var silent = new List<RawClient>();
            var busy = new List<RawClient>();
            var failures = new ConcurrentQueue<string>();
            using var stopPings = new CancellationTokenSource();
            var pings = new List<Task>();
            for (int i = 0; i < 20; i++)
            {
                RawClient client = await OpenUpgradeAsync(proxy, origin);
                if (i % 2 == 0)
                {
                    silent.Add(client);
                }
                else
                {
                    busy.Add(client);
                    int n = i;
                    pings.Add(Task.Run(() => PingAsync(client, n, failures, stopPings.Token)));
                }
            }

            await Task.WhenAll(silent.Select(c => c.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
            await WaitForAsync(() => proxy.AccessLog.Lines.Count(l => l.Contains("/101") && l.Contains("ws.test")) >= silent.Count, () => "lines for the silent upgrades\n" + string.Join("\n", proxy.AccessLog.Lines));
            await Task.Delay(300);
            Assert.True(failures.IsEmpty, string.Join("\n", failures));
            Assert.True(silent.Count == proxy.AccessLog.Lines.Count(l => l.Contains("/101") && l.Contains("ws.test")), "only the silent upgrades should have ended:\n" + string.Join("\n", proxy.AccessLog.Lines));

            // The busy ones are still pinging when the stop comes: it cuts them (their pings then fail, expected).
            var stopwatch = Stopwatch.StartNew();
            await proxy.StopAsync().WaitAsync(NoHang);
            Assert.True(stopwatch.Elapsed < NoHang);
            Assert.Equal(0, proxy.OpenConnections);
            await stopPings.CancelAsync();
            await Task.WhenAll(pings).WaitAsync(NoHang);
            await Task.WhenAll(busy.Select(c => c.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
            Assert.Equal(20, proxy.AccessLog.Lines.Count(l => l.Contains("/101") && l.Contains("ws.test")));
            foreach (RawClient client in silent.Concat(busy))
            {
                client.Dispose();
            }

            await AssertNoSocketsHeldAsync(proxy, origin.Port);
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Busy_upgraded_connections_with_no_silent_neighbour_are_never_cut(bool splice)
    {
        await using RawOrigin origin = UpgradeEchoOrigin();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(2) } }, splice: splice);
        proxy.Resolver.Map("ws.test", IPAddress.Loopback);
        var failures = new ConcurrentQueue<string>();
        using var stopPings = new CancellationTokenSource();
        var pings = new List<Task>();
        var clients = new List<RawClient>();
        for (int i = 0; i < 10; i++)
        {
            RawClient client = await OpenUpgradeAsync(proxy, origin);
            clients.Add(client);
            int n = i;
            pings.Add(Task.Run(() => PingAsync(client, n, failures, stopPings.Token)));
        }

        await Task.Delay(5000); // two and a half idle timeouts, every connection pinged every 100 ms
        await stopPings.CancelAsync();
        await Task.WhenAll(pings).WaitAsync(NoHang);
        Assert.True(failures.IsEmpty, "busy upgraded connections were cut:\n" + string.Join("\n", failures) + "\nlog:\n" + string.Join("\n", proxy.AccessLog.Lines));
        foreach (RawClient client in clients)
        {
            client.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Busy_CONNECT_tunnels_each_opened_right_after_a_silent_one_are_not_hurt_when_the_silent_ones_are_cut(bool splice)
    {
        // The same pattern as the upgrade test above (silent k, busy k+1, alternating), through CONNECT.
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } }, splice: splice);
        proxy.Resolver.Map("alt.test", IPAddress.Loopback);
        var failures = new ConcurrentQueue<string>();
        using var stopPings = new CancellationTokenSource();
        var pings = new List<Task>();
        var silent = new List<RawClient>();
        var busy = new List<RawClient>();
        for (int i = 0; i < 20; i++)
        {
            RawClient client = await OpenTunnelAsync(proxy, "alt.test", echo.Port);
            if (i % 2 == 0)
            {
                silent.Add(client);
            }
            else
            {
                busy.Add(client);
                int n = i;
                pings.Add(Task.Run(() => PingAsync(client, n, failures, stopPings.Token)));
            }
        }

        await Task.WhenAll(silent.Select(c => c.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
        await Task.Delay(500);
        await stopPings.CancelAsync();
        await Task.WhenAll(pings).WaitAsync(NoHang);
        Assert.True(failures.IsEmpty, "busy tunnels were cut when their silent neighbours were:\n" + string.Join("\n", failures));
        foreach (RawClient client in silent.Concat(busy))
        {
            client.Dispose();
        }
    }

    // ------------------------------------------------------------------ 8. a stop while tunnels are opening

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_stop_in_the_middle_of_a_storm_of_new_tunnels_leaves_no_tunnel_open_and_nothing_counted(bool splice)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        TestProxy proxy = await TestProxy.StartAsync(splice: splice, drain: TimeSpan.FromSeconds(1));
        var held = new ConcurrentQueue<RawClient>();
        var opened = 0;
        using var enough = new CancellationTokenSource();
        try
        {
            proxy.Resolver.Map("storm.test", IPAddress.Loopback);
            IPEndPoint endpoint = proxy.Endpoint;
            Task[] workers = [.. Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                while (!enough.IsCancellationRequested)
                {
                    RawClient client;
                    try
                    {
                        client = await RawClient.ConnectAsync(endpoint);
                    }
                    catch (SocketException)
                    {
                        return; // the listener is closed: the stop has begun
                    }

                    held.Enqueue(client); // whatever happens to it, it must end
                    try
                    {
                        await client.SendAsync($"CONNECT storm.test:{echo.Port} HTTP/1.1\r\nHost: storm.test\r\n\r\n");
                        if ((await client.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds)).StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
                        {
                            await client.SendAsync("x");
                            await client.ReadExactlyAsync(1);
                            Interlocked.Increment(ref opened);
                        }
                    }
                    catch (Exception e) when (e is IOException or SocketException or Xunit.Sdk.XunitException or EndOfStreamException)
                    {
                        // cut by the stop on the way in
                    }
                }
            }))];

            await WaitForAsync(() => Volatile.Read(ref opened) >= 100, () => $"only {Volatile.Read(ref opened)} tunnels opened");
            var stopwatch = Stopwatch.StartNew();
            Task stop = proxy.StopAsync();
            await stop.WaitAsync(NoHang);
            Assert.True(stopwatch.Elapsed < NoHang);
            await enough.CancelAsync();
            await Task.WhenAll(workers).WaitAsync(NoHang);
            Assert.Equal(0, proxy.OpenConnections);

            // Every client that got in, with a tunnel or halfway, sees the end: none is left holding a live tunnel.
            await Task.WhenAll(held.Select(c => c.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
            foreach (RawClient client in held)
            {
                client.Dispose();
            }

            await AssertNoSocketsHeldAsync(proxy, echo.Port);
        }
        finally
        {
            foreach (RawClient client in held)
            {
                client.Dispose();
            }

            await proxy.DisposeAsync();
        }
    }

    // ------------------------------------------------------------------ 9. refused connections in the count

    [Fact]
    public async Task Connections_refused_over_the_per_client_limit_leave_the_count_and_a_stop_does_not_wait_for_them()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        TestProxy proxy = await TestProxy.StartAsync(c => c with { Limits = c.Limits with { MaxConnectionsPerClient = 4 } }, drain: TimeSpan.FromSeconds(20));
        try
        {
            proxy.Resolver.Map("lim.test", IPAddress.Loopback);
            RawClient[] tunnels = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => OpenTunnelAsync(proxy, "lim.test", echo.Port)));
            string[] refused = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
            {
                using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
                await client.SendAsync($"CONNECT lim.test:{echo.Port} HTTP/1.1\r\nHost: lim.test\r\n\r\n");
                return Encoding.Latin1.GetString(await client.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds));
            }));
            Assert.All(refused, r => Assert.True(r.Length == 0 || r.StartsWith("HTTP/1.1 429", StringComparison.Ordinal), r));
            await WaitForAsync(() => proxy.OpenConnections == 4, () => $"{proxy.OpenConnections} open, expected the 4 tunnels");

            foreach (RawClient tunnel in tunnels)
            {
                tunnel.ShutdownSend(); // a clean end each: the echo origin half-closes back
                await tunnel.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
                tunnel.Dispose();
            }

            await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
            // Nothing open: the stop must not sit out its 20 s drain.
            var stopwatch = Stopwatch.StartNew();
            await proxy.StopAsync().WaitAsync(NoHang);
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"a stop with nothing open took {stopwatch.Elapsed}: it waited for the drain");
            Assert.Equal(0, proxy.Server.CutConnections);
            await AssertNoSocketsHeldAsync(proxy, echo.Port);
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_hanging_addresses_raced_within_the_connect_timeout_give_504_and_leave_no_socket()
    {
        using var first = new HangingListener();
        using var second = new HangingListener(IPAddress.Parse("127.0.0.2"), first.Port);
        await first.FillAsync();
        await second.FillAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Connect = TimeSpan.FromSeconds(1) } });
        proxy.Resolver.Map("hang2.test", IPAddress.Loopback, IPAddress.Parse("127.0.0.2"));
        using (RawClient client = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await client.SendAsync($"CONNECT hang2.test:{first.Port} HTTP/1.1\r\nHost: hang2.test\r\n\r\n");
            string head = await client.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
            Assert.StartsWith("HTTP/1.1 504", head);
            Assert.Contains("error=connection_timeout", head);
        }

        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await WaitForAsync(() => TcpTable.Connecting(first.Port) == 0, () => $"{TcpTable.Connecting(first.Port)} sockets still in SYN_SENT to the hanging addresses");
    }

    // ------------------------------------------------------------------ 10. tunnel slots across every way a tunnel ends

    [Fact]
    public async Task Tunnel_slots_come_back_after_idle_cuts_dial_timeouts_and_clients_that_reset_before_the_200()
    {
        using var hanging = new HangingListener();
        await hanging.FillAsync();
        var dialled = new SemaphoreSlim(0);
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            dialled.Release();
            byte[] buffer = new byte[4096];
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n));
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with
        {
            Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1), Connect = TimeSpan.FromSeconds(1) },
            Limits = c.Limits with { MaxTunnelsPerClient = 2 },
        });
        proxy.Resolver.Map("slot.test", IPAddress.Loopback);

        async Task TwoTunnelsStillOpenAsync(string why)
        {
            await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open ({why})");
            using RawClient a = await RawClient.ConnectAsync(proxy.Endpoint);
            using RawClient b = await RawClient.ConnectAsync(proxy.Endpoint);
            foreach (RawClient c in new[] { a, b })
            {
                await c.SendAsync($"CONNECT slot.test:{origin.Port} HTTP/1.1\r\nHost: slot.test\r\n\r\n");
                string head = await c.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
                Assert.True(head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), $"after {why}, a tunnel within the limit got\n{head}");
            }

            // ...and the limit itself still holds with both open.
            using RawClient third = await RawClient.ConnectAsync(proxy.Endpoint);
            await third.SendAsync($"CONNECT slot.test:{origin.Port} HTTP/1.1\r\nHost: slot.test\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 429", await third.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds));
            a.Socket.LingerState = new LingerOption(true, 0);
            b.Socket.LingerState = new LingerOption(true, 0);
        }

        // Idle cuts.
        RawClient[] idle = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => OpenTunnelAsync(proxy, "slot.test", origin.Port)));
        await Task.WhenAll(idle.Select(c => c.ReadToEndAsync(timeoutMs: (int)NoHang.TotalMilliseconds)));
        foreach (RawClient c in idle)
        {
            c.Dispose();
        }

        await TwoTunnelsStillOpenAsync("two idle cuts");

        // Dial timeouts (once the two just reset are gone: their slots come back when their sessions end).
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        for (int i = 0; i < 2; i++)
        {
            using RawClient c = await RawClient.ConnectAsync(proxy.Endpoint);
            await c.SendAsync($"CONNECT slot.test:{hanging.Port} HTTP/1.1\r\nHost: slot.test\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 504", await c.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds));
        }

        await TwoTunnelsStillOpenAsync("two dial timeouts");

        // Clients that reset as soon as their tunnel was dialled (the 200 going out, or just gone out).
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        while (dialled.CurrentCount > 0)
        {
            await dialled.WaitAsync();
        }

        for (int i = 0; i < 4; i++)
        {
            // A reset tunnel's slot comes back when its session has noticed the reset and ended, not at once: wait
            // for that, or the third CONNECT here is (rightly) answered 429 and never dialled.
            await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open after reset {i}");
            RawClient c = await RawClient.ConnectAsync(proxy.Endpoint);
            await c.SendAsync($"CONNECT slot.test:{origin.Port} HTTP/1.1\r\nHost: slot.test\r\n\r\n");
            Assert.True(await dialled.WaitAsync(NoHang));
            c.Socket.LingerState = new LingerOption(true, 0);
            c.Dispose();
        }

        await TwoTunnelsStillOpenAsync("four resets right after the dial");
        await WaitForAsync(() => proxy.OpenConnections == 0, () => $"{proxy.OpenConnections} connections still open");
        await AssertNoSocketsHeldAsync(proxy, origin.Port);
    }

    // ------------------------------------------------------------------ helpers

    private static async Task<RawClient> OpenTunnelAsync(TestProxy proxy, string host, int port)
    {
        RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        string head = await client.ReadHeadAsync(timeoutMs: (int)NoHang.TotalMilliseconds);
        Assert.StartsWith("HTTP/1.1 200", head);
        return client;
    }

    private static int TunnelLines(TestProxy proxy, string host) => proxy.AccessLog.Lines.Count(l => l.Contains("TCP_TUNNEL/200") && l.Contains(host + ":"));

    private static async Task<string> ReadHeadAsync(Stream stream)
    {
        using var cts = new CancellationTokenSource(NoHang);
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, cts.Token) == 0)
            {
                throw new Xunit.Sdk.XunitException($"closed before a complete head; got: {head}");
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    /// <summary>Once everything is closed, the proxy holds no socket from a client or to an origin (no leak).</summary>
    private static Task AssertNoSocketsHeldAsync(TestProxy proxy, params int[] originPorts)
    {
        int port = proxy.Endpoint.Port;
        return WaitForAsync(() => TcpTable.Held(port, originPorts).Count == 0, () => "sockets still held:\n" + string.Join("\n", TcpTable.Held(port, originPorts)));
    }

    private static async Task WaitForAsync(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + NoHang;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"not within {NoHang.TotalSeconds} s: {what()}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Checks one direction's bytes against the stream it must carry, offset by offset.</summary>
    private sealed class StreamChecker(int id, bool down)
    {
        private byte[] _expected = [];

        public long Offset { get; private set; }

        /// <returns>Null when the bytes are the next of this tunnel's stream; else what is wrong.</returns>
        public string? Check(ReadOnlySpan<byte> got)
        {
            if (_expected.Length < got.Length)
            {
                _expected = new byte[got.Length];
            }

            Span<byte> expected = _expected.AsSpan(0, got.Length);
            TestStreams.Fill(expected, id, down, Offset);
            if (!got.SequenceEqual(expected))
            {
                int at = 0;
                while (got[at] == expected[at])
                {
                    at++;
                }

                return $"byte {Offset + at} of the {(down ? "down" : "up")} stream is {got[at]:x2}, expected {expected[at]:x2}" +
                    (TestStreams.WhoseBytes(got[at..], Offset + at, down) is { } other ? $" (they are tunnel {other}'s)" : "");
            }

            Offset += got.Length;
            return null;
        }
    }

    /// <summary>Pseudo-random streams, one per tunnel and direction, computable at any offset.</summary>
    private static class TestStreams
    {
        private static ulong Mix(ulong x)
        {
            x += 0x9E3779B97F4A7C15;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
            return x ^ (x >> 31);
        }

        private static ulong Key(int id, bool down) => ((ulong)(uint)id << 33) | (down ? 1UL << 32 : 0);

        public static void Fill(Span<byte> span, int id, bool down, long offset)
        {
            ulong key = Key(id, down);
            for (int i = 0; i < span.Length;)
            {
                long at = offset + i;
                ulong word = Mix(key ^ (ulong)(at >> 3));
                for (int shift = (int)(at & 7); shift < 8 && i < span.Length; shift++, i++)
                {
                    span[i] = (byte)(word >> (shift * 8));
                }
            }
        }

        /// <summary>Whether 16 bytes at a position are another tunnel's (at some offset of its stream, same or not).</summary>
        public static int? WhoseBytes(ReadOnlySpan<byte> got, long offset, bool down)
        {
            if (got.Length < 16)
            {
                return null;
            }

            Span<byte> probe = stackalloc byte[16];
            foreach (int id in Enumerable.Range(0, 200).Concat(Enumerable.Range(1000, 10)))
            {
                foreach (bool d in new[] { down, !down })
                {
                    TestStreams.Fill(probe, id, d, offset);
                    if (got[..16].SequenceEqual(probe))
                    {
                        return id;
                    }
                }
            }

            return null;
        }
    }

    /// <summary>
    /// A loopback listener with backlog 1 that never accepts, its queue filled first: a connect to it then waits for
    /// a SYN-ACK that never comes (the kernel drops SYNs to a full accept queue), which is a hanging dial on loopback.
    /// </summary>
    private sealed class HangingListener : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _fillers = [];
        private readonly IPAddress _address;

        public HangingListener(IPAddress? address = null, int port = 0)
        {
            _address = address ?? IPAddress.Loopback;
            _listener.Bind(new IPEndPoint(_address, port));
            _listener.Listen(1);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public async Task FillAsync()
        {
            for (int i = 0; i < 16; i++)
            {
                if (!await TryConnectAsync())
                {
                    return;
                }
            }

            throw new InvalidOperationException("the backlog never filled: connects to a listener that never accepts kept succeeding");
        }

        public async Task<bool> StillHangsAsync() => !await TryConnectAsync();

        private async Task<bool> TryConnectAsync()
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            Task connect = socket.ConnectAsync(new IPEndPoint(_address, Port));
            if (await Task.WhenAny(connect, Task.Delay(TimeSpan.FromSeconds(1))) == connect && connect.IsCompletedSuccessfully)
            {
                _fillers.Add(socket);
                return true;
            }

            socket.Dispose(); // the probe that hung: closed, so it is not counted as anyone's dial
            _ = connect.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return false;
        }

        public void Dispose()
        {
            foreach (Socket filler in _fillers)
            {
                filler.Dispose();
            }

            _listener.Dispose();
        }
    }

    /// <summary>The kernel's table of IPv4 TCP sockets (this network namespace): sockets still connecting to a port.</summary>
    private static class TcpTable
    {
        public static int Connecting(int port)
        {
            if (!OperatingSystem.IsLinux())
            {
                return 0;
            }

            string portHex = port.ToString("X4", CultureInfo.InvariantCulture);
            int count = 0;
            foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
            {
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // fields: sl, local, remote, state (02 = SYN_SENT)
                if (fields.Length > 3 && fields[3] == "02" && fields[2].EndsWith(":" + portHex, StringComparison.Ordinal))
                {
                    count++;
                }
            }

            return count;
        }

        /// <summary>
        /// Sockets some process still holds (an inode: not orphaned, not TIME_WAIT) that the proxy opened: accepted on
        /// its port, or dialled to one of the origins' ports.
        /// </summary>
        public static List<string> Held(int proxyPort, IEnumerable<int> originPorts)
        {
            var held = new List<string>();
            if (!OperatingSystem.IsLinux())
            {
                return held;
            }

            string proxyHex = ":" + proxyPort.ToString("X4", CultureInfo.InvariantCulture);
            string[] originHex = [.. originPorts.Select(p => ":" + p.ToString("X4", CultureInfo.InvariantCulture))];
            foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || f[9] == "0" || f[3] == "0A")
                {
                    continue;
                }

                if (f[1].EndsWith(proxyHex, StringComparison.Ordinal) || originHex.Any(o => f[2].EndsWith(o, StringComparison.Ordinal)))
                {
                    held.Add($"{f[1]} -> {f[2]} state {f[3]}");
                }
            }

            return held;
        }
    }
}
