namespace Sluice.Proxy.Files;

/// <summary>
/// A check of files (a stat, and after a change a read) that runs on the thread pool, one at a time, at most once per
/// interval counted from the end of the last check. Requests only ask for it (<see cref="StartIfDue"/>) and go on
/// with what was read before: they run on the socket engine's threads (see ProxyRuntime), and a file on a mount that
/// hangs (a FIFO, a stuck network share) would otherwise hold every connection such a thread serves.
/// </summary>
internal sealed class BackgroundCheck
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly Action _check;
    private readonly TimeProvider _time;
    private long _next;
    private int _running; // 1 while a check runs

    /// <param name="check">The check; it reports its own failures (one that escapes ends only that check).</param>
    /// <param name="startNow">Run the first check at once (see <see cref="First"/>); otherwise the first is due in an interval.</param>
    public BackgroundCheck(Action check, TimeProvider? time = null, bool startNow = false)
    {
        _check = check;
        _time = time ?? TimeProvider.System;
        if (startNow)
        {
            _running = 1;
            First = Task.Run(Run);
        }
        else
        {
            SetNext();
        }
    }

    /// <summary>The first check, when it was started at once; otherwise a completed task.</summary>
    public Task First { get; } = Task.CompletedTask;

    /// <summary>Starts a check on the thread pool when one is due and none is running; never waits for it.</summary>
    public void StartIfDue()
    {
        if (_time.GetTimestamp() >= Volatile.Read(ref _next) && Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            _ = Task.Run(Run, CancellationToken.None); // not the request's: it outlives it
        }
    }

    private void Run()
    {
        try
        {
            _check();
        }
        finally
        {
            SetNext(); // from the end of the check: a file that took long to read is not read again at once
            Volatile.Write(ref _running, 0);
        }
    }

    private void SetNext() => Volatile.Write(ref _next, _time.GetTimestamp() + (long)(Interval.TotalSeconds * _time.TimestampFrequency));
}
