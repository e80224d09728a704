using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Addresses;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;

namespace Sluice.Proxy.Upstream;

/// <summary>
/// Resolves a destination once, checks every address with the address guard, and connects to a checked
/// address, never to the result of a second lookup (no DNS rebinding between check and connect).
/// </summary>
internal sealed class UpstreamDialer
{
    private readonly IResolver _resolver;
    private readonly Metrics.ProxyMetrics _metrics;

    public UpstreamDialer(IResolver resolver, Metrics.ProxyMetrics metrics)
    {
        _resolver = resolver;
        _metrics = metrics;
    }

    public async Task<Connection> DialAsync(string host, IPAddress? literal, int port, AddressGuard guard, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        IPAddress[] addresses = literal is not null ? [literal] : await ResolveAsync(host, timeout, connectTimeout).ConfigureAwait(false);
        if (literal is null)
        {
            _metrics.Dns.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        var permitted = new List<IPAddress>(addresses.Length);
        Decision? firstRefusal = null;
        foreach (IPAddress address in addresses)
        {
            Decision decision = guard.Check(address, port);
            if (decision.Allowed)
            {
                permitted.Add(address);
            }
            else
            {
                firstRefusal ??= decision;
            }
        }

        if (permitted.Count == 0)
        {
            throw new ProxyErrorException(ProxyErrorKind.DestinationProhibited, $"{host}:{port} refused: {firstRefusal!.Detail}");
        }

        ProxyErrorException? last = null;
        foreach (IPAddress address in permitted)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                long connecting = System.Diagnostics.Stopwatch.GetTimestamp();
                await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token).ConfigureAwait(false);
                _metrics.UpstreamConnect.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(connecting).TotalSeconds);
                return Connection.FromSocket(socket);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new ProxyErrorException(ProxyErrorKind.ConnectionTimeout, $"no connection to {host}:{port} ({address}) within {Policy.Config.Durations.Format(connectTimeout)}");
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => new ProxyErrorException(ProxyErrorKind.ConnectionRefused, $"{host}:{port} ({address}) refused the connection"),
                    SocketError.TimedOut => new ProxyErrorException(ProxyErrorKind.ConnectionTimeout, $"connecting to {host}:{port} ({address}) timed out"),
                    _ => new ProxyErrorException(ProxyErrorKind.DestinationUnreachable, $"cannot connect to {host}:{port} ({address}): {e.SocketErrorCode}"),
                };
            }
        }

        throw last!;
    }

    private async Task<IPAddress[]> ResolveAsync(string host, CancellationTokenSource timeout, TimeSpan connectTimeout)
    {
        try
        {
            return await _resolver.ResolveAsync(host, timeout.Token).ConfigureAwait(false);
        }
        catch (ResolveException e)
        {
            throw new ProxyErrorException(ProxyErrorKind.DnsError, e.NotFound ? $"{host} not found (DNS)" : e.Message);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new ProxyErrorException(ProxyErrorKind.DnsTimeout, $"no DNS answer for {host} within {Policy.Config.Durations.Format(connectTimeout)}");
        }
    }
}
