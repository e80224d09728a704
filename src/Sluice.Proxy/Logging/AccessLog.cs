using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Logging;

/// <summary>
/// Formats entries and writes them on a background task, so a slow disk or pipe never holds up a request.
/// Lines are flushed whenever the queue runs empty. When the output cannot keep up and the queue is full, new lines
/// are dropped: every one is counted, and the count is reported at most once per interval, never once per line.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    private readonly Channel<AccessLogEntry> _queue;
    private readonly TextWriter? _output;
    private readonly bool _ownsOutput;
    private readonly Func<AccessLogEntry, string> _format;
    private readonly Task _writer;
    private readonly TimeProvider _time;
    private readonly TimeSpan _reportInterval;
    private readonly ITimer? _reportTimer;
    private readonly object _reportLock = new();
    private long _lastReport;
    private long _dropped;
    private long _droppedUnreported;
    private int _writeFailed;

    /// <summary>Raised once, the first time the output cannot be written.</summary>
    public event Action<string>? WriteFailed;

    /// <summary>
    /// Raised at most once per report interval (10 s), when lines were dropped because the queue was full: how
    /// many, and over how long. Also raised on dispose for drops not reported yet.
    /// </summary>
    public event Action<long, TimeSpan>? LinesDropped;

    public AccessLog(LogConfig config, TextWriter? output = null)
        : this(config, output, capacity: 65_536, reportInterval: TimeSpan.FromSeconds(10), TimeProvider.System)
    {
    }

    internal AccessLog(LogConfig config, TextWriter? output, int capacity, TimeSpan reportInterval, TimeProvider time)
    {
        // FullMode.Wait, never awaited: TryWrite then fails when the queue is full, so the line is counted as
        // dropped (in the Drop* modes TryWrite reports success for a line it throws away, which nobody would count).
        _queue = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _format = config.Format == AccessLogFormat.Json ? AccessLogFormats.Json : AccessLogFormats.Squid;
        (_output, _ownsOutput) = output is not null ? (output, false) : Open(config.Access);
        _time = time;
        _reportInterval = reportInterval;
        _lastReport = time.GetTimestamp();
        _writer = _output is null ? Task.CompletedTask : Task.Run(WriteLoopAsync);
        _reportTimer = _output is null ? null : time.CreateTimer(_ => ReportDrops(), null, reportInterval, reportInterval);
    }

    /// <summary>False for <c>log.access: off</c>: callers need not build entries.</summary>
    public bool Enabled => _output is not null;

    /// <summary>Entries lost because the queue was full (the output could not keep up).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Write(AccessLogEntry entry)
    {
        if (_output is not null && !_queue.Writer.TryWrite(entry))
        {
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _droppedUnreported);
        }
    }

    /// <summary>
    /// The host's reporting in one call: <see cref="Dropped"/> as <c>sluice_access_log_dropped_total</c>, a warning
    /// per interval with drops, and the first write failure, on <paramref name="logger"/>.
    /// </summary>
    internal void ReportTo(Metrics.ProxyMetrics metrics, ILogger logger)
    {
        metrics.CountAccessLogDrops(() => Dropped);
        WriteFailed += message => ProxyLog.AccessLogWriteFailed(logger, message);
        LinesDropped += (count, period) => ProxyLog.AccessLogDropped(logger, count, Durations.Format(period));
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_reportTimer is not null)
        {
            await _reportTimer.DisposeAsync().ConfigureAwait(false);
        }

        ReportDrops(final: true);
        await _writer.ConfigureAwait(false);
        if (_ownsOutput)
        {
            await _output!.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One report for everything dropped since the last one (nothing when nothing was dropped).</summary>
    private void ReportDrops(bool final = false)
    {
        lock (_reportLock)
        {
            long now = _time.GetTimestamp();
            TimeSpan period = final
                ? TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(_time.GetElapsedTime(_lastReport, now).TotalSeconds)))
                : _reportInterval;
            _lastReport = now;
            long count = Interlocked.Exchange(ref _droppedUnreported, 0);
            if (count > 0)
            {
                LinesDropped?.Invoke(count, period);
            }
        }
    }

    private static (TextWriter?, bool) Open(string access) => access switch
    {
        "off" => (null, false),
        "stdout" => (new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false }, true),
        "stderr" => (new StreamWriter(Console.OpenStandardError(), new UTF8Encoding(false)) { AutoFlush = false }, true),
        _ => (new StreamWriter(new FileStream(access, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)), true),
    };

    private async Task WriteLoopAsync()
    {
        ChannelReader<AccessLogEntry> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            try
            {
                while (reader.TryRead(out AccessLogEntry? entry))
                {
                    await _output!.WriteLineAsync(_format(entry)).ConfigureAwait(false);
                }

                await _output!.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // A full disk or a closed pipe: count what is lost, say it once, keep the proxy serving.
                Interlocked.Increment(ref _dropped);
                if (Interlocked.Exchange(ref _writeFailed, 1) == 0)
                {
                    WriteFailed?.Invoke(e.Message);
                }
            }
        }
    }
}
