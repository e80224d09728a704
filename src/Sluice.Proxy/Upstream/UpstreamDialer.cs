using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Resolution;
using Sluice.Proxy.Transport;

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

    /// <summary>
    /// Resolution and the address guard through the pipeline (one lookup, every address judged), timed for the
    /// metrics; throws the refusal. Routes through a parent use it too: the destination is checked before it goes up.
    /// </summary>
    public async Task<Verdict> ResolveAsync(RequestPipeline pipeline, Verdict allowed, CancellationToken cancellationToken)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        Verdict resolved = await pipeline.ResolveAsync(allowed, _resolver, cancellationToken).ConfigureAwait(false);
        if (allowed.Facts.Address is null && resolved.Step != VerdictStep.Resolution && !resolved.ResolvedByParent)
        {
            _metrics.Dns.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        return resolved.Refused ? throw resolved.ToException() : resolved;
    }

    /// <summary>
    /// Resolves and checks through the pipeline (one lookup, every address judged by the guard), then connects to the
    /// first permitted address that answers. The connect timeout bounds the lookup and the connection together.
    /// </summary>
    public async Task<Connection> DialAsync(RequestPipeline pipeline, Verdict allowed, CancellationToken cancellationToken)
    {
        RequestFacts request = allowed.Facts;
        string host = request.Host;
        int port = request.Port;
        TimeSpan connectTimeout = pipeline.ResolveTimeout;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        Verdict resolved = await ResolveAsync(pipeline, allowed, cancellationToken).ConfigureAwait(false);
        TimeSpan elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout > elapsed ? connectTimeout - elapsed : TimeSpan.Zero);
        ProxyErrorException? last = null;
        foreach (IPAddress address in resolved.Permitted)
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
}
