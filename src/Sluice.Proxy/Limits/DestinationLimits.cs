using System.Collections.Concurrent;
using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Names;

namespace Sluice.Proxy.Limits;

/// <summary>
/// Per-destination accounting (<c>limits.perDestination</c>): a token bucket for the request rate and a count of open
/// tunnels, per host or registrable domain, whichever clients ask. The limits are read from each request's
/// configuration, so a reload applies to the next request; a tunnel is released on the entry it was counted on, so a
/// reload that changes the key or turns the limits off never loses a release.
/// </summary>
/// <remarks>
/// Memory is bounded whatever the number of names: at most <see cref="PerDestinationLimits.MaxDestinations"/> entries,
/// forgotten by a clock (second chance: an entry used since the hand last passed is kept once more). An entry with
/// tunnels open is never forgotten (its count would go with it, and flooding names would open the limit); such
/// entries are bounded by the open tunnels themselves. A hit is one lock-free lookup and one lock on the entry; only a
/// name not seen yet takes the table's lock.
/// </remarks>
internal sealed class DestinationLimits
{
    // How far the clock's hand looks for an entry to forget, per new name: constant work under the table's lock even
    // when most entries have tunnels open (the table then grows past its bound until they close).
    private const int MaxLooks = 64;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _byKey;
    private readonly Queue<Entry> _clock = new(); // under _gate: every entry of _entries, once
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private int _count;

    public DestinationLimits(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _byKey = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Destinations tracked now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Takes a token for one request to the destination; when none is left, how long until one is, and <paramref name="key"/> names it.</summary>
    /// <param name="host">The normalised host; an IP literal as its address's text.</param>
    public TimeSpan TryTakeRequest(string host, IPAddress? address, PerDestinationLimits limits, out string key)
    {
        int rate = limits.RequestsPerSecond;
        if (rate <= 0)
        {
            key = host;
            return TimeSpan.Zero;
        }

        Unmap(ref host, ref address);

        int burst = limits.EffectiveBurst;
        while (true)
        {
            Entry entry = Find(host, address, limits);
            key = entry.Key;
            lock (entry)
            {
                if (entry.Forgotten)
                {
                    continue; // the clock took it between the lookup and the lock: count on its successor
                }

                long now = _time.GetTimestamp();
                entry.Tokens = entry.Started ? Math.Min(burst, entry.Tokens + ((now - entry.LastRefill) * rate / (double)_time.TimestampFrequency)) : burst;
                entry.Started = true;
                entry.LastRefill = now;
                if (entry.Tokens >= 1)
                {
                    entry.Tokens -= 1;
                    return TimeSpan.Zero;
                }

                return TimeSpan.FromSeconds((1 - entry.Tokens) / rate);
            }
        }
    }

    /// <summary>Counts a tunnel to the destination, unless it has as many open as it may.</summary>
    /// <param name="counted">The entry the tunnel is counted on, for <see cref="CloseTunnel"/>; null when tunnels are not limited.
    /// When refused, the destination's entry (its key names it in the refusal).</param>
    /// <returns>False when refused.</returns>
    public bool TryOpenTunnel(string host, IPAddress? address, PerDestinationLimits limits, out Entry? counted)
    {
        int most = limits.Tunnels;
        if (most <= 0)
        {
            counted = null;
            return true;
        }

        Unmap(ref host, ref address);

        while (true)
        {
            Entry entry = Find(host, address, limits);
            counted = entry;
            lock (entry)
            {
                if (entry.Forgotten)
                {
                    continue;
                }

                if (entry.Tunnels >= most)
                {
                    return false;
                }

                entry.Tunnels++;
                return true;
            }
        }
    }

    /// <summary>Releases a tunnel counted by <see cref="TryOpenTunnel"/>: on the entry it was counted on, which cannot have been forgotten since.</summary>
    public static void CloseTunnel(Entry counted)
    {
        lock (counted)
        {
            counted.Tunnels--;
        }
    }

    /// <summary>Tunnels counted open to the destination a host is counted as (for tests and diagnostics).</summary>
    public int TunnelsOpen(string host, IPAddress? address, DestinationKeyKind key)
    {
        Unmap(ref host, ref address);
        return _byKey.TryGetValue(KeyOf(host, address, key), out Entry? entry) ? Volatile.Read(ref entry.Tunnels) : 0;
    }

    // An IPv4-mapped IPv6 literal (::ffff:a.b.c.d) is the IPv4 address it stands for: the guard judges it as that
    // address and the dialler connects to it, so it is counted as that destination, not as a second one.
    private static void Unmap(ref string host, ref IPAddress? address)
    {
        if (address is { IsIPv4MappedToIPv6: true } mapped)
        {
            address = mapped.MapToIPv4();
            host = address.ToString();
        }
    }

    // The key as a slice of the host: no string is made for a destination already tracked.
    private static ReadOnlySpan<char> KeyOf(string host, IPAddress? address, DestinationKeyKind key) =>
        address is null && key == DestinationKeyKind.Domain ? host.AsSpan(RegistrableDomains.Start(host)) : host;

    private Entry Find(string host, IPAddress? address, PerDestinationLimits limits)
    {
        ReadOnlySpan<char> key = KeyOf(host, address, limits.Key);
        if (_byKey.TryGetValue(key, out Entry? found))
        {
            found.Recent = true;
            return found;
        }

        lock (_gate)
        {
            if (_byKey.TryGetValue(key, out found))
            {
                return found;
            }

            MakeRoom(limits.MaxDestinations);
            var entry = new Entry(key.Length == host.Length ? host : key.ToString());
            _entries[entry.Key] = entry;
            _clock.Enqueue(entry);
            Volatile.Write(ref _count, _count + 1);
            return entry;
        }
    }

    // Under _gate: forgets entries until there is room for one more, or the hand has looked far enough.
    private void MakeRoom(int most)
    {
        for (int looked = 0; _count >= most && looked < MaxLooks && _clock.Count > 0; looked++)
        {
            Entry oldest = _clock.Dequeue();
            bool forget;
            lock (oldest)
            {
                forget = oldest.Tunnels == 0 && !oldest.Recent;
                oldest.Recent = false;
                oldest.Forgotten = forget;
            }

            if (forget)
            {
                _entries.TryRemove(oldest.Key, out _);
                Volatile.Write(ref _count, _count - 1);
            }
            else
            {
                _clock.Enqueue(oldest);
            }
        }
    }

    /// <summary>One destination's bucket and open tunnels; its fields are read and written under its own lock.</summary>
    internal sealed class Entry(string key)
    {
        /// <summary>The host or registrable domain it counts.</summary>
        public string Key { get; } = key;

        public int Tunnels;
        public double Tokens;
        public long LastRefill;
        public bool Started;

        /// <summary>Used since the clock's hand last passed (written without the lock: a hint).</summary>
        public volatile bool Recent;

        /// <summary>Taken out of the table: whoever finds it after that looks the key up again.</summary>
        public bool Forgotten;
    }
}
