namespace Sluice.Proxy.Admin;

/// <summary>The last <see cref="TrafficHistory.Seconds"/> seconds of traffic, oldest first, one value a second per series.</summary>
/// <param name="Start">The oldest second's start (UTC); the newest is <c>Start + (Seconds - 1) s</c>.</param>
/// <param name="Since">When recording began (the proxy's start): seconds before it are zeros because there was no proxy.</param>
/// <param name="Requests">Requests and tunnels answered (their access-log lines), each counted in the second it ended.</param>
/// <param name="Bytes">Bytes to and from clients, in the second they moved (a long tunnel's bytes spread over its life).</param>
/// <param name="Denials">Requests refused with 403 or 407.</param>
/// <param name="WouldDenies">Requests let through in report mode that enforcing would have refused.</param>
internal sealed record TrafficSeries(DateTimeOffset Start, DateTimeOffset Since, IReadOnlyList<long> Requests, IReadOnlyList<long> Bytes, IReadOnlyList<long> Denials, IReadOnlyList<long> WouldDenies);

/// <summary>
/// Traffic over time for the status page: per-second requests, bytes, denials and would-denies over the last 15
/// minutes, in fixed rings of 900 slots (about 36 KB, whatever the traffic). Requests are counted where the access-log
/// line is written, one <see cref="Interlocked"/> increment each (two for a refusal); bytes are not counted per request
/// at all: one sampler a second (one timer per server, none per connection) takes what the open connections moved
/// since it last looked and what the connections that closed meanwhile had left (<see cref="LiveConnections.TakeBytes"/>),
/// so a tunnel moving a gigabyte over a minute shows as that minute's bytes/s, not as one spike when it closes.
/// </summary>
internal sealed class TrafficHistory : IDisposable
{
    public const int Seconds = 900;

    /// <summary>A sampler late by up to this many seconds (a stall) spreads what it took over the seconds it missed.</summary>
    private const int MaxSpread = 10;

    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly Func<long> _takeBytes;
    private readonly Lock _lock = new();
    private readonly ITimer _timer;

    // One slot a second; a slot whose stamp is not the second asked for is a gap, and reads as zero.
    private readonly long[] _stamps = new long[Seconds];
    private readonly long[] _requests = new long[Seconds];
    private readonly long[] _bytes = new long[Seconds];
    private readonly long[] _denials = new long[Seconds];
    private readonly long[] _wouldDenies = new long[Seconds];

    // Counted on the request path, since the start.
    private long _countedRequests;
    private long _countedDenials;
    private long _countedWouldDenies;

    // What the last sample had taken of them (under the lock), and the second it went into.
    private long _sampledRequests;
    private long _sampledDenials;
    private long _sampledWouldDenies;
    private long _newest;
    private readonly long _first;

    /// <param name="takeBytes">Bytes moved to and from clients since its last call (each byte returned once).</param>
    public TrafficHistory(Func<long> takeBytes, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _takeBytes = takeBytes;
        Array.Fill(_stamps, long.MinValue);
        _first = _newest = _time.GetUtcNow().ToUnixTimeSeconds();
        _timer = _time.CreateTimer(static state => ((TrafficHistory)state!).Tick(), this, UntilNextSample(), Timeout.InfiniteTimeSpan);
    }

    /// <summary>One request or tunnel answered. The request path's whole cost: one increment, two for a refusal.</summary>
    public void Count(bool denied, bool wouldDeny)
    {
        Interlocked.Increment(ref _countedRequests);
        if (denied)
        {
            Interlocked.Increment(ref _countedDenials);
        }

        if (wouldDeny)
        {
            Interlocked.Increment(ref _countedWouldDenies);
        }
    }

    /// <summary>
    /// Closes the current second: what was counted and moved since the last sample goes into its slot (or, after a
    /// stall of a few seconds, is spread over the seconds missed). The timer calls it once a second.
    /// </summary>
    public void Sample()
    {
        long second = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            long requests = Take(ref _countedRequests, ref _sampledRequests);
            long denials = Take(ref _countedDenials, ref _sampledDenials);
            long wouldDenies = Take(ref _countedWouldDenies, ref _sampledWouldDenies);
            long bytes = _takeBytes();

            // A clock stepped back adds to the newest slot; a jump far ahead (a suspend) puts it all in the new one.
            long from = second <= _newest ? _newest : second - _newest <= MaxSpread ? _newest + 1 : second;
            long to = Math.Max(second, _newest);
            long span = to - from + 1;
            for (long s = from; s <= to; s++)
            {
                int slot = Slot(s);
                if (_stamps[slot] != s)
                {
                    _stamps[slot] = s;
                    _requests[slot] = _bytes[slot] = _denials[slot] = _wouldDenies[slot] = 0;
                }

                long share = s - from;
                _requests[slot] += Share(requests, span, share);
                _bytes[slot] += Share(bytes, span, share);
                _denials[slot] += Share(denials, span, share);
                _wouldDenies[slot] += Share(wouldDenies, span, share);
            }

            _newest = to;
        }
    }

    /// <summary>The last <see cref="Seconds"/> seconds up to the last sample, oldest first; seconds with nothing are zeros.</summary>
    public TrafficSeries Read()
    {
        var requests = new long[Seconds];
        var bytes = new long[Seconds];
        var denials = new long[Seconds];
        var wouldDenies = new long[Seconds];
        long start;
        lock (_lock)
        {
            start = _newest - Seconds + 1;
            for (int i = 0; i < Seconds; i++)
            {
                long s = start + i;
                int slot = Slot(s);
                if (_stamps[slot] == s)
                {
                    requests[i] = _requests[slot];
                    bytes[i] = _bytes[slot];
                    denials[i] = _denials[slot];
                    wouldDenies[i] = _wouldDenies[slot];
                }
            }
        }

        return new TrafficSeries(DateTimeOffset.FromUnixTimeSeconds(start), DateTimeOffset.FromUnixTimeSeconds(_first), requests, bytes, denials, wouldDenies);
    }

    public void Dispose() => _timer.Dispose();

    private void Tick()
    {
        Sample();
        try
        {
            _timer.Change(UntilNextSample(), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // stopped while this sample ran
        }
    }

    /// <summary>Half past the next second: a timer late or early by up to half a second still lands in the right one.</summary>
    private TimeSpan UntilNextSample()
    {
        long ms = _time.GetUtcNow().ToUnixTimeMilliseconds() % 1000;
        return TimeSpan.FromMilliseconds(ms < 500 ? 500 - ms : 1500 - ms);
    }

    private static long Take(ref long counted, ref long sampled)
    {
        long now = Interlocked.Read(ref counted);
        long delta = now - sampled;
        sampled = now;
        return delta;
    }

    /// <summary>The <paramref name="index"/>th of <paramref name="parts"/> shares of <paramref name="total"/>: equal, the remainder on the first ones.</summary>
    private static long Share(long total, long parts, long index) => (total / parts) + (index < total % parts ? 1 : 0);

    private static int Slot(long second) => (int)(((second % Seconds) + Seconds) % Seconds);
}
