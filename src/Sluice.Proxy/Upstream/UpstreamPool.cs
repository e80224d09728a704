using System.Collections.Concurrent;
using System.Net.Sockets;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Upstream;

/// <summary>
/// Idle keep-alive connections to origins, by host and port (the target's <c>host:port</c>, or a parent's key). A connection is handed out only if it has been
/// idle for less than the configured time and the origin has not closed it or sent unsolicited bytes.
/// </summary>
/// <remarks>
/// <para>
/// The limit per host is what stays once the load is gone, not a ceiling under load: a connection coming back is
/// always kept, and the sweep closes the ones beyond the limit that nobody took since the sweep before, longest idle
/// first. Under load the connections in flight and the ones idle between two requests of their clients are one
/// working set (500 concurrent requests to one origin need 500 connections, some idle at any moment); closing warm
/// connections at a count would dial them again moments later. The connections kept are bounded all the same: by the
/// requests in flight at once (every idle connection carried one), and for longer than two sweeps by the limit.
/// </para>
/// <para>
/// Every idle connection keeps a zero-byte receive pending: the moment the origin sends anything (bytes no request
/// asked for, or its FIN) the connection is closed and can never be handed out, so a late tail of one response is
/// never read as the answer to the next request. The receive holds no buffer. A connection is claimed by exactly
/// one of the taker and that watch, through <see cref="Connection.PoolState"/>.
/// </para>
/// </remarks>
internal sealed class UpstreamPool : IAsyncDisposable
{
    private const int InUse = 0;
    private const int Idle = 1;
    private const int Dead = 2;

    // The idle watch looking at the socket after its receive completed; it leaves the state Idle or Dead.
    private const int Checking = 3;

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, ConcurrentStack<Connection>> _idle = new(StringComparer.Ordinal);
    private readonly Timer _sweeper;
    private volatile int _maxPerHost;
    private volatile bool _disposed;
    private long _maxIdleTicks;

    public UpstreamPool(int maxPerHost, TimeSpan maxIdle)
    {
        Configure(maxPerHost, maxIdle);
        _sweeper = new Timer(_ => Sweep(Environment.TickCount64), null, SweepInterval, SweepInterval);
    }

    public void Configure(int maxPerHost, TimeSpan maxIdle)
    {
        _maxPerHost = maxPerHost;
        Interlocked.Exchange(ref _maxIdleTicks, (long)maxIdle.TotalMilliseconds);
    }

    public Connection? TryTake(string key)
    {
        if (!_idle.TryGetValue(key, out ConcurrentStack<Connection>? stack))
        {
            return null;
        }

        while (stack.TryPop(out Connection? connection))
        {
            // The watch holds the connection only for a Poll and a new receive: wait that out rather than lose it.
            var spin = default(SpinWait);
            int state;
            while ((state = Interlocked.CompareExchange(ref connection.PoolState, InUse, Idle)) == Checking)
            {
                spin.SpinOnce();
            }

            if (state == Idle && IsUsable(connection, Environment.TickCount64))
            {
                return connection;
            }

            connection.Dispose();
        }

        return null;
    }

    public void Return(string key, Connection connection)
    {
        if (_disposed)
        {
            connection.Dispose(); // a session that outlived the server's drain
            return;
        }

        if (_maxPerHost == 0)
        {
            connection.Dispose(); // pooling is off
            return;
        }

        ConcurrentStack<Connection> stack = _idle.GetOrAdd(key, _ => new ConcurrentStack<Connection>());
        connection.IdleSinceTicks = Environment.TickCount64;
        Watch(connection, connection.Socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).AsTask());
        stack.Push(connection);

