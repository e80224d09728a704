using System.Collections.Concurrent;
using Sluice.Proxy.Pipeline;

namespace Sluice.Proxy.Upstream;

/// <summary>A parent proxy's state, as the status page and the admin API show it.</summary>
internal sealed record ParentState(string Upstream, string Parent, bool Up, int ConsecutiveFailures, DateTimeOffset? DownSince, DateTimeOffset? NextProbe, string? LastError);

/// <summary>
/// Which parent proxies take requests, for the life of the server (reloads keep it). A parent that fails to connect
/// <see cref="FailuresToMarkDown"/> times in a row is marked down: routes try it last and the dialer skips it. While
/// down it is probed (a connection, and a TLS handshake for https://) after 1 s, then after twice as long each time it
/// fails again, up to 60 s; the first probe or request that succeeds marks it up.
/// </summary>
internal sealed class ParentHealth : IParentHealth, IDisposable
{
    public const int FailuresToMarkDown = 3;
    private static readonly TimeSpan FirstProbe = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestProbe = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Action<ParentProxy, bool, string?> _changed;
    private readonly Timer _prober;
    private readonly CancellationTokenSource _stopping = new();

    // The latest configuration's parents and how it probes them (Retain); null until the first. A request still on an
    // older configuration that fails on a parent no longer configured leaves no state behind, and a probe always uses
    // the configuration in force, not the one the parent failed under.
    private volatile Configured? _configured;

    private sealed record Configured(IReadOnlySet<string> Keys, Func<ParentProxy, Func<CancellationToken, Task>> ProbeFor);

    /// <param name="changed">Called when a parent goes down (false, with the error) or comes back up (true).</param>
    public ParentHealth(Action<ParentProxy, bool, string?> changed)
    {
        _changed = changed;
        _prober = new Timer(_ => ProbeDue(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
    }

    public bool IsUp(ParentProxy parent) => !_entries.TryGetValue(parent.Key, out Entry? entry) || !entry.Down;

    /// <summary>A connection to the parent worked: it is up, its failures forgotten.</summary>
    public void Succeeded(ParentProxy parent)
    {
        if (_entries.TryGetValue(parent.Key, out Entry? entry))
        {
            MarkUp(entry);
        }
    }

    /// <summary>A connection to the parent failed.</summary>
    public void Failed(ParentProxy parent, string error)
    {
        if (_configured is { } configured && !configured.Keys.Contains(parent.Key))
        {
            return;
        }

        Entry entry = _entries.GetOrAdd(parent.Key, _ => new Entry(parent));
        bool wentDown;
        lock (entry)
        {
            entry.Failures++;
            entry.LastError = error;
            wentDown = !entry.Down && entry.Failures >= FailuresToMarkDown;
            if (wentDown)
            {
                entry.Down = true;
                entry.DownSince = DateTimeOffset.UtcNow;
                entry.Backoff = FirstProbe;
                entry.NextProbe = DateTimeOffset.UtcNow + FirstProbe;
            }
        }

        if (wentDown)
        {
            _changed(parent, false, error);
        }
    }

    /// <summary>
    /// Takes a new configuration's parents: forgets those it no longer has, and from now on probes the others the way
    /// <paramref name="probeFor"/> says (with that configuration's address guard and TLS trust). A parent marked down
    /// is probed again at once: what it failed on (a missing <c>ca:</c>, say) may be what the configuration changed.
    /// </summary>
    public void Retain(IEnumerable<ParentProxy> parents, Func<ParentProxy, Func<CancellationToken, Task>> probeFor)
    {
        var keep = parents.ToDictionary(p => p.Key, StringComparer.Ordinal);
        _configured = new Configured(keep.Keys.ToHashSet(StringComparer.Ordinal), probeFor); // before pruning: a Failed that comes after sees the new set
        foreach ((string key, Entry entry) in _entries)
        {
            if (!keep.TryGetValue(key, out ParentProxy? parent))
            {
                _entries.TryRemove(key, out _);
                continue;
            }

            lock (entry)
            {
                entry.Parent = parent;
                if (entry.Down)
                {
                    entry.NextProbe = DateTimeOffset.UtcNow;
                }
            }
        }
    }

    /// <summary>How many parents have a health state: never more than the configuration has.</summary>
    internal int Tracked => _entries.Count;

    /// <summary>The state of every parent of <paramref name="parents"/>, in their order.</summary>
    public IReadOnlyList<ParentState> Describe(IEnumerable<ParentProxy> parents) =>
    [
        .. parents.Select(p => _entries.TryGetValue(p.Key, out Entry? e)
            ? new ParentState(p.Upstream, p.Endpoint, !e.Down, e.Failures, e.Down ? e.DownSince : null, e.Down ? e.NextProbe : null, e.LastError)
            : new ParentState(p.Upstream, p.Endpoint, true, 0, null, null, null)),
    ];

    public void Dispose()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _prober.Dispose();
        _stopping.Cancel(); // not disposed: a probe in flight may still read its token
    }

    private void MarkUp(Entry entry)
    {
        bool cameBack;
        lock (entry)
        {
            cameBack = entry.Down;
            entry.Down = false;
            entry.Failures = 0;
            entry.DownSince = null;
            entry.LastError = null;
        }

        if (cameBack)
        {
            _changed(entry.Parent, true, null);
        }
    }

    private void ProbeDue()
    {
        if (_configured is not { } configured)
        {
            return;
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Down && entry.NextProbe <= now && Interlocked.CompareExchange(ref entry.Probing, 1, 0) == 0)
            {
                _ = ProbeAsync(entry, configured.ProbeFor(entry.Parent));
            }
        }
    }

    private async Task ProbeAsync(Entry entry, Func<CancellationToken, Task> probe)
    {
        try
        {
            await probe(_stopping.Token).ConfigureAwait(false);
            MarkUp(entry);
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            lock (entry)
            {
                entry.LastError = e.Message;
                entry.Backoff = entry.Backoff * 2 > LongestProbe ? LongestProbe : entry.Backoff * 2;
                entry.NextProbe = DateTimeOffset.UtcNow + entry.Backoff;
            }
        }
        catch (Exception)
        {
            // Stopping: the server is going away, and with it this state.
        }
        finally
        {
            Volatile.Write(ref entry.Probing, 0);
        }
    }

    private sealed class Entry(ParentProxy parent)
    {
        public ParentProxy Parent { get; set; } = parent;

        public int Failures;
        public volatile bool Down;
        public DateTimeOffset? DownSince;
        public DateTimeOffset NextProbe;
        public TimeSpan Backoff;
        public string? LastError;
        public int Probing;
    }
}
