using System.Net;
using Sluice.Policy.Names;

namespace Sluice.Policy.Config;

/// <summary>Listener addresses: <c>127.0.0.1:3128</c>, <c>[::1]:3128</c>, <c>0.0.0.0:3128</c>, <c>[::]:3128</c>.</summary>
public static class Endpoints
{
    /// <summary>
    /// An IP literal and a port (0: the system chooses), split by <see cref="HostPort.SplitPort"/>. The literal may be in
    /// brackets, must be in brackets when it is IPv6, and may carry a zone id (the interface of a link-local address).
    /// A listener written as <c>2130706433:3128</c> or <c>010.0.0.1:3128</c> is a typo, not an address: the literal must
    /// be in a canonical form (<see cref="HostNames.IsCanonicalLiteral"/>), and names are refused.
    /// </summary>
    public static bool TryParse(string text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        (string host, string? portText) = HostPort.SplitPort(text);
        if (portText is null || !HostPort.TryParsePort(portText, out int port, zeroAllowed: true))
        {
            return false;
        }

        host = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (!HostNames.IsCanonicalLiteral(host) || !IPAddress.TryParse(host, out IPAddress? address))
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }

    public static string Format(IPEndPoint endpoint) => new HostPort(endpoint.Address.ToString(), endpoint.Address, endpoint.Port).ToString();
}
