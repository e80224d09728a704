using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Sluice.Proxy.Upstream;

/// <summary>
/// Idle keep-alive connections to origins, by host and port. A connection is handed out only if it has been
/// idle for less than the configured time and the origin has not closed it or sent unsolicited bytes.
/// </summary>
internal sealed class UpstreamPool : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConcurrentStack<Connection>> _idle = new(StringComparer.Ordinal);
    private readonly Timer _sweeper;
    private volatile int _maxPerHost;
    private volatile bool _disposed;
    private long _maxIdleTicks;

    public UpstreamPool(int maxPerHost, TimeSpan maxIdle)
    {
        Configure(maxPerHost, maxIdle);
        _sweeper = new Timer(_ => Sweep(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
    }

    public void Configure(int maxPerHost, TimeSpan maxIdle)
    {
        _maxPerHost = maxPerHost;
        Interlocked.Exchange(ref _maxIdleTicks, (long)maxIdle.TotalMilliseconds);
    }

    public static string Key(string host, int port) => $"{host}:{port}";

    public Connection? TryTake(string key)
    {
        if (!_idle.TryGetValue(key, out ConcurrentStack<Connection>? stack))
        {
            return null;
        }

        while (stack.TryPop(out Connection? connection))
        {
            if (IsUsable(connection))
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

        ConcurrentStack<Connection> stack = _idle.GetOrAdd(key, _ => new ConcurrentStack<Connection>());
        if (stack.Count >= _maxPerHost)
        {
            connection.Dispose();
            return;
        }

        connection.IdleSinceTicks = Environment.TickCount64;
        stack.Push(connection);
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        foreach (ConcurrentStack<Connection> stack in _idle.Values)
        {
            while (stack.TryPop(out Connection? connection))
            {
                connection.Dispose();
            }
        }
    }

    private bool IsUsable(Connection connection)
    {
        if (Environment.TickCount64 - connection.IdleSinceTicks > Interlocked.Read(ref _maxIdleTicks))
        {
            return false;
        }

        try
        {
            // Readable while idle means the origin closed (EOF) or sent bytes nobody asked for: unusable either way.
            return !connection.Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private void Sweep()
    {
        foreach (ConcurrentStack<Connection> stack in _idle.Values)
        {
            if (stack.IsEmpty)
            {
                continue;
            }

            // Take everything, keep what is still usable, in the same order.
            var all = new Connection[stack.Count];
            int n = stack.TryPopRange(all);
            for (int i = n - 1; i >= 0; i--)
            {
                if (IsUsable(all[i]))
                {
                    stack.Push(all[i]);
                }
                else
                {
                    all[i].Dispose();
                }
            }

            // Empty stacks stay: removing one could race with a Return that already holds it and strand a
            // connection outside the pool. The keys are bounded by the destinations in use.
        }
    }
}
