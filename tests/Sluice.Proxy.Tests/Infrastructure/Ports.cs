using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>Ports for tests that must name one before something listens on it (a config file, a closed port).</summary>
public static class Ports
{
    /// <summary>A port the system just handed out on <paramref name="address"/> (127.0.0.1 by default), closed again.</summary>
    public static int Free(IPAddress? address = null)
    {
        using var listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
