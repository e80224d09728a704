using System.Net;
using System.Collections.Immutable;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;

namespace Sluice.Policy.Addresses;

/// <summary>
/// Decides whether a resolved address may be dialled: <c>addresses.deny</c> first, then the proxy's own listeners
/// and admin endpoint (never a destination, whatever <c>addresses.allow</c> says), then <c>addresses.allow</c>,
/// then the address class (only public addresses pass).
/// </summary>
public sealed class AddressGuard
{
    private readonly ImmutableArray<IPNetwork> _allow;
    private readonly ImmutableArray<IPNetwork> _deny;
    private readonly IReadOnlyCollection<IPEndPoint> _ownEndpoints;
    private readonly IReadOnlyCollection<IPEndPoint> _adminEndpoints;

    /// <param name="ownEndpoints">
    /// The proxy's listeners as concrete addresses: the server expands a wildcard listener (0.0.0.0, [::]) into the
    /// machine's own addresses, so that public destinations on the same port stay reachable.
    /// </param>
    /// <param name="adminEndpoints">The admin endpoint's addresses, expanded the same way.</param>
    /// <param name="allow"><c>addresses.allow</c>: ranges reached although their class would be refused.</param>
    /// <param name="deny"><c>addresses.deny</c>: ranges always refused.</param>
    public AddressGuard(ImmutableArray<IPNetwork> allow, ImmutableArray<IPNetwork> deny, IReadOnlyCollection<IPEndPoint> ownEndpoints, IReadOnlyCollection<IPEndPoint>? adminEndpoints = null)
    {
        _allow = allow;
        _deny = deny;
        _ownEndpoints = ownEndpoints;
        _adminEndpoints = adminEndpoints ?? [];
    }

    public Decision Check(IPAddress address, int port)
    {
        Finding f = Find(address, port);
        return f.Kind switch
        {
            FindingKind.Denied => Decision.Deny(DenyReason.DestinationAddress, $"{f.Plain} is in addresses.deny {f.Network}"),
            FindingKind.DeniedEmbedded => Decision.Deny(DenyReason.DestinationAddress, $"{f.Plain} leads to {f.Embedded}, which is in addresses.deny {f.Network}"),
            FindingKind.OwnListener => Decision.Deny(DenyReason.DestinationAddress, $"{new HostPort(f.Plain.ToString(), f.Plain, port)} is this proxy's own listener"),
            FindingKind.AdminEndpoint => Decision.Deny(DenyReason.DestinationAddress, $"{new HostPort(f.Plain.ToString(), f.Plain, port)} is this proxy's admin endpoint"),
            FindingKind.Allowed => Decision.Allow($"{f.Plain} is in addresses.allow {f.Network}"),
            FindingKind.Public => Decision.Allow($"{f.Plain} is public"),
            _ => Decision.Deny(DenyReason.DestinationAddress, $"{f.Plain} is {f.Class}"),
        };
    }

    /// <summary>
    /// Whether <see cref="Check"/> would allow the address, without the sentence: for a check made on every reuse of
    /// a pooled connection, where only the answer matters.
    /// </summary>
    public bool Allows(IPAddress address, int port) => Find(address, port).Kind is FindingKind.Allowed or FindingKind.Public;

    private Finding Find(IPAddress address, int port)
    {
        IPAddress plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (IPNetwork network in _deny)
        {
            if (network.Contains(plain))
            {
                return new Finding(FindingKind.Denied, plain, network);
            }

            // Deny fails closed: an IPv4 range also covers its NAT64/6to4/Teredo forms. (Allow stays literal.)
            foreach (IPAddress embedded in AddressClassifier.EmbeddedIPv4(plain))
            {
                if (network.Contains(embedded))
                {
                    return new Finding(FindingKind.DeniedEmbedded, plain, network, embedded);
                }
            }
        }

        // Before allow: an allowed range that happens to hold the proxy must not turn it into its own destination
        // (a loop through a listener, or a client reading /metrics and the status page through the proxy).
        if (IsOneOf(_ownEndpoints, plain, port))
        {
            return new Finding(FindingKind.OwnListener, plain);
        }

        if (IsOneOf(_adminEndpoints, plain, port))
        {
            return new Finding(FindingKind.AdminEndpoint, plain);
        }

        foreach (IPNetwork network in _allow)
        {
            if (network.Contains(plain))
            {
                return new Finding(FindingKind.Allowed, plain, network);
            }
        }

        AddressClassification c = AddressClassifier.Classify(plain);
        return new Finding(c.IsPublic ? FindingKind.Public : FindingKind.Refused, plain, Class: c);
    }

    private enum FindingKind
    {
        Denied,
        DeniedEmbedded,
        OwnListener,
        AdminEndpoint,
        Allowed,
        Public,
        Refused,
    }

    // What the guard found, kept apart from the sentence that says it, which only Check writes.
    private readonly record struct Finding(FindingKind Kind, IPAddress Plain, IPNetwork Network = default, IPAddress? Embedded = null, AddressClassification Class = default);

    private static bool IsOneOf(IReadOnlyCollection<IPEndPoint> endpoints, IPAddress address, int port)
    {
        foreach (IPEndPoint own in endpoints)
        {
            if (own.Port == port && (own.Address.Equals(address) || IsWildcardFor(own.Address, address)))
            {
                return true;
            }
        }

        return false;
    }

    // A wildcard listener also takes connections to loopback addresses no interface lists (127.0.0.2, every
    // 127.0.0.0/8 address on Linux), so it stands for all of them; [::] in dual mode for IPv4 ones too.
    private static bool IsWildcardFor(IPAddress own, IPAddress address) => IPAddress.IsLoopback(address)
        && (own.Equals(IPAddress.IPv6Any) || (own.Equals(IPAddress.Any) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork));
}
