using System.Net;
using Sluice.Policy.Addresses;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>Set algebra on address ranges, ports and domain names, for translating Squid's <c>!acl</c> and ANDed acls exactly.</summary>
internal static class AddressSets
{
    public static readonly IPNetwork[] Everything = [IPNetwork.Parse("0.0.0.0/0"), IPNetwork.Parse("::/0")];

    public static readonly PortRange EveryPort = new(1, 65535);

    public static bool IsEverything(IReadOnlyCollection<IPNetwork> networks) => Everything.All(networks.Contains);

    /// <summary>Both sets matched at once: ranges are nested or disjoint, so each overlap is the smaller range.</summary>
    public static List<IPNetwork> Intersect(IEnumerable<IPNetwork> a, IEnumerable<IPNetwork> b)
    {
        var result = new List<IPNetwork>();
        foreach (IPNetwork x in a)
        {
            foreach (IPNetwork y in b)
            {
                if (Networks.Contains(x, y))
                {
                    result.Add(y);
                }
                else if (Networks.Contains(y, x))
                {
                    result.Add(x);
                }
            }
        }

        return Normalize(result);
    }

    /// <summary>
    /// The names two dstdomain lists both match (<c>.example.com</c> is the name and every name under it): such sets
    /// are nested or disjoint, so each overlap is the smaller one.
    /// </summary>
    public static List<string> Intersect(IEnumerable<string> a, IReadOnlyCollection<string> b)
    {
        var result = new List<string>();
        foreach (string x in a)
        {
            foreach (string y in b)
            {
                if (Covers(x, y))
                {
                    result.Add(y);
                }
                else if (Covers(y, x))
                {
                    result.Add(x);
                }
            }
        }

        return result.Distinct(StringComparer.Ordinal).ToList();
    }

    // Every name the dstdomain value 'inner' matches, 'outer' matches too.
    public static bool Covers(string outer, string inner)
    {
        if (!outer.StartsWith('.'))
        {
            return outer == inner;
        }

        string root = outer[1..];
        string name = inner.TrimStart('.');
        return name == root || name.EndsWith(outer, StringComparison.Ordinal);
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
        if (set.Any(s => Networks.Contains(s, net)))
        {
            return;
        }

        if (!set.Any(s => Networks.Contains(net, s)))
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
        return list.Where(n => !list.Any(o => !o.Equals(n) && Networks.Contains(o, n))).ToList();
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

        return PortRange.Merge(result);
    }

    public static List<PortRange> Complement(IReadOnlyList<PortRange> ports)
    {
        var result = new List<PortRange>();
        int next = 1;
        foreach (PortRange range in PortRange.Merge(ports))
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
}
