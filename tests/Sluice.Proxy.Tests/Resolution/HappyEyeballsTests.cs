using System.Net;
using System.Net.Sockets;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Transport;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Tests.Resolution;

/// <summary>
/// Happy Eyeballs in <see cref="TcpConnector"/> through real sockets: an IPv6 listener whose accept queue is full (its
/// SYNs are dropped, so a connect to it hangs) listed before an IPv4 listener on the same port that accepts.
/// </summary>
public sealed class HappyEyeballsTests : IDisposable
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);

    private readonly List<Socket> _sockets = [];

    public void Dispose()
    {
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }
    }

    [Fact]
    public async Task A_hanging_first_address_does_not_spend_the_budget_the_next_family_connects()
    {
        int port = FullIPv6ListenerWithIPv4Beside(out Socket v4);

        using Connection connected = await TcpConnector.ConnectAsync([IPAddress.IPv6Loopback, IPAddress.Loopback], port, "dual.test", Budget, Budget, CancellationToken.None);

        Assert.Equal(IPAddress.Loopback, connected.Remote.Address);
        Assert.Equal(connected.Remote, connected.Socket.RemoteEndPoint);
        using Socket accepted = await v4.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(accepted);
    }

    [Fact]
    public async Task A_refused_first_address_hands_over_at_once()
    {
        Socket v4 = Listen(new IPEndPoint(IPAddress.Loopback, 0), 16);
        int port = ((IPEndPoint)v4.LocalEndPoint!).Port; // nothing listens on [::1] at this port: refused

        using Connection connected = await TcpConnector.ConnectAsync([IPAddress.IPv6Loopback, IPAddress.Loopback], port, "dual.test", Budget, Budget, CancellationToken.None);

        Assert.Equal(IPAddress.Loopback, connected.Remote.Address);
        Assert.Equal(connected.Remote, connected.Socket.RemoteEndPoint);
    }

    [Fact]
    public async Task When_every_address_refuses_the_last_failure_is_reported()
    {
        int port = ClosedPort();

        ProxyErrorException e = await Assert.ThrowsAsync<ProxyErrorException>(() =>
            TcpConnector.ConnectAsync([IPAddress.IPv6Loopback, IPAddress.Loopback], port, $"dual.test:{port}", Budget, Budget, CancellationToken.None));

        Assert.Equal(ProxyErrorKind.ConnectionRefused, e.Kind);
        Assert.Equal($"dual.test:{port} (127.0.0.1) refused the connection", e.Message);
    }

    [Fact]
    public async Task When_every_address_hangs_the_budget_ends_it_as_a_timeout()
    {
        int port = FullIPv6ListenerWithIPv4Beside(out Socket v4);
        v4.Dispose(); // nothing else to fall back to: only the hanging address is given

        ProxyErrorException e = await Assert.ThrowsAsync<ProxyErrorException>(() =>
            TcpConnector.ConnectAsync([IPAddress.IPv6Loopback], port, "dual.test", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), CancellationToken.None));

        Assert.Equal(ProxyErrorKind.ConnectionTimeout, e.Kind);
        Assert.Equal("no connection to dual.test (::1) within 1s", e.Message);
    }

    /// <summary>[::1]:P with a full accept queue (connections never accepted), and 127.0.0.1:P listening.</summary>
    private int FullIPv6ListenerWithIPv4Beside(out Socket v4)
    {
        for (int tries = 0; ; tries++)
        {
            Socket v6 = Listen(new IPEndPoint(IPAddress.IPv6Loopback, 0), 0);
            int port = ((IPEndPoint)v6.LocalEndPoint!).Port;
            try
            {
                v4 = Listen(new IPEndPoint(IPAddress.Loopback, port), 16);
            }
            catch (SocketException) when (tries < 10)
            {
                continue; // the port is taken on IPv4: another pair
            }

            FillAcceptQueue(port);
            return port;
        }
    }

    // Connections the listener never accepts, until one does not complete: from then on its SYNs are dropped.
    private void FillAcceptQueue(int port)
    {
        for (int i = 0; i < 64; i++)
        {
            var filler = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            _sockets.Add(filler);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                filler.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, port), wait.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        Assert.Fail("the IPv6 listener's accept queue never filled: connects to it did not start hanging");
    }

    private Socket Listen(IPEndPoint at, int backlog)
    {
        var socket = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (at.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = false;
        }

        _sockets.Add(socket);
        socket.Bind(at);
        socket.Listen(backlog);
        return socket;
    }

    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        socket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
