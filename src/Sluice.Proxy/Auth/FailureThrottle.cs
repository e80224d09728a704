using System.Collections.Concurrent;
using System.Net;

namespace Sluice.Proxy.Auth;

/// <summary>
/// Repeated authentication failures from one client address: after <see cref="MaxFailures"/> within
/// <see cref="Window"/>, that address is refused (429) until the window has passed since its last failure.
/// Chosen over slowing responses down, because a delayed response still costs a connection and a bcrypt
/// verification; and per address rather than per user, so an attacker cannot lock a real user out.
/// </summary>
internal sealed class FailureThrottle
{
    public const int MaxFailures = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<IPAddress, Entry> _failures = new();

    /// <summary>How long the address must still wait, or zero when it may try.</summary>
    public TimeSpan RetryAfter(IPAddress client)
    {
        if (!_failures.TryGetValue(client, out Entry? entry))
        {
            return TimeSpan.Zero;
        }

        lock (entry)
        {
            TimeSpan since = TimeSpan.FromMilliseconds(Environment.TickCount64 - entry.LastTicks);
            if (since >= Window)
            {
                _failures.TryRemove(new KeyValuePair<IPAddress, Entry>(client, entry));
                return TimeSpan.Zero;
            }

            return entry.Count >= MaxFailures ? Window - since : TimeSpan.Zero;
        }
    }

    public void Failed(IPAddress client)
    {
        if (_failures.Count >= MaxTracked)
        {
            Prune();
        }

        Entry entry = _failures.GetOrAdd(client, _ => new Entry());
        lock (entry)
        {
            if (Environment.TickCount64 - entry.LastTicks >= Window.TotalMilliseconds)
            {
                entry.Count = 0;
            }

            entry.Count++;
            entry.LastTicks = Environment.TickCount64;
        }
    }

    public void Succeeded(IPAddress client) => _failures.TryRemove(client, out _);

    private void Prune()
    {
        long now = Environment.TickCount64;
        foreach ((IPAddress address, Entry entry) in _failures)
        {
            if (now - entry.LastTicks >= Window.TotalMilliseconds)
            {
                _failures.TryRemove(address, out _);
            }
        }
    }

    private sealed class Entry
    {
        public int Count;
        public long LastTicks = Environment.TickCount64;
    }
}
