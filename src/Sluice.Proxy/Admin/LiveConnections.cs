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
}

/// <summary>The connections open now, for the status page and /api/connections.</summary>
internal sealed class LiveConnections
{
    private readonly ConcurrentDictionary<long, LiveConnection> _open = new();
    private long _nextId;

    public int Count => _open.Count;

    public IReadOnlyList<LiveConnection> Snapshot() => _open.Values.OrderBy(c => c.Id).ToList();

    internal LiveConnection Add(Connection connection)
    {
        var live = new LiveConnection(Interlocked.Increment(ref _nextId), connection);
        _open[live.Id] = live;
        return live;
    }

    internal void Remove(LiveConnection live) => _open.TryRemove(live.Id, out _);
}
