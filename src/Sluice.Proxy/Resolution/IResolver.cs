using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Resolution;

/// <summary>Turns a destination name into addresses. The proxy resolves once per request and dials what it checked.</summary>
public interface IResolver
{
    /// <exception cref="ResolveException">The name does not exist or the lookup failed.</exception>
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

public sealed class ResolveException : Exception
{
    public ResolveException(string host, bool notFound, string message, Exception? inner = null)
        : base(message, inner)
    {
        Host = host;
        NotFound = notFound;
    }

    public string Host { get; }

    /// <summary>True when the name does not exist (NXDOMAIN / no addresses), false for a failed lookup.</summary>
    public bool NotFound { get; }
}

/// <summary>
/// The operating system's resolver (getaddrinfo), as every other program on the machine sees names: <c>resolver.mode:
/// system</c>, for names from NSS sources that are not DNS. Nothing is cached; every lookup is a real one.
/// </summary>
public sealed class SystemResolver(IResolverEvents? events = null) : IResolver
{
    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        LookupResult result = LookupResult.Error;
        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            result = addresses.Length > 0 ? LookupResult.Miss : LookupResult.Negative;
            return addresses.Length > 0 ? addresses : throw new ResolveException(host, true, $"{host} has no addresses");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
        {
            result = LookupResult.Negative;
            throw new ResolveException(host, true, $"{host} does not exist", e);
        }
        catch (SocketException e)
        {
            throw new ResolveException(host, false, $"lookup of {host} failed: {e.Message}", e);
        }
        finally
        {
            events?.Answered(result);
            events?.LookedUp(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }
}
