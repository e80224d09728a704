using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Tests.Tunnels;

/// <summary>
/// Tunnels keep their idle timeout on the server's one idle watch, not on a timer of their own: traffic keeps a
/// tunnel open past its timeout, silence closes it, each tunnel keeps the timeout it started with across a reload,
/// and a stop or a cut reaches both connections. Through real sockets, in both relay modes.
/// </summary>
public sealed class IdleWatchTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_tunnel_that_keeps_moving_bytes_outlives_its_idle_timeout_and_closes_once_silent(bool splice)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        // A 2 s timeout and a message every 200 ms: the margin is wide because the suite's other test processes can
        // starve this one of the CPU for a second on a 2-core machine (a 1 s timeout was cut there once).
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(2) } }, splice: splice);
        using RawClient client = await OpenTunnelAsync(proxy, echo);

        // Two and a half times the idle timeout, never idle for more than a fraction of it.
        for (int i = 0; i < 25; i++)
        {
            await client.SendAsync($"ping{i:D2}");
            Assert.Equal($"ping{i:D2}", Encoding.ASCII.GetString(await client.ReadExactlyAsync(6)));
            await Task.Delay(200);
        }

        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains("TCP_TUNNEL/200"));
        await client.ReadToEndAsync(timeoutMs: 30_000); // silent now: cut after its two seconds
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("echo.test"), "for the tunnel ended by the idle timeout");
    }

    [Fact]
    public async Task Each_tunnel_keeps_the_idle_timeout_it_started_with_across_a_reload()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromMinutes(5) } });
        using RawClient patient = await OpenTunnelAsync(proxy, echo);

        proxy.Server.Reload(proxy.Server.CurrentConfig with { Timeouts = proxy.Server.CurrentConfig.Timeouts with { Idle = TimeSpan.FromMilliseconds(400) } });
        using RawClient hasty = await OpenTunnelAsync(proxy, echo);
        await hasty.ReadToEndAsync(timeoutMs: 30_000); // the new tunnel is cut after its 400 ms...
        await Task.Delay(500);

        await patient.SendAsync("still"); // ...the one opened before the reload still has its five minutes
        Assert.Equal("still", Encoding.ASCII.GetString(await patient.ReadExactlyAsync(5)));
    }

    [Fact]
    public async Task A_relay_that_is_disposed_is_no_longer_watched_and_is_never_cut()
    {
        using var stopping = new CancellationTokenSource();
        using var watch = new IdleWatch(stopping.Token);
        using var pair = await SocketPair.OpenAsync();
        IdleWatch.Watched watched = watch.Watch(pair.Left, pair.Right, TimeSpan.FromMilliseconds(50));
        Assert.Equal(1, watch.Count);
        watched.Dispose();
        Assert.Equal(0, watch.Count);

        await Task.Delay(200);
        watch.Sweep();
        Assert.False(watched.IsCut);
        await pair.AssertOpenAsync();
    }

    [Fact]
    public async Task A_silent_relay_is_cut_both_ways_and_a_busy_one_is_not()
    {
        using var stopping = new CancellationTokenSource();
        using var watch = new IdleWatch(stopping.Token);
        using var silent = await SocketPair.OpenAsync();
        using var busy = await SocketPair.OpenAsync();
        using IdleWatch.Watched quiet = watch.Watch(silent.Left, silent.Right, TimeSpan.FromMilliseconds(300));
        using IdleWatch.Watched active = watch.Watch(busy.Left, busy.Right, TimeSpan.FromMilliseconds(300));
        for (int i = 0; i < 10; i++)
        {
            active.Touch();
            await Task.Delay(60);
        }

        // 600 ms: the silent relay was cut by the watch's own timer, the busy one was touched every 60 ms.
        await silent.AssertResetAsync();
        Assert.True(quiet.IsCut);
        Assert.False(active.IsCut);
        await busy.AssertOpenAsync();
    }

    [Fact]
    public async Task A_stop_cuts_every_relay_and_one_watched_after_it_at_once()
    {
        using var stopping = new CancellationTokenSource();
        using var watch = new IdleWatch(stopping.Token);
        using var before = await SocketPair.OpenAsync();
        using var after = await SocketPair.OpenAsync();
        using IdleWatch.Watched first = watch.Watch(before.Left, before.Right, TimeSpan.FromHours(1));
        await stopping.CancelAsync();
        Assert.True(first.IsCut);
        await before.AssertResetAsync();

        using IdleWatch.Watched late = watch.Watch(after.Left, after.Right, TimeSpan.FromHours(1));
        Assert.True(late.IsCut);
        await after.AssertResetAsync();
    }

    private static async Task<RawClient> OpenTunnelAsync(TestProxy proxy, RawOrigin echo)
    {
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        return client;
    }

    /// <summary>
    /// Two proxy-side connections (Left, Right), each the accepted end of a loopback socket whose client end the test
    /// holds, so the test sees what a cut does to the peers.
    /// </summary>
    private sealed class SocketPair : IDisposable
    {
        private readonly Socket[] _peers;

        private SocketPair(Connection left, Connection right, Socket[] peers)
        {
            Left = left;
            Right = right;
            _peers = peers;
        }

        public Connection Left { get; }

        public Connection Right { get; }

        public static async Task<SocketPair> OpenAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(2);
            var peers = new Socket[2];
            var accepted = new Connection[2];
            for (int i = 0; i < 2; i++)
            {
                peers[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await peers[i].ConnectAsync(listener.LocalEndPoint!);
                accepted[i] = Connection.FromSocket(await listener.AcceptAsync());
            }

            return new SocketPair(accepted[0], accepted[1], peers);
        }

        /// <summary>Both peers see a reset (or at least the end), not silence.</summary>
        public async Task AssertResetAsync()
        {
            foreach (Socket peer in _peers)
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    int read = await peer.ReceiveAsync(new byte[16], SocketFlags.None, deadline.Token);
                    Assert.Equal(0, read);
                }
                catch (SocketException e)
                {
                    Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
                }
            }
        }

        /// <summary>Both connections still carry bytes to their peers.</summary>
        public async Task AssertOpenAsync()
        {
            foreach ((Connection side, Socket peer) in new[] { (Left, _peers[0]), (Right, _peers[1]) })
            {
                await side.Stream.WriteAsync("ok"u8.ToArray());
                byte[] got = new byte[2];
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                Assert.Equal(2, await peer.ReceiveAsync(got, SocketFlags.None, deadline.Token));
            }
        }

        public void Dispose()
        {
            Left.Dispose();
            Right.Dispose();
            foreach (Socket peer in _peers)
            {
                peer.Dispose();
            }
        }
    }
}
