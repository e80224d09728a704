using System.Net;
using System.Net.Sockets;
using Sluice.Proxy.Admin;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// The status page's traffic over time, on a clock the test moves: a second's counts land in that second, seconds
/// without traffic are zeros, a second older than 15 minutes leaves the window, a long tunnel's bytes show in the
/// seconds they moved (and each byte once, however the connection's close and the sampler race), memory stays fixed.
/// </summary>
public sealed class TrafficHistoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Each_second_holds_what_was_counted_in_it_and_seconds_without_traffic_are_zeros()
    {
        var clock = new FakeClock(T0);
        using var history = new TrafficHistory(() => 0, clock);
        for (int i = 0; i < 3; i++)
        {
            history.Count(denied: false, wouldDeny: false);
        }

        clock.Advance(TimeSpan.FromSeconds(1)); // the sampler runs at 12:00:00.5 and closes 12:00:00
        TrafficSeries first = history.Read();
        Assert.Equal(TrafficHistory.Seconds, first.Requests.Count);
        Assert.Equal(T0.AddSeconds(-(TrafficHistory.Seconds - 1)), first.Start);
        Assert.Equal(T0, first.Since);
        Assert.Equal(3, first.Requests[^1]);
        Assert.Equal(3, first.Requests.Sum());

        clock.Advance(TimeSpan.FromSeconds(4)); // four quiet seconds
        history.Count(denied: true, wouldDeny: false);
        history.Count(denied: false, wouldDeny: true);
        clock.Advance(TimeSpan.FromSeconds(1));

        TrafficSeries series = history.Read();
        Assert.Equal(T0.AddSeconds(5 - (TrafficHistory.Seconds - 1)), series.Start);
        Assert.Equal(new long[] { 3, 0, 0, 0, 0, 2 }, series.Requests.TakeLast(6));
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 1 }, series.Denials.TakeLast(6));
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 1 }, series.WouldDenies.TakeLast(6));
        Assert.Equal(5, series.Requests.Sum());
        Assert.All(series.Requests.SkipLast(6), r => Assert.Equal(0, r)); // before the start: nothing, not garbage
    }

    [Fact]
    public void A_second_leaves_the_window_after_fifteen_minutes_and_its_slot_is_reused()
    {
        var clock = new FakeClock(T0);
        using var history = new TrafficHistory(() => 0, clock);
        for (int i = 0; i < 7; i++)
        {
            history.Count(denied: false, wouldDeny: false);
        }

        clock.Advance(TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(TrafficHistory.Seconds - 1));
        TrafficSeries last = history.Read();
        Assert.Equal(T0, last.Start); // 12:00:00 is now the oldest second shown
        Assert.Equal(7, last.Requests[0]);
        Assert.Equal(7, last.Requests.Sum());

        history.Count(denied: false, wouldDeny: false);
        clock.Advance(TimeSpan.FromSeconds(1)); // 12:15:00 goes into 12:00:00's slot

        TrafficSeries wrapped = history.Read();
        Assert.Equal(T0.AddSeconds(1), wrapped.Start);
        Assert.Equal(1, wrapped.Requests[^1]);
        Assert.Equal(1, wrapped.Requests.Sum()); // the 7 are gone, not added to the new second
    }

    [Fact]
    public void A_long_tunnels_bytes_show_in_the_seconds_they_moved_and_each_byte_once()
    {
        var clock = new FakeClock(T0);
        var live = new LiveConnections();
        using var history = new TrafficHistory(live.TakeBytes, clock);
        using Connection client = Unconnected();
        LiveConnection tunnel = live.Add(client);

        // A minute of 1 MB a second each way, as a relay counts it (splice or copy), then 300 KB more and the close
        // before the next sample.
        const long PerSecond = 1_000_000;
        for (int i = 0; i < 60; i++)
        {
            client.Input.AddRead(PerSecond);
            client.Stream.AddWritten(PerSecond);
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(2 * PerSecond, history.Read().Bytes[^1]);
        }

        client.Stream.AddWritten(300_000);
        live.Remove(tunnel);
        Assert.Equal(0, tunnel.TakeBytes()); // the close took the rest: a sampler that still sees it takes nothing
        clock.Advance(TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(1));

        TrafficSeries series = history.Read();
        long[] expected = [.. Enumerable.Repeat(2 * PerSecond, 60), 300_000, 0];
        Assert.Equal(expected, series.Bytes.TakeLast(62));
        Assert.Equal((120 * PerSecond) + 300_000, series.Bytes.Sum());
        Assert.Equal(0, series.Requests.Sum()); // bytes alone count no request: the access-log line does
    }

    [Fact]
    public void A_sampler_late_by_a_few_seconds_spreads_them_and_a_jump_of_the_clock_does_not()
    {
        var clock = new FakeClock(T0);
        using var history = new TrafficHistory(() => 0, clock);
        clock.Advance(TimeSpan.FromSeconds(1));

        for (int i = 0; i < 31; i++)
        {
            history.Count(denied: false, wouldDeny: false);
        }

        clock.Jump(TimeSpan.FromSeconds(2)); // a stall: the sample due at 12:00:01.5 runs at 12:00:03
        clock.Advance(TimeSpan.Zero);
        Assert.Equal(new long[] { 11, 10, 10 }, history.Read().Requests.TakeLast(3));

        for (int i = 0; i < 5; i++)
        {
            history.Count(denied: false, wouldDeny: false);
        }

        clock.Jump(TimeSpan.FromMinutes(3)); // a suspended machine: not three minutes of traffic
        clock.Advance(TimeSpan.Zero);
        TrafficSeries series = history.Read();
        Assert.Equal(5, series.Requests[^1]);
        Assert.Equal(36, series.Requests.Sum());
    }

    [Fact]
    public void Memory_stays_fixed_however_long_it_samples()
    {
        var clock = new FakeClock(T0);
        long bytes = 0;
        using var history = new TrafficHistory(() => Interlocked.Exchange(ref bytes, 0), clock);
        history.Sample(); // anything a first call needs, once

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3 * 3600; i++) // three hours, one sample a second
        {
            history.Count(denied: i % 2 == 0, wouldDeny: false);
            bytes = 1000;
            clock.Jump(TimeSpan.FromSeconds(1));
            history.Sample();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before); // the rings are reused, nothing grows
        TrafficSeries series = history.Read();
        Assert.Equal(TrafficHistory.Seconds, series.Requests.Count);
        Assert.Equal(TrafficHistory.Seconds, series.Bytes.Count);
        Assert.Equal(TrafficHistory.Seconds, series.Requests.Sum());
        Assert.Equal(TrafficHistory.Seconds * 1000L, series.Bytes.Sum());
        Assert.Equal(TrafficHistory.Seconds / 2, series.Denials.Sum());
    }

    private static Connection Unconnected() =>
        new(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), Stream.Null, new IPEndPoint(IPAddress.Loopback, 40000));

    /// <summary>A clock that moves when the test says; its timers fire, in order, as <see cref="Advance"/> passes them.</summary>
    private sealed class FakeClock(DateTimeOffset start) : TimeProvider
    {
        private readonly List<FakeTimer> _timers = [];
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new FakeTimer(this, callback, state);
            _timers.Add(timer);
            timer.Change(dueTime, period);
            return timer;
        }

        /// <summary>Moves the clock without firing anything: a stalled process, a suspended machine.</summary>
        public void Jump(TimeSpan by) => _now += by;

        /// <summary>Moves the clock, firing each timer that falls due on the way at its due time.</summary>
        public void Advance(TimeSpan by)
        {
            DateTimeOffset until = _now + by;
            while (_timers.Where(t => t.Due is { } due && due <= until).OrderBy(t => t.Due).FirstOrDefault() is { } next)
            {
                _now = next.Due > _now ? next.Due!.Value : _now;
                next.Due = next.Period == Timeout.InfiniteTimeSpan ? null : _now + next.Period;
                next.Callback(next.State);
            }

            _now = until;
        }

        private sealed class FakeTimer(FakeClock clock, TimerCallback callback, object? state) : ITimer
        {
            public DateTimeOffset? Due { get; set; }

            public TimeSpan Period { get; private set; } = Timeout.InfiniteTimeSpan;

            public TimerCallback Callback => callback;

            public object? State => state;

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + dueTime;
                Period = period;
                return true;
            }

            public void Dispose() => clock._timers.Remove(this);

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
