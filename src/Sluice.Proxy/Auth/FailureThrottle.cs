using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Proxy.Auth;

/// <summary>
/// Limits password guessing. Failures are counted per client address and user (10 a minute) and per client
/// address over all users (100 a minute); IPv6 clients count by their /64, the unit one host controls. Past a
/// limit, further attempts from there are refused (429) until a minute has passed since the last failure, without
/// any password being checked. Refusing beats slowing down, because a delayed answer still costs a connection and a
/// bcrypt verification. A success clears only that user's count from that address, so a valid account cannot be
/// used to reset the address's count, and a real user behind a busy address is affected only by failures of their
/// own name or a flood of failures from that address. Attempts are reserved before verification, so a burst of
/// parallel guesses cannot outrun the count.
/// </summary>
internal sealed class FailureThrottle : IDisposable
{
    public const int MaxFailuresPerUser = 10;
    public const int MaxFailuresPerAddress = 100;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly Timer _pruner;

    public FailureThrottle() => _pruner = new Timer(_ => Prune(), null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15));

    /// <summary>Reserves one attempt; false (with the wait) when this address or address-and-user is over its limit.</summary>
    public bool TryBegin(IPAddress client, string user, out TimeSpan retryAfter)
    {
        string address = AddressKey(client);
        Counter? perAddress = Get($"a|{address}");
        Counter? perUser = Get($"u|{address}|{user}");
        retryAfter = TimeSpan.Zero;
        foreach ((Counter? counter, int limit) in new[] { (perAddress, MaxFailuresPerAddress), (perUser, MaxFailuresPerUser) })
        {
            if (counter is null)
            {
                continue; // the table is full: untracked, still bounded by the verification slots
            }

            lock (counter)
            {
                counter.Expire();
                if (counter.Failures + counter.InFlight >= limit)
                {
                    retryAfter = Window - TimeSpan.FromMilliseconds(Environment.TickCount64 - counter.LastTicks);
                    if (retryAfter <= TimeSpan.Zero)
                    {
                        retryAfter = TimeSpan.FromSeconds(1);
                    }
                }
            }
        }

        if (retryAfter > TimeSpan.Zero)
        {
            return false;
        }

        foreach (Counter? counter in new[] { perAddress, perUser })
        {
            if (counter is not null)
            {
                lock (counter)
                {
                    counter.InFlight++;
                }
            }
        }

        return true;
    }

    /// <summary>Ends a reserved attempt: a failure counts against both limits, a success clears this user's count.</summary>
    public void End(IPAddress client, string user, bool succeeded)
    {
        string address = AddressKey(client);
        foreach (string key in new[] { $"a|{address}", $"u|{address}|{user}" })
        {
            if (!_counters.TryGetValue(key, out Counter? counter))
            {
                continue;
            }

            lock (counter)
            {
                counter.InFlight = Math.Max(0, counter.InFlight - 1);
                if (!succeeded)
                {
                    counter.Failures++;
                    counter.LastTicks = Environment.TickCount64;
                }
                else if (key.StartsWith("u|", StringComparison.Ordinal))
                {
                    counter.Failures = 0;
                }
            }
        }
    }

    public void Dispose() => _pruner.Dispose();

    internal static string AddressKey(IPAddress client)
    {
        IPAddress address = client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return $"{new IPAddress(bytes)}/64";
    }

    private Counter? Get(string key)
    {
        if (_counters.TryGetValue(key, out Counter? counter))
        {
            return counter;
        }

        return _counters.Count >= MaxTracked ? null : _counters.GetOrAdd(key, _ => new Counter());
    }

    private void Prune()
    {
        foreach ((string key, Counter counter) in _counters)
        {
            lock (counter)
            {
                counter.Expire();
                if (counter.Failures == 0 && counter.InFlight == 0)
                {
                    _counters.TryRemove(new KeyValuePair<string, Counter>(key, counter));
                }
            }
        }
    }

    private sealed class Counter
    {
        public int Failures;
        public int InFlight;
        public long LastTicks = Environment.TickCount64;

        public void Expire()
        {
            if (Failures > 0 && Environment.TickCount64 - LastTicks >= Window.TotalMilliseconds)
            {
                Failures = 0;
            }
        }
    }
}
