using System.Collections.Concurrent;
using System.Net;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Admin;

/// <summary>One open client connection as the status page shows it. Fields change as requests pass through it.</summary>
internal sealed class LiveConnection
{
    private readonly Connection _connection;

    internal LiveConnection(long id, Connection connection)
    {
        Id = id;
        _connection = connection;
        Opened = DateTimeOffset.UtcNow;
    }

    public long Id { get; }

    public IPEndPoint Client => _connection.Remote;

    public DateTimeOffset Opened { get; }

    public string? User { get; internal set; }

    /// <summary>The destination of the current or last request: host:port.</summary>
    public string? Destination { get; internal set; }

    public string? Rule { get; internal set; }

    /// <summary><c>http</c> while forwarding requests, <c>tunnel</c> once it carries a CONNECT or WebSocket tunnel.</summary>
    public string Kind { get; internal set; } = "http";

    public long BytesFromClient => _connection.Input.BytesRead;

    public long BytesToClient => _connection.Stream.BytesWritten;

    // Of this connection's bytes, those the traffic history has taken already.
    private long _taken;

    /// <summary>
    /// Bytes both ways since the last call, for the traffic history: called by its sampler while the connection is
    /// open and once more when it closes. The mark only moves up, so however the two race, each byte is returned once.
    /// </summary>
    internal long TakeBytes()
    {
        long total = BytesFromClient + BytesToClient;
        long taken = Volatile.Read(ref _taken);
        while (total > taken)
        {
            long seen = Interlocked.CompareExchange(ref _taken, total, taken);
            if (seen == taken)
            {
                return total - taken;
            }

            taken = seen;
        }

        return 0;
    }
}

/// <summary>The connections open now, for the status page and /api/connections.</summary>
internal sealed class LiveConnections
{
    private readonly ConcurrentDictionary<long, LiveConnection> _open = new();
    private long _nextId;

    // Bytes of connections closed since the traffic history last took them.
    private long _closedBytes;

    public int Count => _open.Count;

    public IReadOnlyList<LiveConnection> Snapshot() => _open.Values.OrderBy(c => c.Id).ToList();

    internal LiveConnection Add(Connection connection)
    {
        var live = new LiveConnection(Interlocked.Increment(ref _nextId), connection);
        _open[live.Id] = live;
        return live;
    }

    internal void Remove(LiveConnection live)
    {
        _open.TryRemove(live.Id, out _);
        Interlocked.Add(ref _closedBytes, live.TakeBytes());
    }

    /// <summary>
    /// Bytes to and from clients since the last call: what each open connection moved since, and what the connections
    /// closed meanwhile had left. One caller (the traffic history's sampler); a walk over the open connections, no copy.
    /// </summary>
    public long TakeBytes()
    {
        long bytes = Interlocked.Exchange(ref _closedBytes, 0);
        foreach (KeyValuePair<long, LiveConnection> open in _open)
        {
            bytes += open.Value.TakeBytes();
        }

        return bytes;
    }
}
