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
        IPAddress plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (IPNetwork network in _deny)
        {
            if (network.Contains(plain))
            {
                return Decision.Deny(DenyReason.DestinationAddress, $"{plain} is in addresses.deny {network}");
            }

            // Deny fails closed: an IPv4 range also covers its NAT64/6to4/Teredo forms. (Allow stays literal.)
            foreach (IPAddress embedded in AddressClassifier.EmbeddedIPv4(plain))
            {
                if (network.Contains(embedded))
                {
                    return Decision.Deny(DenyReason.DestinationAddress, $"{plain} leads to {embedded}, which is in addresses.deny {network}");
                }
            }
        }

        // Before allow: an allowed range that happens to hold the proxy must not turn it into its own destination
        // (a loop through a listener, or a client reading /metrics and the status page through the proxy).
        if (IsOneOf(_ownEndpoints, plain, port))
        {
            return Decision.Deny(DenyReason.DestinationAddress, $"{new HostPort(plain.ToString(), plain, port)} is this proxy's own listener");
        }

        if (IsOneOf(_adminEndpoints, plain, port))
        {
            return Decision.Deny(DenyReason.DestinationAddress, $"{new HostPort(plain.ToString(), plain, port)} is this proxy's admin endpoint");
        }

        foreach (IPNetwork network in _allow)
        {
            if (network.Contains(plain))
            {
                return Decision.Allow($"{plain} is in addresses.allow {network}");
            }
        }

        AddressClassification c = AddressClassifier.Classify(plain);
        return c.IsPublic
            ? Decision.Allow($"{plain} is public")
            : Decision.Deny(DenyReason.DestinationAddress, $"{plain} is {c}");
    }

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