        // DisposeAsync may have emptied the pool between the check above and the push, and the connection would stay
        // open in a pool nobody sweeps. The push is a full fence and DisposeAsync fences after setting its flag, so at
        // least one of the two sees the connection in the stack and closes it.
        if (_disposed)
        {
            CloseAll(stack);
        }
    }

    /// <summary>
    /// Closes the connection as soon as anything arrives while it is idle. When the connection has been taken in the
    /// meantime, the same receive is its taker's first wait for the response (<see cref="Connection.PendingRead"/>),
    /// so the socket never has two receives at once; a zero-byte receive consumes no data.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The watch is a synchronous continuation (<c>ContinueWith</c>, <see cref="TaskContinuationOptions.ExecuteSynchronously"/>),
    /// not an awaiting method: when a task has two continuations and the second is an await, the runtime queues that
    /// await to the thread pool rather than run it on the completing thread. The taker's await is the rest of its
    /// request (the response head, the relay, the next request's read): as a second awaiter it moved every request on
    /// a pooled connection from the socket thread to a pool thread, a hand-off and a thread wake-up per request. A
    /// synchronous <c>ContinueWith</c> is not counted as a first continuation, so the taker's await runs inline.
    /// </para>
    /// <para>
    /// A completed zero-byte receive does not prove there is anything to read: on Linux it completes on a readiness
    /// event, and an event left over from the last response (an origin that wrote its head and body in two writes,
    /// both read at once) completes it at once. So the socket is asked (Poll) before the connection is closed, and an
    /// empty wake-up starts a new watch.
    /// </para>
    /// </remarks>
    private static void Watch(Connection connection, Task<int> idleRead)
    {
        connection.PendingRead = idleRead; // before the connection can be taken: its taker awaits this receive
        Volatile.Write(ref connection.PoolState, Idle);
        idleRead.ContinueWith(OnIdleReceive, connection, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static readonly Action<Task<int>, object?> OnIdleReceive = static (idleRead, state) =>
    {
        var connection = (Connection)state!;
        _ = idleRead.Exception; // observed: a receive ended by the close is expected
        if (Interlocked.CompareExchange(ref connection.PoolState, Checking, Idle) != Idle)
        {
            return; // taken (the taker awaits the same receive) or already dead
        }

        if (!ReferenceEquals(connection.PendingRead, idleRead))
        {
            // A watch attached after the connection was taken, used and returned (its receive had completed by then):
            // that idle period is over, and the one the connection is in has its own watch.
            Volatile.Write(ref connection.PoolState, Idle);
            return;
        }

        if (idleRead.IsCompletedSuccessfully && !Readable(connection))
        {
            try
            {
                Watch(connection, connection.Socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).AsTask());
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        Volatile.Write(ref connection.PoolState, Dead);
        connection.Dispose();
    };

    // Readable while idle means the origin closed (EOF) or sent bytes nobody asked for: unusable either way.
    private static bool Readable(Connection connection)
    {
        try
        {
            return connection.Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        Interlocked.MemoryBarrier(); // before looking at the stacks: a Return pushing meanwhile sees the flag (see Return)
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        foreach (ConcurrentStack<Connection> stack in _idle.Values)
        {
            CloseAll(stack);
        }
    }

    // Whoever pops a connection owns it (no taker can have it), so it is closed as it is.
    private static void CloseAll(ConcurrentStack<Connection> stack)
    {
        while (stack.TryPop(out Connection? connection))
        {
            connection.Dispose();
        }
    }

    private bool IsUsable(Connection connection, long now)
    {
        if (now - connection.IdleSinceTicks > Interlocked.Read(ref _maxIdleTicks))
        {
            return false;
        }

        // The idle watch's zero-byte receive completes on the first readiness event: while it has not, nothing arrived
        // (no FIN, no stray byte) and the socket need not be asked. A close racing the next request is the same race
        // as one just after a Poll, and the forwarder retries it on a fresh connection where that is safe.
        return connection.PendingRead is { IsCompleted: false } || !Readable(connection);
    }

    /// <summary>
    /// Closes what is no longer usable (idle too long, closed or written to by the origin), and of the rest, the ones
    /// beyond the limit per host that were not taken since the last sweep, longest idle first. <paramref name="now"/>
    /// is <see cref="Environment.TickCount64"/>'s clock (tests pass a later one).
    /// </summary>
    internal void Sweep(long now)
    {
        int keep = _maxPerHost;
        long warm = (long)SweepInterval.TotalMilliseconds;
        foreach (ConcurrentStack<Connection> stack in _idle.Values)
        {
            if (stack.IsEmpty)
            {
                continue;
            }

            // Take everything, keep what is still usable, in the same order: the bottom of the stack (the end of the
            // array) has been idle longest, since takers pop from the top.
            var all = new Connection[stack.Count];
            int n = stack.TryPopRange(all);
            int usable = 0; // counts the ones a watch is looking at: if a watch then finds its connection dead, fewer than the limit stay until the next load
            for (int i = 0; i < n; i++)
            {
                if (Volatile.Read(ref all[i].PoolState) is Idle or Checking)
                {
                    usable++;
                }
            }

            for (int i = n - 1; i >= 0; i--)
            {
                Connection connection = all[i];
                int state = Volatile.Read(ref connection.PoolState);
                bool excess = usable > keep && now - connection.IdleSinceTicks >= warm;
                if (state == Checking || (state == Idle && !excess && IsUsable(connection, now)))
                {
                    stack.Push(connection); // a connection its watch is looking at stays for the watch (or the next sweep) to judge
                    continue;
                }

                int claimed = Interlocked.CompareExchange(ref connection.PoolState, Dead, Idle);
                if (claimed == Checking)
                {
                    stack.Push(connection); // its watch started meanwhile: the next sweep judges it again
                    continue;
                }

                connection.Dispose(); // ours to close (it was Idle), or closed already by its watch (Dead): Dispose is idempotent
                if (claimed == Idle)
                {
                    usable--;
                }
            }

            // Empty stacks stay: removing one could race with a Return that already holds it and strand a
            // connection outside the pool. The keys are bounded by the destinations in use.
        }
    }
}
