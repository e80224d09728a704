using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Tests.Resolution;

/// <summary>
/// A UDP relay in front of a name server that holds each query for <see cref="Delay"/> before passing it on, so a
/// lookup is in flight long enough for other requests to arrive during it. It relays bytes; it reads no DNS.
/// With <see cref="Silent"/> it never answers at all: a name server that does not respond.
/// </summary>
public sealed class SlowRelay : IDisposable
{
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly IPEndPoint? _server;
    private readonly CancellationTokenSource _stop = new();

    private SlowRelay(IPEndPoint? server)
    {
        _server = server;
        _ = RunAsync();
    }

    public static SlowRelay To(IPEndPoint server) => new(server);

    public static SlowRelay Silent() => new(null);

    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(3);

    public IPEndPoint Endpoint => (IPEndPoint)_socket.Client.LocalEndPoint!;

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult query;
            try
            {
                query = await _socket.ReceiveAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (_server is not null)
            {
                _ = RelayAsync(query);
            }
        }
    }

    private async Task RelayAsync(UdpReceiveResult query)
    {
        try
        {
            await Task.Delay(Delay, _stop.Token);
            using var upstream = new UdpClient(AddressFamily.InterNetwork);
            await upstream.SendAsync(query.Buffer, _server!, _stop.Token);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            UdpReceiveResult answer = await upstream.ReceiveAsync(timeout.Token);
            await _socket.SendAsync(answer.Buffer, query.RemoteEndPoint, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }
}
