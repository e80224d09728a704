using Sluice.Proxy.Transport;
using Sluice.Proxy.Tests.Parents;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Tests.Forwarding;

/// <summary>
/// The upstream pool with real loopback connections: the limit per host is what stays once the load is gone (the
/// sweep trims to it), never a reason to close a warm connection coming back under load.
/// </summary>
public sealed class UpstreamPoolTests : IAsyncDisposable
{
    private const string Key = PooledConnections.Key;
    private static readonly TimeSpan LongIdle = PooledConnections.LongIdle;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20); // a loaded 2-core machine can be slow to deliver a close
    private readonly PooledConnections _kit = new();

    [Fact]
    public async Task Connections_coming_back_beyond_the_limit_are_all_kept_while_they_are_in_use()
    {
        await using var pool = new UpstreamPool(maxPerHost: 2, LongIdle);
        Connection[] returned = await _kit.OpenAsync(6);
        PooledConnections.ReturnAll(pool, returned);

        Assert.Equal(returned.Reverse(), PooledConnections.TakeAll(pool)); // last returned first: the warmest
    }

    [Fact]
    public async Task A_sweep_closes_the_connections_beyond_the_limit_that_stayed_idle_longest_first()
    {
        await using var pool = new UpstreamPool(maxPerHost: 2, LongIdle);
        Connection[] returned = await _kit.OpenAsync(5);
        PooledConnections.ReturnAll(pool, returned);

        pool.Sweep(Environment.TickCount64 + 6_000); // none taken since the last sweep

        Assert.Equal([returned[4], returned[3]], PooledConnections.TakeAll(pool));
        Assert.All(returned[..3], c => Assert.Throws<ObjectDisposedException>(() => c.Socket.Available));
    }

    [Fact]
    public async Task A_sweep_keeps_connections_beyond_the_limit_that_came_back_since_the_last_sweep()
    {
        await using var pool = new UpstreamPool(maxPerHost: 2, LongIdle);
        Connection[] returned = await _kit.OpenAsync(5);
        PooledConnections.ReturnAll(pool, returned);

        pool.Sweep(Environment.TickCount64); // a working set under load: all just returned

        Assert.Equal(5, PooledConnections.TakeAll(pool).Count);
    }

    [Fact]
    public async Task A_sweep_counts_only_usable_connections_against_the_limit()
    {
        await using var pool = new UpstreamPool(maxPerHost: 2, LongIdle);
        Connection[] returned = await _kit.OpenAsync(3);
        PooledConnections.ReturnAll(pool, returned);

        _kit.OriginSides[2].Close(); // the origin closes the newest: the pool's watch drops it
        await ParentKit.EventuallyAsync(() => returned[2].Socket.SafeHandle.IsClosed, "the watch closing the connection its origin closed", Patience);

        pool.Sweep(Environment.TickCount64 + 6_000);

        Assert.Equal([returned[1], returned[0]], PooledConnections.TakeAll(pool)); // two usable: at the limit, none trimmed
    }

    [Fact]
    public async Task The_taker_of_a_pooled_connection_goes_on_where_its_answer_arrived_not_on_a_pool_thread()
    {
        // The idle watch and the taker wait on the same receive. Were the watch an await too, the runtime would queue
        // the taker's (the second awaiter's) continuation, the rest of its request, to the thread pool: a hand-off
        // and a thread wake-up per request. With inline socket completions (the suite runs as `sluice run` does) the
        // taker goes on on the socket engine's own thread.
        await using var pool = new UpstreamPool(maxPerHost: 4, LongIdle);
        Connection[] returned = await _kit.OpenAsync(1);
        pool.Return(Key, returned[0]);
        Connection taken = Assert.IsType<Connection>(pool.TryTake(Key));

        var where = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task TakeAnswerAsync()
        {
            await taken.AwaitPendingReadAsync(CancellationToken.None).ConfigureAwait(false);
            where.SetResult(Thread.CurrentThread.IsThreadPoolThread);
        }

        Task taker = TakeAnswerAsync();
        Assert.False(where.Task.IsCompleted); // still waiting for the origin
        await _kit.OriginSides[0].SendAsync("H"u8.ToArray());

        Assert.False(await where.Task.WaitAsync(TimeSpan.FromSeconds(20)), "the taker's continuation was queued to the thread pool");
        await taker;
    }

    [Fact]
    public async Task With_the_limit_at_zero_nothing_is_pooled()
    {
        await using var pool = new UpstreamPool(maxPerHost: 0, LongIdle);
        Connection[] returned = await _kit.OpenAsync(1);

        pool.Return(Key, returned[0]);

        Assert.Null(pool.TryTake(Key));
        Assert.Throws<ObjectDisposedException>(() => returned[0].Socket.Available);
    }

    public ValueTask DisposeAsync() => _kit.DisposeAsync();
}
