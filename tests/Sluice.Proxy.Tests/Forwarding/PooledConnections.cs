using System.Net;
using System.Net.Sockets;
using Sluice.Proxy.Transport;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Tests.Forwarding;

/// <summary>
/// What the upstream pool's tests give it: real loopback connections to one listener standing in for an origin, whose
/// accepted sides the test holds (to make the origin answer, close or reset), all closed when the test ends.
/// </summary>
internal sealed class PooledConnections : IAsyncDisposable
{
    /// <summary>The pool key every connection here goes back under.</summary>
    public const string Key = "origin.test:80";

    /// <summary>An idle timeout no test waits for.</summary>
    public static readonly TimeSpan LongIdle = TimeSpan.FromMinutes(5);

    private readonly TcpListener _origin = new(IPAddress.Loopback, 0);

    public PooledConnections() => _origin.Start();

    /// <summary>The origin's side of each connection opened, in the order opened.</summary>
    public List<Socket> OriginSides { get; } = [];

    public async Task<Connection[]> OpenAsync(int count)
    {
        var connections = new Connection[count];
        for (int i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync((IPEndPoint)_origin.LocalEndpoint);
            OriginSides.Add(await _origin.AcceptSocketAsync());
            connections[i] = Connection.FromSocket(socket);
        }

        return connections;
    }

    /// <summary>Takes every connection the pool holds under <see cref="Key"/>, in the order it hands them out.</summary>
    public static List<Connection> TakeAll(UpstreamPool pool)
    {
        var taken = new List<Connection>();
        while (pool.TryTake(Key) is { } connection)
        {
            taken.Add(connection);
        }

        return taken;
    }

    public static void ReturnAll(UpstreamPool pool, IEnumerable<Connection> connections)
    {
        foreach (Connection connection in connections)
        {
            pool.Return(Key, connection);
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (Socket socket in OriginSides)
        {
            socket.Dispose();
        }

        _origin.Stop();
        return ValueTask.CompletedTask;
    }
}
