using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>A plain TCP server on 127.0.0.1:0 that runs a test-supplied handler per connection (echo, half-close, ...).</summary>
public sealed class RawOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<NetworkStream, Socket, Task> _handler;
    private readonly Task _loop;
    private readonly List<Task> _handlers = [];

    private RawOrigin(Func<NetworkStream, Socket, Task> handler)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static RawOrigin Start(Func<NetworkStream, Socket, Task> handler) => new(handler);

    /// <summary>Echoes every byte; when the client half-closes, finishes echoing then half-closes too.</summary>
    public static RawOrigin Echo() => Start(async (stream, socket) =>
    {
        byte[] buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n));
        }

        socket.Shutdown(SocketShutdown.Send);
    });

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) // stopped between two accepts
            {
                return;
            }

            lock (_handlers)
            {
                _handlers.Add(Task.Run(async () =>
                {
                    using var stream = new NetworkStream(socket, ownsSocket: true);
                    try
                    {
                        await _handler(stream, socket);
                    }
                    catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                    {
                    }
                }));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
    }
}
