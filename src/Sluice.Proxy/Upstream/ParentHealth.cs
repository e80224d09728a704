using System.Collections.Concurrent;
using Sluice.Proxy.Pipeline;

namespace Sluice.Proxy.Upstream;

/// <summary>A parent proxy's state, as the status page and the admin API show it.</summary>
internal sealed record ParentState(string Upstream, string Parent, bool Up, int ConsecutiveFailures, DateTimeOffset? DownSince, DateTimeOffset? NextProbe, string? LastError);

/// <summary>
/// Which parent proxies take requests, for the life of the server (reloads keep it). A parent that fails to connect
/// <see cref="FailuresToMarkDown"/> times in a row is marked down: routes try it last and the dialer skips it. While
/// down it is probed (a connection, and a TLS handshake for https://) after 1 s, then after twice as long each time it
/// fails again, up to 60 s; the first probe or request that succeeds marks it up. A probe is made the way the
/// configuration in force says (<see cref="Retain"/>): its address guard, timeouts and TLS trust, not those of the
/// configuration a failed request started with.
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

    // The configured parents and how to probe each, by key: replaced whole at every configuration (Retain).
    private volatile IReadOnlyDictionary<string, Func<CancellationToken, Task>> _probes = new Dictionary<string, Func<CancellationToken, Task>>();

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

    /// <summary>A connection to the parent failed. A parent the configuration no longer has is not tracked.</summary>
    public void Failed(ParentProxy parent, string error)
    {
        if (!_probes.ContainsKey(parent.Key))
        {
            return; // a request begun before a reload that removed its parent
        }

        Entry entry = _entries.GetOrAdd(parent.Key, _ => new Entry(parent));
        if (!_probes.ContainsKey(parent.Key))
        {
            _entries.TryRemove(parent.Key, out _); // removed by a reload in between: Retain may have missed this entry
            return;
        }

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
    /// A new configuration: its parents are the ones tracked, probed with <paramref name="probeFor"/> (its guard, its
    /// timeouts, its TLS trust); the state of the others is forgotten.
    /// </summary>
    public void Retain(IEnumerable<ParentProxy> parents, Func<ParentProxy, Func<CancellationToken, Task>> probeFor)
    {
        var probes = new Dictionary<string, Func<CancellationToken, Task>>(StringComparer.Ordinal);
        foreach (ParentProxy parent in parents)
        {
            probes.TryAdd(parent.Key, probeFor(parent));
        }

        _probes = probes; // before pruning: a Failed that adds an entry after this sees the new set and undoes itself
        foreach (string key in _entries.Keys)
        {
            if (!probes.ContainsKey(key))
            {
                _entries.TryRemove(key, out _);
            }
        }
    }

    /// <summary>How many parents have a state (a failure since their last success): at most the configured ones.</summary>
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
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Down && entry.NextProbe <= now && _probes.TryGetValue(entry.Parent.Key, out Func<CancellationToken, Task>? probe) && Interlocked.CompareExchange(ref entry.Probing, 1, 0) == 0)
            {
                _ = ProbeAsync(entry, probe);
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
        public ParentProxy Parent { get; } = parent;

        public int Failures;
        public volatile bool Down;
        public DateTimeOffset? DownSince;
        public DateTimeOffset NextProbe;
        public TimeSpan Backoff;
        public string? LastError;
        public int Probing;
    }
}
