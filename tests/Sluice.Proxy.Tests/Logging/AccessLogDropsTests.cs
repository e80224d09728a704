using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Sluice.Policy.Config;
using Sluice.Proxy.Logging;
using Sluice.Proxy.Metrics;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Logging;

/// <summary>
/// An access-log output that cannot keep up: the lines that do not fit the queue are dropped, counted exactly in
/// sluice_access_log_dropped_total, and warned about once per interval with their number, never once per line.
/// </summary>
public sealed class AccessLogDropsTests
{
    private static readonly AccessLogEntry Entry = new()
    {
        Started = DateTimeOffset.UnixEpoch,
        Elapsed = TimeSpan.FromMilliseconds(1),
        Client = IPAddress.Loopback,
        Code = Sluice.Proxy.Errors.SquidResult.Miss,
        Status = 200,
        Method = "GET",
        Url = "http://origin.test/",
    };

    [Fact]
    public async Task Drops_are_counted_exactly_and_warned_about_once_per_interval()
    {
        var output = new StalledWriter();
        var time = new ManualTimers();
        var metrics = new ProxyMetrics();
        var log = new LogLines();
        var access = new AccessLog(new LogConfig(), output, capacity: 4, reportInterval: TimeSpan.FromSeconds(10), time);
        access.ReportTo(metrics, log.CreateLogger("Sluice.Proxy"));

        // The writer takes the first line and stalls on it; four more fill the queue; the next seven are dropped.
        access.Write(Entry);
        Assert.True(await output.Stalled.WaitAsync(TimeSpan.FromSeconds(20)), "the access log never started writing its first line");
        for (int i = 0; i < 4 + 7; i++)
        {
            access.Write(Entry);
        }

        Assert.Equal(7, access.Dropped);
        Assert.Equal(7, await DroppedMetricAsync(metrics));
        Assert.Empty(Warnings(log)); // no interval has ended: nothing said yet, however many were dropped

        time.Fire();
        Assert.Equal(["Warning: access log: 7 lines dropped in the last 10s: the output cannot keep up"], Warnings(log));

        // Still stalled: five more dropped in the next interval, one line for them; an interval without drops says nothing.
        for (int i = 0; i < 5; i++)
        {
            access.Write(Entry);
        }

        Assert.Equal(12, await DroppedMetricAsync(metrics));
        time.Fire();
        time.Fire();
        Assert.Equal(
            ["Warning: access log: 7 lines dropped in the last 10s: the output cannot keep up", "Warning: access log: 5 lines dropped in the last 10s: the output cannot keep up"],
            Warnings(log));

        // The output recovers: what was queued is written, nothing more is lost or warned about.
        output.Release();
        await access.DisposeAsync();
        Assert.Equal(5, output.Lines.Count);
        Assert.Equal(12, access.Dropped);
        Assert.Equal(12, await DroppedMetricAsync(metrics));
        Assert.Equal(2, Warnings(log).Count);
        Assert.Equal(0, time.Active);
    }

    [Fact]
    public async Task Drops_not_yet_reported_are_reported_when_the_log_closes()
    {
        var output = new StalledWriter();
        var time = new ManualTimers();
        var log = new LogLines();
        var access = new AccessLog(new LogConfig(), output, capacity: 1, reportInterval: TimeSpan.FromSeconds(10), time);
        access.ReportTo(new ProxyMetrics(), log.CreateLogger("Sluice.Proxy"));
        access.Write(Entry);
        Assert.True(await output.Stalled.WaitAsync(TimeSpan.FromSeconds(20)), "the access log never started writing its first line");
        access.Write(Entry);
        access.Write(Entry);
        access.Write(Entry);

        output.Release();
        await access.DisposeAsync();
        string warning = Assert.Single(Warnings(log));
        Assert.Matches("^Warning: access log: 2 lines dropped in the last [0-9]+s: the output cannot keep up$", warning);
    }

    [Fact]
    public async Task With_the_default_queue_every_line_that_does_not_fit_is_counted()
    {
        var output = new StalledWriter();
        var access = new AccessLog(new LogConfig(), output);
        access.Write(Entry);
        Assert.True(await output.Stalled.WaitAsync(TimeSpan.FromSeconds(20)), "the access log never started writing its first line");
        for (int i = 0; i < 65_536 + 7; i++)
        {
            access.Write(Entry);
        }

        Assert.Equal(7, access.Dropped);
        output.Release();
        await access.DisposeAsync();
        Assert.Equal(1 + 65_536, output.Lines.Count);
    }

    private static List<string> Warnings(LogLines log) => log.Lines.Where(l => l.Contains("lines dropped", StringComparison.Ordinal)).ToList();

    private static async Task<double> DroppedMetricAsync(ProxyMetrics metrics)
    {
        using var text = new MemoryStream();
        await metrics.WriteAsync(text, CancellationToken.None);
        Match m = Regex.Match(Encoding.UTF8.GetString(text.ToArray()), "^sluice_access_log_dropped_total ([0-9.eE+-]+)$", RegexOptions.Multiline);
        Assert.True(m.Success, "sluice_access_log_dropped_total is not exported");
        return double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>An output stuck on its first line (a full pipe, a hung disk) until released.</summary>
    private sealed class StalledWriter : TextWriter
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<string> _lines = [];

        public SemaphoreSlim Stalled { get; } = new(0);

        public override Encoding Encoding => Encoding.UTF8;

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return _lines.ToList();
                }
            }
        }

        public void Release() => _released.TrySetResult();

        public override async Task WriteLineAsync(string? value)
        {
            if (!_released.Task.IsCompleted)
            {
                Stalled.Release();
                await _released.Task;
            }

            lock (_lines)
            {
                _lines.Add(value ?? "");
            }
        }

        public override void Write(char value) => throw new InvalidOperationException("the access log writes whole lines asynchronously");
    }

    /// <summary>Timers that fire only when the test says so: an interval passes without a clock being read.</summary>
    private sealed class ManualTimers : TimeProvider
    {
        private readonly List<Timer> _timers = [];

        public int Active
        {
            get
            {
                lock (_timers)
                {
                    return _timers.Count;
                }
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new Timer(this, callback, state);
            lock (_timers)
            {
                _timers.Add(timer);
            }

            return timer;
        }

        public void Fire()
        {
            Timer[] timers;
            lock (_timers)
            {
                timers = _timers.ToArray();
            }

            foreach (Timer timer in timers)
            {
                timer.Callback(timer.State);
            }
        }

        private void Remove(Timer timer)
        {
            lock (_timers)
            {
                _timers.Remove(timer);
            }
        }

        private sealed class Timer(ManualTimers owner, TimerCallback callback, object? state) : ITimer
        {
            public TimerCallback Callback => callback;

            public object? State => state;

            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose() => owner.Remove(this);

            public ValueTask DisposeAsync()
            {
                owner.Remove(this);
                return ValueTask.CompletedTask;
            }
        }
    }
}
