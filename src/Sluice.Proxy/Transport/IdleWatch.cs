namespace Sluice.Proxy.Transport;

/// <summary>
/// The idle timeouts of every open relay (tunnels and upgraded connections), checked by one timer for the whole
/// server instead of a timer and a cancellation source per relay. A relay notes the time of its last transfer (a
/// plain write, no lock, no timer call per read); a sweep cuts the relays whose last transfer is older than their
/// idle timeout by aborting both connections, which fails their pending reads and writes. A stop cuts every relay at
/// once. An idle relay so holds one small object here, and its waits register with no cancellation token.
/// </summary>
/// <remarks>
/// Relays are kept in an intrusive doubly linked list under one lock: adding and removing are O(1) and allocate
/// nothing beyond the entry, and a sweep of 10,000 relays is a few tens of microseconds. The sweep period is a quarter
/// of the shortest idle timeout seen (at most one second), so a relay is cut between its timeout and a quarter later.
/// </remarks>
internal sealed class IdleWatch : IDisposable
{
    private static readonly TimeSpan LongestPeriod = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShortestPeriod = TimeSpan.FromMilliseconds(10);

    private readonly Lock _gate = new();
    private readonly Timer _timer;
    private readonly CancellationTokenRegistration _stop;
    private Watched? _first;
    private int _count;
    private TimeSpan _period = LongestPeriod;
    private bool _running;
    private bool _stopped;

    /// <param name="stopping">Cancelled when the server cuts what is still open: every relay is aborted then.</param>
    public IdleWatch(CancellationToken stopping)
    {
        _timer = new Timer(static state => ((IdleWatch)state!).Sweep(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _stop = stopping.UnsafeRegister(static state => ((IdleWatch)state!).CutAll(), this);
    }

    /// <summary>Relays being watched now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Starts watching a relay between two connections; dispose the entry when the relay ends.</summary>
    public Watched Watch(Connection a, Connection b, TimeSpan idle)
    {
        var watched = new Watched(this, a, b, idle);
        bool cut;
        lock (_gate)
        {
            cut = _stopped;
            if (!cut)
            {
                watched.Next = _first;
                if (_first is not null)
                {
                    _first.Previous = watched;
                }

                _first = watched;
                _count++;
                TimeSpan period = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, ShortestPeriod.Ticks, LongestPeriod.Ticks));
                if (!_running || period < _period)
                {
                    _period = period;
                    _running = true;
                    _timer.Change(_period, _period);
                }
            }
        }

        if (cut)
        {
            watched.Cut(); // the server already cut everything: this relay must not outlive it
        }

        return watched;
    }

    private void Remove(Watched watched)
    {
        lock (_gate)
        {
            if (!watched.Listed)
            {
                return;
            }

            if (watched.Previous is null)
            {
                _first = watched.Next;
            }
            else
            {
                watched.Previous.Next = watched.Next;
            }

            if (watched.Next is not null)
            {
                watched.Next.Previous = watched.Previous;
            }

            watched.Next = watched.Previous = null;
            watched.Listed = false;
            _count--;
        }
    }

    /// <summary>One pass: the relays past their timeout are collected under the lock and cut outside it.</summary>
    internal void Sweep()
    {
        long now = Environment.TickCount64;
        List<Watched>? expired = null;
        lock (_gate)
        {
            if (_first is null)
            {
                // Nothing to watch: the timer sleeps until the next relay starts (the period starts over too, so
                // a relay with a long timeout is not swept at the pace an earlier short one needed).
                _running = false;
                _period = LongestPeriod;
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                return;
            }

            for (Watched? w = _first; w is not null; w = w.Next)
            {
                if (now - Volatile.Read(ref w.LastActivity) >= w.IdleMilliseconds)
                {
                    (expired ??= []).Add(w);
                }
            }
        }

        if (expired is not null)
        {
            foreach (Watched w in expired)
            {
                w.Cut();
            }
        }
    }

    private void CutAll()
    {
        List<Watched> all = [];
        lock (_gate)
        {
            _stopped = true;
            for (Watched? w = _first; w is not null; w = w.Next)
            {
                all.Add(w);
            }
        }

        foreach (Watched w in all)
        {
            w.Cut();
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _timer.Dispose();
    }

    /// <summary>One relay: two connections and the time of their last transfer.</summary>
    internal sealed class Watched : IDisposable
    {
        private readonly IdleWatch _owner;
        private readonly Connection _a;
        private readonly Connection _b;
        private int _cut;

        internal Watched(IdleWatch owner, Connection a, Connection b, TimeSpan idle)
        {
            _owner = owner;
            _a = a;
            _b = b;
            IdleMilliseconds = (long)idle.TotalMilliseconds;
            LastActivity = Environment.TickCount64;
            Listed = true;
        }

        internal Watched? Previous;
        internal Watched? Next;
        internal bool Listed;
        internal long LastActivity;

        internal long IdleMilliseconds { get; }

        /// <summary>Whether the relay was cut (idle timeout, stop, or a broken direction).</summary>
        public bool IsCut => Volatile.Read(ref _cut) == 1;

        /// <summary>Bytes moved: the idle clock starts again.</summary>
        public void Touch() => Volatile.Write(ref LastActivity, Environment.TickCount64);

        /// <summary>
        /// Ends the relay at once, both ways, with RST: pending reads and writes on either connection fail, so both
        /// directions stop, and neither peer mistakes the truncated stream for a complete one.
        /// </summary>
        public void Cut()
        {
            if (Interlocked.Exchange(ref _cut, 1) == 1)
            {
                return;
            }

            _a.Abort();
            _b.Abort();
        }

        public void Dispose() => _owner.Remove(this);
    }
}
