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
/// own name or a flood of failures from that address.
/// </summary>
/// <remarks>
/// Only failed verifications count. A verification that is running holds a reservation against both limits, so a
/// burst of parallel guesses cannot outrun the count; but nothing is reserved by a request that is only waiting,
/// for a verification slot or for another request's verification of the same credentials. Reservations are
/// therefore bounded by the verification slots, and a burst of right passwords is never mistaken for guessing.
/// </remarks>
internal sealed class FailureThrottle
{
    public const int MaxFailuresPerUser = 10;
    public const int MaxFailuresPerAddress = 100;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    /// <summary>False (with the wait) when this address or address-and-user is over its limit. Reserves nothing.</summary>
    public bool MayTry(IPAddress client, string user, out TimeSpan retryAfter)
    {
        string address = AddressKey(client);
        return Admit(Find($"a|{address}"), Find($"u|{address}|{user}"), reserve: false, out retryAfter);
    }

    /// <summary>Reserves one verification; false (with the wait) when this address or address-and-user is over its limit.</summary>
    public bool TryBegin(IPAddress client, string user, out Reservation reservation, out TimeSpan retryAfter)
    {
        string address = AddressKey(client);
        while (true)
        {
            reservation = new Reservation(Get($"a|{address}"), Get($"u|{address}|{user}"));
            bool admitted = Admit(reservation.PerAddress, reservation.PerUser, reserve: true, out retryAfter);
            if (admitted || !reservation.Pruned)
            {
                return admitted;
            }

            // Pruned between looking it up and locking it: look again, so that nothing is counted where nobody looks.
        }
    }

    /// <summary>Ends a reserved verification: a failure counts against both limits, a success clears this user's count.</summary>
    public static void End(Reservation reservation, bool succeeded)
    {
        foreach ((Counter? counter, bool perUser) in new[] { (reservation.PerAddress, false), (reservation.PerUser, true) })
        {
            if (counter is null)
            {
                continue;
            }

            lock (counter)
            {
                counter.Verifying = Math.Max(0, counter.Verifying - 1);
                if (!succeeded)
                {
                    counter.Failures++;
                    counter.LastTicks = Environment.TickCount64;
                }
                else if (perUser)
                {
                    counter.Failures = 0;
                }
            }
        }
    }

    /// <summary>Forgets addresses whose failures have expired (called periodically by the authenticator).</summary>
    public void Prune()
    {
        foreach ((string key, Counter counter) in _counters)
        {
            lock (counter)
            {
                counter.Expire();
                if (counter.Failures == 0 && counter.Verifying == 0)
                {
                    counter.Pruned = true;
                    _counters.TryRemove(new KeyValuePair<string, Counter>(key, counter));
                }
            }
        }
    }

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

    // Both counters are locked together (always the address's first), so checking and reserving is one step.
    private static bool Admit(Counter? perAddress, Counter? perUser, bool reserve, out TimeSpan retryAfter)
    {
        object addressLock = perAddress ?? new object();
        object userLock = perUser ?? new object();
        lock (addressLock)
        {
            lock (userLock)
            {
                TimeSpan addressWait = Wait(perAddress, MaxFailuresPerAddress), userWait = Wait(perUser, MaxFailuresPerUser);
                retryAfter = addressWait > userWait ? addressWait : userWait;
                if (retryAfter > TimeSpan.Zero || (reserve && (perAddress?.Pruned == true || perUser?.Pruned == true)))
                {
                    return false;
                }

                if (reserve)
                {
                    if (perAddress is not null)
                    {
                        perAddress.Verifying++;
                    }

                    if (perUser is not null)
                    {
                        perUser.Verifying++;
                    }
                }

                return true;
            }
        }
    }

    // Zero when under the limit; a missing counter (not seen yet, or the table is full) is under it.
    private static TimeSpan Wait(Counter? counter, int limit)
    {
        if (counter is null)
        {
            return TimeSpan.Zero;
        }

        counter.Expire();
        if (counter.Failures + counter.Verifying < limit)
        {
            return TimeSpan.Zero;
        }

        TimeSpan wait = Window - TimeSpan.FromMilliseconds(Environment.TickCount64 - counter.LastTicks);
        return wait > TimeSpan.Zero ? wait : TimeSpan.FromSeconds(1);
    }

    private Counter? Find(string key) => _counters.GetValueOrDefault(key);

    private Counter? Get(string key)
    {
        if (_counters.TryGetValue(key, out Counter? counter))
        {
            return counter;
        }

        return _counters.Count >= MaxTracked ? null : _counters.GetOrAdd(key, _ => new Counter());
    }

    /// <summary>The counters a verification reserved, so that its end is counted where it began.</summary>
    public readonly record struct Reservation(Counter? PerAddress, Counter? PerUser)
    {
        public bool Pruned => PerAddress?.Pruned == true || PerUser?.Pruned == true;
    }

    internal sealed class Counter
    {
        public int Failures;
        public int Verifying;
        public bool Pruned; // removed from the table: a new one counts from now on
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
