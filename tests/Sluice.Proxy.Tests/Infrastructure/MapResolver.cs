using System.Collections.Concurrent;
using System.Net;
using Sluice.Proxy.Resolution;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>Test names to loopback addresses. Anything not mapped does not exist: no test ever asks real DNS.</summary>
public sealed class MapResolver : IResolver
{
    private readonly ConcurrentDictionary<string, IPAddress[]> _names = new(StringComparer.OrdinalIgnoreCase);

    public int Lookups;

    public MapResolver Map(string name, params IPAddress[] addresses)
    {
        foreach (IPAddress address in addresses)
        {
            if (!IPAddress.IsLoopback(address))
            {
                throw new ArgumentException($"tests map names to loopback only, not {address}");
            }
        }

        _names[name] = addresses;
        return this;
    }

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Lookups);
        return _names.TryGetValue(host, out IPAddress[]? addresses)
            ? Task.FromResult(addresses)
            : Task.FromException<IPAddress[]>(new ResolveException(host, notFound: true, $"{host} does not exist"));
    }
}
