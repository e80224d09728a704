using System.Net;
using System.Net.NetworkInformation;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Pipeline;

/// <summary>
/// The proxy's own addresses as concrete endpoints, which are never destinations: the listeners and the admin
/// endpoint, a wildcard bind (0.0.0.0, [::]) expanded to every address of this machine on its port.
/// </summary>
public sealed record OwnEndpoints(IReadOnlyCollection<IPEndPoint> Listeners, IReadOnlyCollection<IPEndPoint> Admin)
{
    public static readonly OwnEndpoints None = new([], []);

    /// <summary>What a configuration will bind, for answers given without a running server (<c>sluice explain</c>).</summary>
    public static OwnEndpoints Of(SluiceConfig config) => new(
        Expand(config.Listeners.Select(l => l.Address)),
        config.Admin is { } admin ? Expand([admin.Address]) : []);

    /// <summary>Every endpoint, a wildcard one standing for each address of this machine on its port.</summary>
    public static IReadOnlyCollection<IPEndPoint> Expand(IEnumerable<IPEndPoint> bound)
    {
        var own = new List<IPEndPoint>();
        IPAddress[]? local = null;
        foreach (IPEndPoint endpoint in bound)
        {
            if (!endpoint.Address.Equals(IPAddress.Any) && !endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                own.Add(endpoint);
                continue;
            }

            local ??= NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .Append(IPAddress.Any).Append(IPAddress.IPv6Any)
                .ToArray();
            bool dual = endpoint.Address.Equals(IPAddress.IPv6Any);
            own.AddRange(local.Where(a => dual || a.AddressFamily == endpoint.AddressFamily).Select(a => new IPEndPoint(a, endpoint.Port)));
        }

        return own;
    }
}
