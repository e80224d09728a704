using System.Diagnostics;

namespace Sluice.Proxy.Requests;

/// <summary>
/// The life of one tunnel in the numbers operators see: the active-tunnel gauge, the status page's kind column,
/// the per-client tunnel count, and the duration histogram when it ends.
/// </summary>
internal readonly struct TunnelTracking : IDisposable
{
    private readonly RequestContext _exchange;
    private readonly bool _counted;
    private readonly long _started;

    public TunnelTracking(RequestContext exchange, bool countedAgainstLimit)
    {
        _exchange = exchange;
        _counted = countedAgainstLimit;
        _started = Stopwatch.GetTimestamp();
        exchange.Live.Kind = "tunnel";
        exchange.Metrics.ActiveTunnels.Inc();
    }

    public void Dispose()
    {
        _exchange.Metrics.ActiveTunnels.Dec();
        _exchange.Metrics.TunnelDuration.Observe(Stopwatch.GetElapsedTime(_started).TotalSeconds);
        if (_counted)
        {
            _exchange.ReleaseTunnelSlot();
        }
    }
}
