using System.Collections.Concurrent;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Proxy.Admin;

/// <summary>One rule's figures since the proxy started: decisions it made, how many of them were would-denies, the last one.</summary>
internal sealed record RuleHits(long Hits, long WouldDeny, DateTimeOffset? LastHit);

/// <summary>
/// How often each rule, and the default, decided a request since the proxy started, for <c>/api/rules</c>, the status
/// page and <c>sluice check --usage</c>: the rules nobody uses can be pruned, and a policy in report mode shows what
/// enforcing it would refuse. Counted where the proxy decides (never by <c>sluice explain</c>), one increment per
/// decision. A rule keeps its figures across reloads as long as a rule of that name stays in the configuration;
/// names that leave it are forgotten, so memory follows the configuration, not its history.
/// </summary>
internal sealed class RuleUsage
{
    private readonly ConcurrentDictionary<string, Counter> _rules = new(StringComparer.Ordinal);
    private readonly Counter _default = new();
    private readonly TimeProvider _time;

    public RuleUsage(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        Since = _time.GetUtcNow();
    }

    /// <summary>When counting began: the proxy's start.</summary>
    public DateTimeOffset Since { get; }

    /// <summary>Counts one decision the proxy acts on: its rule's (or the default's) hit, and a would-deny if it is one.</summary>
    public void Record(Decision decision)
    {
        Counter counter = decision.Rule is { } name ? _rules.GetOrAdd(name, static _ => new Counter()) : _default;
        Interlocked.Increment(ref counter.Hits);
        if (decision.Reported)
        {
            Interlocked.Increment(ref counter.WouldDeny);
        }

        Volatile.Write(ref counter.LastHitTicks, _time.GetUtcNow().UtcTicks);
    }

    /// <summary>The figures of a rule by name; zeros for a rule that has decided nothing yet.</summary>
    public RuleHits For(string rule) => _rules.TryGetValue(rule, out Counter? counter) ? counter.Read() : new RuleHits(0, 0, null);

    /// <summary>The default's figures: requests no rule matched.</summary>
    public RuleHits ForDefault() => _default.Read();

    /// <summary>After a reload: forgets the names no rule has any more (a rule renamed starts again from zero).</summary>
    public void Keep(IEnumerable<Rule> rules)
    {
        var names = new HashSet<string>(rules.Select(r => r.Name), StringComparer.Ordinal);
        foreach (string name in _rules.Keys)
        {
            if (!names.Contains(name))
            {
                _rules.TryRemove(name, out _);
            }
        }
    }

    private sealed class Counter
    {
        public long Hits;
        public long WouldDeny;
        public long LastHitTicks;

        public RuleHits Read()
        {
            long ticks = Volatile.Read(ref LastHitTicks);
            return new RuleHits(Interlocked.Read(ref Hits), Interlocked.Read(ref WouldDeny), ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero));
        }
    }
}
