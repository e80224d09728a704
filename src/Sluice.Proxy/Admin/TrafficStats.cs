using System.Collections.Concurrent;

namespace Sluice.Proxy.Admin;

/// <summary>Which requests a destination table counts: all, those refused (403, 407), or the would-denies of report mode.</summary>
internal enum Tally
{
    All,
    Denied,
    WouldDeny,
}

/// <summary>A notable moment for operators: a reload, a refused reload, an error.</summary>
internal sealed record OperatorEvent(DateTimeOffset Time, string Kind, string Message);

/// <summary>
/// Recent traffic for the status page: requests per destination and denials per destination over the last few
/// minutes (one bucket a minute, bounded in size), and the last events. Nothing here leaves the machine.
/// </summary>
internal sealed class TrafficStats
{
    public const int Minutes = 10;
    private const int MaxKeysPerBucket = 2_000;
    private const int MaxEvents = 50;

    private readonly Bucket[] _buckets = Enumerable.Range(0, Minutes).Select(_ => new Bucket()).ToArray();
    private readonly LinkedList<OperatorEvent> _events = new();

    /// <param name="wouldDeny">Let through in report mode, and enforcing would have refused it.</param>
    public void Count(string destination, bool denied, bool wouldDeny = false)
    {
        Bucket bucket = Current();
        Add(bucket.Destinations, destination);
        if (denied)
        {
            Add(bucket.Denied, destination);
        }

        if (wouldDeny)
        {
            Add(bucket.WouldDeny, destination);
        }
    }

    public void Event(string kind, string message)
    {
        lock (_events)
        {
            _events.AddFirst(new OperatorEvent(DateTimeOffset.UtcNow, kind, message));
            while (_events.Count > MaxEvents)
            {
                _events.RemoveLast();
            }
        }
    }

    public IReadOnlyList<OperatorEvent> Events()
    {
        lock (_events)
        {
            return _events.ToList();
        }
    }

    /// <summary>The destinations with the most requests of one kind over the window, most first.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Top(Tally tally, int count = 10)
    {
        long minute = NowMinute();
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Bucket bucket in _buckets)
        {
            if (minute - Volatile.Read(ref bucket.Minute) >= Minutes)
            {
                continue;
            }

            foreach ((string key, long value) in tally switch { Tally.Denied => bucket.Denied, Tally.WouldDeny => bucket.WouldDeny, _ => bucket.Destinations })
            {
                totals[key] = totals.GetValueOrDefault(key) + value;
            }
        }

        return totals.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(count).ToList();
    }

    private static void Add(ConcurrentDictionary<string, long> counts, string key)
    {
        if (counts.Count >= MaxKeysPerBucket && !counts.ContainsKey(key))
        {
            key = "(other)"; // bounded: a flood of distinct names cannot grow memory
        }

        counts.AddOrUpdate(key, 1, (_, n) => n + 1);
    }

    private Bucket Current()
    {
        long minute = NowMinute();
        Bucket bucket = _buckets[minute % Minutes];
        if (Volatile.Read(ref bucket.Minute) != minute)
        {
            lock (bucket)
            {
                if (bucket.Minute != minute)
                {
                    bucket.Destinations.Clear();
                    bucket.Denied.Clear();
                    bucket.WouldDeny.Clear();
                    Volatile.Write(ref bucket.Minute, minute);
                }
            }
        }

        return bucket;
    }

    private static long NowMinute() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60;

    private sealed class Bucket
    {
        public readonly ConcurrentDictionary<string, long> Destinations = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, long> Denied = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, long> WouldDeny = new(StringComparer.Ordinal);
        public long Minute = -1;
    }
}
