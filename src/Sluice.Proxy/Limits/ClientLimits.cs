using System.Collections.Concurrent;
using System.Net;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Limits;

/// <summary>Which limit refused a client: the label in metrics and the word in the 429/503 body.</summary>
internal enum LimitKind
{
    Connections,
    ConnectionsPerClient,
    TunnelsPerClient,
    RequestRate,

    /// <summary><c>limits.perDestination.requestsPerSecond</c> (<see cref="DestinationLimits"/>).</summary>
    DestinationRate,

    /// <summary><c>limits.perDestination.tunnels</c>.</summary>
    DestinationTunnels,
}

/// <summary>
/// Per-client-address accounting: open connections, open tunnels, and a token bucket for the request rate. An
/// over-limit client is refused quickly; other clients are not slowed down (no shared lock on the hot path).
/// </summary>
internal sealed class ClientLimits : IDisposable
{
    private readonly ConcurrentDictionary<IPAddress, ClientState> _clients = new();
    private readonly Timer _sweeper;
    private int _connections;

    public ClientLimits() => _sweeper = new Timer(_ => Sweep(), null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Counts a new connection, or says which limit refuses it (and counts nothing).</summary>
    public LimitKind? TryOpenConnection(IPAddress client, LimitsConfig limits)
    {
        if (Interlocked.Increment(ref _connections) > limits.MaxConnections)
        {
            Interlocked.Decrement(ref _connections);
            return LimitKind.Connections;
        }

        ClientState state = State(client);
        if (Interlocked.Increment(ref state.Connections) > limits.MaxConnectionsPerClient)
        {
            Interlocked.Decrement(ref state.Connections);
            Interlocked.Decrement(ref _connections);
            return LimitKind.ConnectionsPerClient;
        }

        return null;
    }

    public void CloseConnection(IPAddress client)
    {
        Interlocked.Decrement(ref _connections);
        Interlocked.Decrement(ref State(client).Connections);
    }

    public bool TryOpenTunnel(IPAddress client, LimitsConfig limits)
    {
        ClientState state = State(client);
        if (Interlocked.Increment(ref state.Tunnels) > limits.MaxTunnelsPerClient)
        {
            Interlocked.Decrement(ref state.Tunnels);
            return false;
        }

        return true;
    }

    public void CloseTunnel(IPAddress client) => Interlocked.Decrement(ref State(client).Tunnels);

    /// <summary>Takes a token for one request; when none is left, how long until one is.</summary>
    public TimeSpan TryTakeRequest(IPAddress client, LimitsConfig limits)
    {
        int rate = limits.RequestsPerSecondPerClient;
        if (rate <= 0)
        {
            return TimeSpan.Zero;
        }

        int burst = limits.RequestBurstPerClient > 0 ? limits.RequestBurstPerClient : rate * 2;
        ClientState state = State(client);
        lock (state)
        {
            long now = Environment.TickCount64;
            state.Tokens = state.LastRefill == 0 ? burst : Math.Min(burst, state.Tokens + ((now - state.LastRefill) * rate / 1000.0));
            state.LastRefill = now;
            if (state.Tokens >= 1)
            {
                state.Tokens -= 1;
                return TimeSpan.Zero;
            }

            return TimeSpan.FromSeconds((1 - state.Tokens) / rate);
        }
    }

    public void Dispose() => _sweeper.Dispose();

    private ClientState State(IPAddress client) => _clients.GetOrAdd(client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client, _ => new ClientState());

    // Forget clients with nothing open and a bucket that has been full for a while.
    private void Sweep()
    {
        long now = Environment.TickCount64;
        foreach ((IPAddress address, ClientState state) in _clients)
        {
            if (Volatile.Read(ref state.Connections) == 0 && Volatile.Read(ref state.Tunnels) == 0 && now - state.LastRefill > 60_000)
            {
                _clients.TryRemove(new KeyValuePair<IPAddress, ClientState>(address, state));
            }
        }
    }

    private sealed class ClientState
    {
        public int Connections;
        public int Tunnels;
        public double Tokens;
        public long LastRefill;
    }
}
