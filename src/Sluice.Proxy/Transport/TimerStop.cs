namespace Sluice.Proxy.Transport;

/// <summary>
/// Disarms a timeout source kept for a whole connection when the step it timed ends, so the source can be re-armed
/// for the next request (<see cref="CancellationTokenSource.TryReset"/>) instead of being replaced.
/// </summary>
internal readonly struct TimerStop(CancellationTokenSource timer) : IDisposable
{
    public void Dispose() => timer.CancelAfter(Timeout.InfiniteTimeSpan);
}
