using System.Globalization;
using System.Net;

namespace Sluice.Policy.Config;

/// <summary>Listener addresses: <c>127.0.0.1:3128</c>, <c>[::1]:3128</c>, <c>0.0.0.0:3128</c>, <c>[::]:3128</c>.</summary>
public static class Endpoints
{
    public static bool TryParse(string text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        int colon = text.LastIndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        string host = text[..colon];
        string portText = text[(colon + 1)..];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            return false; // IPv6 without brackets is ambiguous
        }

        // A listener written as "2130706433:3128" or "010.0.0.1:3128" is a typo, not an address: require a canonical form.
        if (!Addresses.Networks.IsCanonicalLiteral(host) || !IPAddress.TryParse(host, out IPAddress? address)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 0 or > 65535)
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }

    public static string Format(IPEndPoint endpoint) => endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"[{endpoint.Address}]:{endpoint.Port}"
        : $"{endpoint.Address}:{endpoint.Port}";
}
