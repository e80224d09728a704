using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;

namespace Sluice.Policy.Addresses;

/// <summary>
/// Decides whether a resolved address may be dialled: <c>addresses.deny</c> first, then <c>addresses.allow</c>,
/// then the address class (only public addresses pass) and the proxy's own listeners.
/// </summary>
public sealed class AddressGuard
{
    private readonly AddressesConfig _config;
    private readonly IReadOnlyCollection<IPEndPoint> _ownEndpoints;

    /// <param name="ownEndpoints">
    /// The proxy's listeners as concrete addresses: the server expands a wildcard listener (0.0.0.0, [::]) into the
    /// machine's own addresses, so that public destinations on the same port stay reachable.
    /// </param>
    public AddressGuard(AddressesConfig config, IReadOnlyCollection<IPEndPoint> ownEndpoints)
    {
        _config = config;
        _ownEndpoints = ownEndpoints;
    }

    public Decision Check(IPAddress address, int port)
    {
        IPAddress plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (IPNetwork network in _config.Deny)
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

        foreach (IPNetwork network in _config.Allow)
        {
            if (network.Contains(plain))
            {
                return Decision.Allow($"{plain} is in addresses.allow {network}");
            }
        }

        foreach (IPEndPoint own in _ownEndpoints)
        {
            if (own.Port == port && own.Address.Equals(plain))
            {
                return Decision.Deny(DenyReason.DestinationAddress, $"{Endpoints.Format(new IPEndPoint(plain, port))} is this proxy's own listener");
            }
        }

        AddressClassification c = AddressClassifier.Classify(plain);
        return c.IsPublic
            ? Decision.Allow($"{plain} is public")
            : Decision.Deny(DenyReason.DestinationAddress, $"{plain} is {c}");
    }
}
