using System.Text;
using System.Threading.Channels;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Logging;

/// <summary>
/// Formats entries and writes them on a background task, so a slow disk or pipe never holds up a request.
/// Lines are flushed whenever the queue runs empty.
/// </summary>
public sealed class AccessLog : IAsyncDisposable
{
    private readonly Channel<AccessLogEntry> _queue = Channel.CreateBounded<AccessLogEntry>(
        new BoundedChannelOptions(65_536) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

    private readonly TextWriter? _output;
    private readonly bool _ownsOutput;
    private readonly Func<AccessLogEntry, string> _format;
    private readonly Task _writer;
    private long _dropped;
    private int _writeFailed;

    /// <summary>Raised once, the first time the output cannot be written.</summary>
    public event Action<string>? WriteFailed;

    public AccessLog(LogConfig config, TextWriter? output = null)
    {
        _format = config.Format == AccessLogFormat.Json ? AccessLogFormats.Json : AccessLogFormats.Squid;
        (_output, _ownsOutput) = output is not null ? (output, false) : Open(config.Access);
        _writer = _output is null ? Task.CompletedTask : Task.Run(WriteLoopAsync);
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
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        if (_ownsOutput)
        {
            await _output!.DisposeAsync().ConfigureAwait(false);
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
