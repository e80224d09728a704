using System.Net;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// Fixed answers for some names, another resolver for the rest: <c>sluice explain --resolve NAME=IP</c>, as curl's
/// <c>--resolve</c>. The names are normalised host names (lower case, no trailing dot).
/// </summary>
public sealed class OverridingResolver(IReadOnlyDictionary<string, IPAddress[]> answers, IResolver fallback) : IResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        answers.TryGetValue(host, out IPAddress[]? addresses) ? Task.FromResult(addresses) : fallback.ResolveAsync(host, cancellationToken);
}
