using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>Ports for tests that must name one before something listens on it (a config file, a closed port, a daemon).</summary>
public static class Ports
{
    // Below the kernel's ephemeral range: the thousands of connections the suite makes at the same time take their
    // local ports from that range, so a port chosen there and free a moment ago can be some connection's before a
    // daemon binds it. A port below it is only ever taken by a bind that names it.
    private const int Lowest = 10_000;

    /// <summary>
    /// A port free on <paramref name="address"/> (127.0.0.1 by default) for TCP, and for UDP too when
    /// <paramref name="udp"/> (a DNS server binds both), chosen at random below the ephemeral range and closed again.
    /// </summary>
    public static int Free(IPAddress? address = null, bool udp = false)
    {
        address ??= IPAddress.Loopback;
        int below = EphemeralLow();
        if (below > Lowest + 1_000)
        {
            for (int tries = 0; tries < 200; tries++)
            {
                int port = Random.Shared.Next(Lowest, below);
                if (Binds(address, port, SocketType.Stream, ProtocolType.Tcp) && (!udp || Binds(address, port, SocketType.Dgram, ProtocolType.Udp)))
                {
                    return port;
                }
            }
        }

        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool Binds(IPAddress address, int port, SocketType type, ProtocolType protocol)
    {
        using var socket = new Socket(address.AddressFamily, type, protocol);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralLow()
    {
        try
        {
            string range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            return int.Parse(range.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }
}
