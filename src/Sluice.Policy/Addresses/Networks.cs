using System.Net;

namespace Sluice.Policy.Addresses;

public static class Networks
{
    /// <summary>
    /// Parses <c>10.0.0.0/8</c>, <c>fd00::/8</c> or a bare address (a /32 or /128). Host bits set beyond the
    /// prefix (<c>10.1.2.3/8</c>) are an error: the operator almost certainly meant something else.
    /// </summary>
    public static bool TryParse(string text, out IPNetwork network)
    {
        text = text.Trim();
        if (!text.Contains('/'))
        {
            if (IPAddress.TryParse(text, out IPAddress? address) && IsCanonicalLiteral(text))
            {
                network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
                return true;
            }

            network = default;
            return false;
        }

        return IPNetwork.TryParse(text, out network) && IsCanonicalLiteral(text[..text.IndexOf('/')]);
    }

    // IPAddress.TryParse accepts inet_aton forms ("10", "10.1", "0x0a.1"); a policy file must say what it means.
    private static bool IsCanonicalLiteral(string text) => text.Contains(':') || (text.Count(c => c == '.') == 3 && text.All(c => char.IsAsciiDigit(c) || c == '.'));

    public static IPNetwork Parse(string text) => TryParse(text, out IPNetwork network)
        ? network
        : throw new FormatException($"not an address or CIDR: {text}");
}
