namespace Sluice.Proxy.Listening;

/// <summary>
/// The connections being served, as a count: a stop waits until it is zero. Nothing is kept per connection (no task
/// in a set, no continuation), so opening and closing a connection is two interlocked operations, and an idle tunnel
/// costs nothing here.
/// </summary>
internal sealed class OpenSessions
{
    private int _open;
    private TaskCompletionSource? _empty;

    public int Count => Volatile.Read(ref _open);

    /// <summary>Counted before the session's first step runs, so a stop arriving meanwhile waits for it.</summary>
    public void Enter() => Interlocked.Increment(ref _open);

    public void Exit()
    {
        if (Interlocked.Decrement(ref _open) == 0)
        {
            Volatile.Read(ref _empty)?.TrySetResult();
        }
    }

    /// <summary>
    /// Completes when no connection is open. Only asked once accepting has stopped (the count then only goes down):
    /// the waiter is published before the count is read, so a last <see cref="Exit"/> either sees it or came before
    /// the read.
    /// </summary>
    public Task WhenNoneOpenAsync()
    {
        var empty = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource current = Interlocked.CompareExchange(ref _empty, empty, null) ?? empty;
        if (Count == 0)
        {
            current.TrySetResult();
        }

        return current.Task;
    }
}
