using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// The order connections are tried in (RFC 8305 §4): IPv6 first, then the families interleaved, each family in the
/// order it was given. At most <see cref="PerFamily"/> of each family are kept, so an answer's size is bounded.
/// </summary>
internal static class AddressOrder
{
    public const int PerFamily = 32;

    public static IPAddress[] Interleave(IReadOnlyList<IPAddress> v6, IReadOnlyList<IPAddress> v4)
    {
        int six = Math.Min(v6.Count, PerFamily);
        int four = Math.Min(v4.Count, PerFamily);
        var ordered = new IPAddress[six + four];
        int n = 0;
        for (int i = 0; i < Math.Max(six, four); i++)
        {
            if (i < six)
            {
                ordered[n++] = v6[i];
            }

            if (i < four)
            {
                ordered[n++] = v4[i];
            }
        }

        return ordered;
    }

    /// <summary>Addresses of mixed families (a hosts file's lines), split by family in their order and interleaved.</summary>
    public static IPAddress[] Interleave(IEnumerable<IPAddress> mixed)
    {
        var v6 = new List<IPAddress>();
        var v4 = new List<IPAddress>();
        foreach (IPAddress address in mixed)
        {
            (address.AddressFamily == AddressFamily.InterNetworkV6 ? v6 : v4).Add(address);
        }

        return Interleave(v6, v4);
    }
}
