using Sluice.Proxy.Listening;

namespace Sluice.Proxy.Tests.Listening;

public sealed class AcceptBackoffTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    [Fact]
    public void The_first_failure_is_reported_at_once_and_the_rest_once_per_interval_with_their_count()
    {
        var clock = new ManualClock();
        var backoff = new AcceptBackoff(clock, Interval);
        Assert.Equal(1, backoff.Failed().Report);
        for (int i = 0; i < 500; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(10));
            Assert.Equal(0, backoff.Failed().Report); // 5 s of failures: quiet
        }

        clock.Advance(Interval);
        Assert.Equal(501, backoff.Failed().Report); // the quiet ones and this one
        Assert.Equal(0, backoff.Failed().Report);
    }

    [Fact]
    public void Waits_double_from_10_ms_up_to_1_s_and_start_short_again_after_a_success()
    {
        var backoff = new AcceptBackoff(new ManualClock(), Interval);
        int[] expected = [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000];
        Assert.Equal(expected, expected.Select(_ => (int)backoff.Failed().Wait.TotalMilliseconds));
        backoff.Succeeded();
        Assert.Equal(TimeSpan.FromMilliseconds(10), backoff.Failed().Wait);
    }

    [Fact]
    public void A_success_ends_a_reported_run_once_and_says_nothing_after_an_unreported_one()
    {
        var clock = new ManualClock();
        var backoff = new AcceptBackoff(clock, Interval);
        Assert.Equal(0, backoff.Succeeded()); // nothing failed
        Assert.Equal(1, backoff.Failed().Report);
        Assert.Equal(0, backoff.Failed().Report);
        Assert.Equal(0, backoff.Failed().Report);
        Assert.Equal(3, backoff.Succeeded()); // the run was reported: say it is over, with its length
        Assert.Equal(0, backoff.Succeeded());

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, backoff.Failed().Report); // within the interval: not reported...
        Assert.Equal(0, backoff.Succeeded()); // ...so its end is not either
        clock.Advance(Interval);
        Assert.Equal(4, backoff.Failed().Report); // every failure not yet reported is in the next report
    }
}
