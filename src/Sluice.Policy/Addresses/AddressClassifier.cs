using System.Net;
using System.Net.Sockets;

namespace Sluice.Policy.Addresses;

/// <summary>The class of an address and the range that put it there, e.g. (Private, "10.0.0.0/8").</summary>
public readonly record struct AddressClassification(AddressClass Class, string Range, string? Via = null)
{
    public bool IsPublic => Class == AddressClass.Public;

    public override string ToString() => Class == AddressClass.Public
        ? "public"
        : $"{Describe(Class)} ({Range}{(Via is null ? "" : $", {Via}")})";

    private static string Describe(AddressClass c) => c switch
    {
        AddressClass.CarrierGradeNat => "carrier-grade NAT",
        AddressClass.LinkLocal => "link-local",
        _ => c.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// Classifies destination addresses for the SSRF guard. IPv6 forms that embed an IPv4 address
/// (mapped, compatible, NAT64, 6to4, Teredo) are classified by the address they lead to.
/// </summary>
public static class AddressClassifier
{
    private static readonly (IPNetwork Network, AddressClass Class)[] V4Ranges =
    [
        (Net("0.0.0.0/32"), AddressClass.Unspecified),
        (Net("0.0.0.0/8"), AddressClass.Reserved),            // "this network"
        (Net("10.0.0.0/8"), AddressClass.Private),
        (Net("100.64.0.0/10"), AddressClass.CarrierGradeNat),
        (Net("127.0.0.0/8"), AddressClass.Loopback),
        (Net("169.254.0.0/16"), AddressClass.LinkLocal),       // includes cloud metadata 169.254.169.254
        (Net("172.16.0.0/12"), AddressClass.Private),
        (Net("192.0.0.0/24"), AddressClass.Reserved),          // IETF protocol assignments
        (Net("192.0.2.0/24"), AddressClass.Reserved),          // documentation
        (Net("192.88.99.0/24"), AddressClass.Reserved),        // 6to4 relay anycast
        (Net("192.168.0.0/16"), AddressClass.Private),
        (Net("198.18.0.0/15"), AddressClass.Reserved),         // benchmarking
        (Net("198.51.100.0/24"), AddressClass.Reserved),       // documentation
        (Net("203.0.113.0/24"), AddressClass.Reserved),        // documentation
        (Net("224.0.0.0/4"), AddressClass.Multicast),
        (Net("255.255.255.255/32"), AddressClass.Broadcast),
        (Net("240.0.0.0/4"), AddressClass.Reserved),
    ];

    private static readonly (IPNetwork Network, AddressClass Class)[] V6Ranges =
    [
        (Net("::/128"), AddressClass.Unspecified),
        (Net("::1/128"), AddressClass.Loopback),
        (Net("100::/64"), AddressClass.Reserved),              // discard-only
        (Net("2001:db8::/32"), AddressClass.Reserved),         // documentation
        (Net("2001:2::/48"), AddressClass.Reserved),           // benchmarking
        (Net("fc00::/7"), AddressClass.Private),               // unique local
        (Net("fe80::/10"), AddressClass.LinkLocal),
        (Net("fec0::/10"), AddressClass.Private),              // deprecated site-local
        (Net("ff00::/8"), AddressClass.Multicast),
        (Net("64:ff9b:1::/48"), AddressClass.Private),         // local-use NAT64
    ];

    private static readonly IPNetwork Nat64 = Net("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = Net("2002::/16");
    private static readonly IPNetwork Teredo = Net("2001::/32");
    private static readonly IPNetwork V4Compatible = Net("::/96");

    public static AddressClassification Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return ClassifyV4(address);
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return Embedded(address.MapToIPv4(), "IPv4-mapped");
        }

        byte[] b = address.GetAddressBytes();
        if (V4Compatible.Contains(address) && !address.Equals(IPAddress.IPv6None) && !address.Equals(IPAddress.IPv6Loopback))
        {
            return Embedded(new IPAddress(b.AsSpan(12, 4)), "IPv4-compatible");
        }

        if (Nat64.Contains(address))
        {
            return Embedded(new IPAddress(b.AsSpan(12, 4)), "NAT64 64:ff9b::/96");
        }

        if (SixToFour.Contains(address))
        {
            return Embedded(new IPAddress(b.AsSpan(2, 4)), "6to4 2002::/16");
        }

        if (Teredo.Contains(address))
        {
            // Teredo carries the server at bits 32-63 and the client, inverted, in the last 32 bits.
            AddressClassification server = Embedded(new IPAddress(b.AsSpan(4, 4)), "Teredo 2001::/32 server");
            if (!server.IsPublic)
            {
                return server;
            }

            byte[] client = [(byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15]];
            return Embedded(new IPAddress(client), "Teredo 2001::/32 client");
        }

        foreach ((IPNetwork network, AddressClass c) in V6Ranges)
        {
            if (network.Contains(address))
            {
                return new AddressClassification(c, network.ToString());
            }
        }

        return new AddressClassification(AddressClass.Public, "");
    }

    /// <summary>
    /// The IPv4 addresses an IPv6 address leads to (mapped, compatible, NAT64, 6to4, Teredo server and client),
    /// empty for plain IPv4 and ordinary IPv6. Lets IPv4 deny ranges catch the same host behind these forms:
    /// under DNS64 every IPv4-only name resolves to 64:ff9b::/96.
    /// </summary>
    public static IReadOnlyList<IPAddress> EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return [];
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return [address.MapToIPv4()];
        }

        byte[] b = address.GetAddressBytes();
        if (V4Compatible.Contains(address) && !address.Equals(IPAddress.IPv6None) && !address.Equals(IPAddress.IPv6Loopback))
        {
            return [new IPAddress(b.AsSpan(12, 4))];
        }

        if (Nat64.Contains(address))
        {
            return [new IPAddress(b.AsSpan(12, 4))];
        }

        if (SixToFour.Contains(address))
        {
            return [new IPAddress(b.AsSpan(2, 4))];
        }

        if (Teredo.Contains(address))
        {
            return [new IPAddress(b.AsSpan(4, 4)), new IPAddress([(byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15]])];
        }

        return [];
    }

    private static AddressClassification ClassifyV4(IPAddress address)
    {
        foreach ((IPNetwork network, AddressClass c) in V4Ranges)
        {
            if (network.Contains(address))
            {
                return new AddressClassification(c, network.ToString());
            }
        }

        return new AddressClassification(AddressClass.Public, "");
    }

    private static AddressClassification Embedded(IPAddress v4, string form)
    {
        AddressClassification inner = ClassifyV4(v4);
        return inner.IsPublic ? inner : inner with { Via = $"{form} of {v4}" };
    }

    private static IPNetwork Net(string text) => IPNetwork.Parse(text);
}
