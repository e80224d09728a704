namespace Sluice.Proxy.Listening;

/// <summary>
/// What an accept loop does when accepting fails, most often because the process is out of file descriptors
/// (EMFILE, ENFILE): it waits, 10 ms doubling up to 1 s, so a full process does not spin while the connections it
/// has are served; and it reports at most once per interval, with the number of failures since the last report,
/// instead of a log line per failure. One accept loop uses one of these; it is not thread-safe.
/// </summary>
internal sealed class AcceptBackoff(TimeProvider clock, TimeSpan interval)
{
    private static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan Longest = TimeSpan.FromSeconds(1);

    private TimeSpan _wait;
    private long _unreported;
    private long _streak;
    private bool _streakReported;
    private long? _lastReport;

    /// <summary>The wait now: for a loop that cannot even try to accept yet (it does not lengthen the wait).</summary>
    public TimeSpan Wait => _wait == TimeSpan.Zero ? Shortest : _wait;

    /// <summary>An accept failed.</summary>
    /// <returns>How long to wait before accepting again, and how many failures to report now (0: stay quiet).</returns>
    public (TimeSpan Wait, long Report) Failed()
    {
        _streak++;
        _unreported++;
        _wait = _wait == TimeSpan.Zero ? Shortest : TimeSpan.FromTicks(Math.Min(_wait.Ticks * 2, Longest.Ticks));
        long now = clock.GetTimestamp();
        if (_lastReport is { } last && clock.GetElapsedTime(last, now) < interval)
        {
            return (_wait, 0);
        }

        long report = _unreported;
        _unreported = 0;
        _lastReport = now;
        _streakReported = true;
        return (_wait, report);
    }

    /// <summary>An accept succeeded: waits start short again.</summary>
    /// <returns>The failures of the run that just ended when it was reported (then say it is over), otherwise 0.</returns>
    public long Succeeded()
    {
        long ended = _streakReported ? _streak : 0;
        _streak = 0;
        _streakReported = false;
        _wait = TimeSpan.Zero;
        return ended;
    }
}
