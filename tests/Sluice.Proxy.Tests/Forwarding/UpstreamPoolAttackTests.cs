using System.Collections.Concurrent;
using System.Net.Sockets;
using Sluice.Proxy.Transport;
using Sluice.Proxy.Tests.Parents;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Tests.Forwarding;

/// <summary>
/// Attacks on the upstream pool with real loopback connections: takers, the idle watch, the sweep, a reload and the
/// pool's disposal racing each other, and origins that speak or close right as a connection goes back or comes out.
/// Every taker here behaves as the forwarder does: it awaits the connection's pending receive before reading.
/// </summary>
public sealed class UpstreamPoolAttackTests : IAsyncDisposable
{
    private const string Key = PooledConnections.Key;
    private static readonly TimeSpan LongIdle = PooledConnections.LongIdle;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20); // a loaded 2-core machine can be slow to deliver a close
    private readonly PooledConnections _kit = new();

    [Fact]
    public async Task A_sweep_racing_takers_that_empty_the_stack_does_not_throw_nor_hand_a_connection_out_twice()
    {
        // One connection, taken and given back as fast as its origin answers, while sweeps run back to back: the stack
        // goes empty between the sweep's look at it and its count, and the sweep must take that in its stride (it runs
        // on a timer, where an exception ends the process).
        await using var pool = new UpstreamPool(maxPerHost: 4, LongIdle);
        Connection[] connections = await _kit.OpenAsync(1);
        using var stop = new CancellationTokenSource();
        Task[] echoes = [.. _kit.OriginSides.Select(side => EchoAsync(side, stop.Token))];
        pool.Return(Key, connections[0]);

        var held = new ConcurrentDictionary<Connection, bool>();
        int exchanges = 0;
        Task taker = Task.Run(async () =>
        {
            try
            {
                while (Volatile.Read(ref exchanges) < 5_000 && !stop.IsCancellationRequested)
                {
                    if (pool.TryTake(Key) is not { } connection)
                    {
                        continue; // the sweep holds it for a moment
                    }

                    Assert.True(held.TryAdd(connection, true), "a connection was handed out twice");
                    await ExchangeAsync(connection);
                    Assert.True(held.TryRemove(connection, out _));
                    pool.Return(Key, connection);
                    Interlocked.Increment(ref exchanges);
                }
            }
            finally
            {
                await stop.CancelAsync();
            }
        });

        Task sweeper = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                pool.Sweep(Environment.TickCount64);
            }
        });

        Exception? failure = await Record.ExceptionAsync(() => Task.WhenAll(taker, sweeper));
        await stop.CancelAsync();
        Assert.Null(failure);
        Assert.Same(connections[0], pool.TryTake(Key)); // the one connection carried every exchange
        connections[0].Dispose();
        await Task.WhenAll(echoes);
    }

    [Fact]
    public async Task Connections_returned_while_the_pool_is_disposed_are_all_closed()
    {
        // A session that outlives the drain gives its connection back while DisposeAsync empties the pool: whichever
        // runs first, no connection may stay open in a pool nobody sweeps any more.
        for (int round = 0; round < 20; round++)
        {
            var pool = new UpstreamPool(maxPerHost: 64, LongIdle);
            Connection[] connections = await _kit.OpenAsync(8);
            using var start = new Barrier(connections.Length + 1);
            Task[] returns = [.. connections.Select(connection => Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait();
                    pool.Return(Key, connection);
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default))];
            Task disposal = Task.Factory.StartNew(
                async () =>
                {
                    start.SignalAndWait();
                    await pool.DisposeAsync();
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default).Unwrap();
            await Task.WhenAll([.. returns, disposal]);

            Assert.Null(pool.TryTake(Key));
            Assert.All(connections, c => Assert.True(c.Socket.SafeHandle.IsClosed, $"round {round}: a connection stayed open in a disposed pool"));
        }
    }

    [Fact]
    public async Task A_flood_then_silence_shrinks_the_pool_to_the_limit_within_two_sweeps()
    {
        // Forty connections in use at once, each carrying a few exchanges, all back in the pool; then nothing.
        await using var pool = new UpstreamPool(maxPerHost: 3, LongIdle);
        Connection[] connections = await _kit.OpenAsync(40);
        using var stop = new CancellationTokenSource();
        Task[] echoes = [.. _kit.OriginSides.Select(side => EchoAsync(side, stop.Token))];
        PooledConnections.ReturnAll(pool, connections);

        await Task.WhenAll(Enumerable.Range(0, connections.Length).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 5; i++)
            {
                Connection? connection;
                while ((connection = pool.TryTake(Key)) is null)
                {
                    await Task.Yield(); // another one is on its way back
                }

                await ExchangeAsync(connection);
                pool.Return(Key, connection);
            }
        })));

        long silence = Environment.TickCount64;
        pool.Sweep(silence + 1_000); // the first sweep after the flood: everything came back since the last one
        pool.Sweep(silence + 6_000);

        List<Connection> kept = PooledConnections.TakeAll(pool);
        Assert.Equal(3, kept.Count);
        foreach (Connection connection in kept)
        {
            await ExchangeAsync(connection); // the ones kept still work
        }

        Assert.Equal(connections.Length - 3, connections.Count(c => c.Socket.SafeHandle.IsClosed));
        await stop.CancelAsync();
        foreach (Connection connection in connections)
        {
            connection.Dispose();
        }

        await Task.WhenAll(echoes);
    }

    [Fact]
    public async Task A_reload_lowering_the_limit_or_turning_pooling_off_is_applied_by_the_sweep()
    {
        await using var pool = new UpstreamPool(maxPerHost: 8, LongIdle);
        Connection[] connections = await _kit.OpenAsync(6);
        PooledConnections.ReturnAll(pool, connections);

        pool.Configure(2, LongIdle);
        pool.Sweep(Environment.TickCount64 + 6_000);
        Assert.Equal(4, connections.Count(c => c.Socket.SafeHandle.IsClosed));

        pool.Configure(0, LongIdle);
        pool.Sweep(Environment.TickCount64 + 6_000);
        Assert.All(connections, c => Assert.True(c.Socket.SafeHandle.IsClosed));
        Assert.Null(pool.TryTake(Key));

        Connection[] later = await _kit.OpenAsync(1);
        pool.Return(Key, later[0]); // pooling is off now
        Assert.True(later[0].Socket.SafeHandle.IsClosed);
    }

    [Fact]
    public async Task A_connection_the_origin_closed_or_spoke_on_before_it_came_back_is_never_handed_out()
    {
        await using var pool = new UpstreamPool(maxPerHost: 8, LongIdle);
        Connection[] connections = await _kit.OpenAsync(3);
        _kit.OriginSides[0].Shutdown(SocketShutdown.Send); // FIN
        await _kit.OriginSides[1].SendAsync("x"u8.ToArray()); // a stray byte
        _kit.OriginSides[2].LingerState = new LingerOption(true, 0);
        _kit.OriginSides[2].Close(); // RST
        await ParentKit.EventuallyAsync(() => connections[0].Socket.Poll(0, SelectMode.SelectRead) && connections[1].Socket.Available == 1
            && connections[2].Socket.Poll(0, SelectMode.SelectRead), "the FIN, the byte and the reset arriving", Patience);

        PooledConnections.ReturnAll(pool, connections);

        Assert.Null(pool.TryTake(Key));
        await ParentKit.EventuallyAsync(() => connections.All(c => c.Socket.SafeHandle.IsClosed), "the pool closing every connection", Patience);
    }

    [Fact]
    public async Task A_connection_the_origin_closes_or_speaks_on_while_idle_is_closed_by_its_watch_not_handed_out()
    {
        await using var pool = new UpstreamPool(maxPerHost: 8, LongIdle);
        Connection[] connections = await _kit.OpenAsync(2);
        PooledConnections.ReturnAll(pool, connections);

        _kit.OriginSides[0].Shutdown(SocketShutdown.Send);
        await _kit.OriginSides[1].SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray()); // a late tail
        await ParentKit.EventuallyAsync(() => connections.All(c => c.Socket.SafeHandle.IsClosed), "the pool closing every connection", Patience);
        Assert.Null(pool.TryTake(Key));
        pool.Sweep(Environment.TickCount64 + 6_000); // the dead entries go without a fuss
        Assert.Null(pool.TryTake(Key));
    }

    [Fact]
    public async Task One_connection_carries_many_exchanges_whose_answers_come_in_two_writes()
    {
        // The origin answers in two writes and the taker reads both at once: the readiness event left behind wakes
        // the idle watch with nothing to read, and the connection must stay.
        await using var pool = new UpstreamPool(maxPerHost: 1, LongIdle);
        Connection[] connections = await _kit.OpenAsync(1);
        using var stop = new CancellationTokenSource();
        Task echo = EchoAsync(_kit.OriginSides[0], stop.Token, split: true);
        pool.Return(Key, connections[0]);
        for (int i = 0; i < 200; i++)
        {
            Connection connection = Assert.IsType<Connection>(pool.TryTake(Key));
            Assert.Same(connections[0], connection);
            await ExchangeAsync(connection, answer: 2);
            pool.Return(Key, connection);
        }

        Assert.Same(connections[0], pool.TryTake(Key));
        await stop.CancelAsync();
        connections[0].Dispose();
        await echo;
    }

    [Fact]
    public async Task The_pool_disposed_under_load_closes_every_connection_and_takes_none_back()
    {
        var pool = new UpstreamPool(maxPerHost: 4, LongIdle);
        Connection[] connections = await _kit.OpenAsync(12);
        using var stop = new CancellationTokenSource();
        Task[] echoes = [.. _kit.OriginSides.Select(side => EchoAsync(side, stop.Token))];
        PooledConnections.ReturnAll(pool, connections);

        int exchanges = 0;
        Task[] takers = [.. Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (pool.TryTake(Key) is not { } connection)
                {
                    await Task.Yield();
                    continue;
                }

                try
                {
                    await ExchangeAsync(connection);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    connection.Dispose();
                    continue;
                }

                pool.Return(Key, connection);
                Interlocked.Increment(ref exchanges);
            }
        }))];

        await ParentKit.EventuallyAsync(() => Volatile.Read(ref exchanges) > 200, "200 exchanges", Patience);
        await pool.DisposeAsync();
        await ParentKit.EventuallyAsync(() => Volatile.Read(ref exchanges) > 0 && connections.All(c => c.Socket.SafeHandle.IsClosed), "the disposed pool closing every connection", Patience);
        await stop.CancelAsync();
        await Task.WhenAll(takers);
        Assert.All(connections, c => Assert.True(c.Socket.SafeHandle.IsClosed));
        await Task.WhenAll(echoes);
    }

    public ValueTask DisposeAsync() => _kit.DisposeAsync();

    // What a forwarder does with a pooled connection: send, await the pending idle receive, read the whole answer.
    private static async Task ExchangeAsync(Connection connection, int answer = 1)
    {
        await connection.Socket.SendAsync("?"u8.ToArray());
        await connection.AwaitPendingReadAsync(CancellationToken.None);
        byte[] buffer = new byte[answer];
        int read = 0;
        while (read < answer)
        {
            int n = await connection.Socket.ReceiveAsync(buffer.AsMemory(read));
            if (n == 0)
            {
                throw new IOException("the origin closed");
            }

            read += n;
        }
    }

    // The origin's side: one answer per byte asked for, in one write or two.
    private static async Task EchoAsync(Socket side, CancellationToken stop, bool split = false)
    {
        byte[] one = new byte[1];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (await side.ReceiveAsync(one, stop) == 0)
                {
                    return;
                }

                if (split)
                {
                    side.NoDelay = true;
                    await side.SendAsync("a"u8.ToArray(), stop);
                    await side.SendAsync("b"u8.ToArray(), stop);
                }
                else
                {
                    await side.SendAsync("!"u8.ToArray(), stop);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
