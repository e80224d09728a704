using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Rules;

namespace Sluice.Cli.Commands;

/// <summary>Set algebra on address ranges and ports, for translating Squid's <c>!acl</c> and ANDed acls exactly.</summary>
internal static class SquidNetworks
{
    public static readonly IPNetwork[] Everything = [IPNetwork.Parse("0.0.0.0/0"), IPNetwork.Parse("::/0")];

    /// <summary>Squid's forms: <c>10.0.0.0/8</c>, <c>10.0.0.0/255.0.0.0</c>, <c>10.0.0.1</c>, <c>0.0.0.1-0.255.255.255</c>, <c>::1</c>.</summary>
    public static bool TryParse(string text, out List<IPNetwork> networks)
    {
        networks = [];
        int dash = text.IndexOf('-');
        if (dash > 0 && IPAddress.TryParse(text[..dash], out IPAddress? first) && IPAddress.TryParse(text[(dash + 1)..], out IPAddress? last)
            && first.AddressFamily == AddressFamily.InterNetwork && last.AddressFamily == AddressFamily.InterNetwork)
        {
            uint a = ToUInt(first), b = ToUInt(last);
            if (a > b)
            {
                return false;
            }

            networks = RangeToNetworks(a, b);
            return true;
        }

        int slash = text.IndexOf('/');
        string addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out IPAddress? address) || addressText.Count(c => c == '.') is not (0 or 3))
        {
            return false;
        }

        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = max;
        if (slash >= 0)
        {
            string mask = text[(slash + 1)..];
            if (IPAddress.TryParse(mask, out IPAddress? maskAddress) && mask.Contains('.') && address.AddressFamily == AddressFamily.InterNetwork)
            {
                uint m = ToUInt(maskAddress);
                prefix = System.Numerics.BitOperations.PopCount(m);
                if (m != (prefix == 0 ? 0 : uint.MaxValue << (32 - prefix)))
                {
                    return false; // not a contiguous netmask
                }
            }
            else if (!int.TryParse(mask, out prefix) || prefix < 0 || prefix > max)
            {
                return false;
            }
        }

        networks = [new IPNetwork(Truncate(address, prefix), prefix)];
        return true;
    }

    public static bool IsIPv4(IPNetwork n) => n.BaseAddress.AddressFamily == AddressFamily.InterNetwork;

    public static bool Contains(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);

    /// <summary>Both sets matched at once: ranges are nested or disjoint, so each overlap is the smaller range.</summary>
    public static List<IPNetwork> Intersect(IEnumerable<IPNetwork> a, IEnumerable<IPNetwork> b)
    {
        var result = new List<IPNetwork>();
        foreach (IPNetwork x in a)
        {
            foreach (IPNetwork y in b)
            {
                if (Contains(x, y))
                {
                    result.Add(y);
                }
                else if (Contains(y, x))
                {
                    result.Add(x);
                }
            }
        }

        return Normalize(result);
    }

    /// <summary>Every address (IPv4 and IPv6) not in the set, as few ranges as splitting halves gives.</summary>
    public static List<IPNetwork> Complement(IReadOnlyCollection<IPNetwork> set)
    {
        var result = new List<IPNetwork>();
        foreach (IPNetwork universe in Everything)
        {
            Split(universe, set, result);
        }

        return result;
    }

    private static void Split(IPNetwork net, IReadOnlyCollection<IPNetwork> set, List<IPNetwork> result)
    {
        if (set.Any(s => Contains(s, net)))
        {
            return;
        }

        if (!set.Any(s => Contains(net, s)))
        {
            result.Add(net);
            return;
        }

        byte[] bytes = net.BaseAddress.GetAddressBytes();
        int prefix = net.PrefixLength + 1;
        Split(new IPNetwork(new IPAddress(bytes), prefix), set, result);
        bytes[net.PrefixLength / 8] |= (byte)(0x80 >> (net.PrefixLength % 8));
        Split(new IPNetwork(new IPAddress(bytes), prefix), set, result);
    }

    /// <summary>Without ranges that another range in the set contains, and without duplicates.</summary>
    public static List<IPNetwork> Normalize(IEnumerable<IPNetwork> networks)
    {
        List<IPNetwork> list = networks.Distinct().ToList();
        return list.Where(n => !list.Any(o => !o.Equals(n) && Contains(o, n))).ToList();
    }

    public static List<PortRange> Intersect(IReadOnlyList<PortRange> a, IReadOnlyList<PortRange> b)
    {
        var result = new List<PortRange>();
        foreach (PortRange x in a)
        {
            foreach (PortRange y in b)
            {
                int first = Math.Max(x.First, y.First), last = Math.Min(x.Last, y.Last);
                if (first <= last)
                {
                    result.Add(new PortRange(first, last));
                }
            }
        }

        return Merge(result);
    }

    public static List<PortRange> Complement(IReadOnlyList<PortRange> ports)
    {
        var result = new List<PortRange>();
        int next = 1;
        foreach (PortRange range in Merge(ports))
        {
            if (range.First > next)
            {
                result.Add(new PortRange(next, range.First - 1));
            }

            next = range.Last + 1;
        }

        if (next <= 65535)
        {
            result.Add(new PortRange(next, 65535));
        }

        return result;
    }

    public static List<PortRange> Merge(IEnumerable<PortRange> ranges) => PortRange.Merge(ranges);

    private static uint ToUInt(IPAddress address)
    {
        byte[] b = address.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private static IPAddress FromUInt(uint value) => new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

    private static List<IPNetwork> RangeToNetworks(uint first, uint last)
    {
        var result = new List<IPNetwork>();
        ulong start = first;
        while (start <= last)
        {
            int size = 32;
            while (size > 0)
            {
                ulong block = 1UL << (33 - size);
                if (start % block != 0 || start + block - 1 > last)
                {
                    break;
                }

                size--;
            }

            result.Add(new IPNetwork(FromUInt((uint)start), size));
            start += 1UL << (32 - size);
        }

        return result;
    }

    private static IPAddress Truncate(IPAddress address, int prefix)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
