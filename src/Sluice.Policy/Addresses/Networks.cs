using System.Net;
using Sluice.Policy.Names;

namespace Sluice.Policy.Addresses;

public static class Networks
{
    /// <summary>
    /// Parses <c>10.0.0.0/8</c>, <c>fd00::/8</c> or a bare address (a /32 or /128). Host bits set beyond the
    /// prefix (<c>10.1.2.3/8</c>) are an error: the operator almost certainly meant something else.
    /// </summary>
    public static bool TryParse(string text, out IPNetwork network)
    {
        network = default;
        text = text.Trim();
        int slash = text.IndexOf('/');
        string addressText = slash < 0 ? text : text[..slash];
        if (!HostNames.IsCanonicalLiteral(addressText) || !IPAddress.TryParse(addressText, out IPAddress? address))
        {
            return false;
        }

        if (slash < 0)
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        // IPNetwork.TryParse on .NET 10 silently clears host bits ("10.1.2.3/8" becomes 10.0.0.0/8), so compare.
        return IPNetwork.TryParse(text, out network) && network.BaseAddress.Equals(address);
    }

    /// <summary>
    /// Every address of <paramref name="inner"/> is in <paramref name="outer"/>: the same family, a prefix at
    /// least as long, and a base address inside it.
    /// </summary>
    public static bool Contains(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily
        && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);

    public static IPNetwork Parse(string text) => TryParse(text, out IPNetwork network)
        ? network
        : throw new FormatException($"not an address or CIDR: {text}");
}
