using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>An access-log output that tests can wait on: lines are written by the proxy's background log writer.</summary>
public sealed class LogCapture : TextWriter
{
    private readonly List<string> _lines = [];
    private readonly StringBuilder _current = new();

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

    public override void Write(char value)
    {
        lock (_lines)
        {
            if (value == '\n')
            {
                _lines.Add(_current.ToString());
                _current.Clear();
                Monitor.PulseAll(_lines);
            }
            else if (value != '\r')
            {
                _current.Append(value);
            }
        }
    }

    /// <summary>Waits (generously) for a line that matches; fails saying what never appeared.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, string what, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < deadline)
        {
            string? line = Lines.FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException($"no access-log line {what} within {timeoutMs} ms; lines were:\n{string.Join("\n", Lines)}");
    }
}
