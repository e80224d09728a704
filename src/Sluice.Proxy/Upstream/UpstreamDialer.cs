using Sluice.Policy.Decisions;
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
    private readonly Metrics.ProxyMetrics _metrics;

    public UpstreamDialer(Metrics.ProxyMetrics metrics)
    {
        _metrics = metrics;
    }

    /// <summary>
    /// Resolution and the address guard through the pipeline (one lookup, every address judged); throws the refusal.
    /// Routes through a parent use it too: the destination is checked before it goes up. The resolver is the
    /// request's snapshot's, and reports its own real lookups to the metrics (a cache hit is no lookup).
    /// </summary>
    public static async Task<Verdict> ResolveAsync(RequestPipeline pipeline, IResolver resolver, Verdict allowed, CancellationToken cancellationToken)
    {
        Verdict resolved = await pipeline.ResolveAsync(allowed, resolver, cancellationToken).ConfigureAwait(false);
        return resolved.Refused ? throw resolved.ToException() : resolved;
    }

    /// <summary>
    /// Resolves and checks through the pipeline (one lookup, every address judged by the guard), then connects to the
    /// first permitted address that answers. The connect timeout bounds the lookup and the connection together.
    /// </summary>
    public async Task<Connection> DialAsync(RequestPipeline pipeline, IResolver resolver, Verdict allowed, CancellationToken cancellationToken)
    {
        RequestFacts request = allowed.Facts;
        string host = request.Host;
        int port = request.Port;
        TimeSpan connectTimeout = pipeline.ResolveTimeout;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        Verdict resolved = await ResolveAsync(pipeline, resolver, allowed, cancellationToken).ConfigureAwait(false);
        TimeSpan elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        long connecting = System.Diagnostics.Stopwatch.GetTimestamp();
        Connection connection = await TcpConnector.ConnectAsync(resolved.Permitted, port, $"{host}:{port}", connectTimeout, connectTimeout - elapsed, cancellationToken).ConfigureAwait(false);
        _metrics.UpstreamConnect.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(connecting).TotalSeconds);
        return connection;
    }
}
