using System.Collections.Immutable;
using Sluice.Policy.Addresses;

namespace Sluice.Policy.Rules;

/// <summary>
/// Whether an earlier rule matches every request a later rule matches, so the later one can never decide anything.
/// Conservative: it answers true only when it can prove coverage matcher by matcher.
/// </summary>
public static class RuleShadowing
{
    public static bool Covers(Rule earlier, Rule later) =>
        // An inspecting rule decides CONNECTs on its connection keys alone: only an earlier rule that matches
        // CONNECTs at all (or inspects too) can take those from it.
        (later.Tls != TlsMode.Inspect || earlier.Tls == TlsMode.Inspect || earlier.MatchesTunnels)
        && CoversDestinations(earlier.Destinations, later.Destinations)
        && CoversAll(earlier.Ports, later.Ports, (a, b) => a.First <= b.First && a.Last >= b.Last)
        && CoversAll(earlier.Methods, later.Methods, (a, b) => a == b)
        && CoversAll(earlier.Schemes, later.Schemes, (a, b) => a == b)
        && CoversAll(earlier.Paths, later.Paths, (a, b) => a.Covers(b))
        && CoversAll(earlier.Clients, later.Clients, Networks.Contains)
        && CoversAll(earlier.Users, later.Users, (a, b) => a == b)
        && CoversAll(earlier.Groups, later.Groups, (a, b) => a == b);

    /// <summary>Does pattern <paramref name="a"/> match every destination <paramref name="b"/> matches?</summary>
    public static bool Covers(DestinationPattern a, DestinationPattern b)
    {
        if (a.Port is { } port && b.Port != port)
        {
            return false;
        }

        return (a.Kind, b.Kind) switch
        {
            (PatternKind.Address, PatternKind.Address) => Networks.Contains(a.Network!.Value, b.Network!.Value),
            (PatternKind.Address, _) or (_, PatternKind.Address) => false,
            (PatternKind.AnyName, _) => true,
            (_, PatternKind.AnyName) => false,
            (PatternKind.ExactName, PatternKind.ExactName) => a.Name == b.Name,
            (PatternKind.ExactName, _) => false,
            (PatternKind.NameAndSubdomains, _) => b.Name == a.Name || DestinationPattern.IsSubdomain(b.Name, a.Name),
            (PatternKind.SubdomainsOnly, PatternKind.SubdomainsOnly) => b.Name == a.Name || DestinationPattern.IsSubdomain(b.Name, a.Name),
            (PatternKind.SubdomainsOnly, _) => DestinationPattern.IsSubdomain(b.Name, a.Name),
            _ => false,
        };
    }

    private static bool CoversDestinations(ImmutableArray<DestinationPattern> earlier, ImmutableArray<DestinationPattern> later) =>
        earlier.IsEmpty || (!later.IsEmpty && later.All(b => earlier.Any(a => Covers(a, b))));

    // An absent matcher (empty) matches everything; otherwise every later entry needs a covering earlier entry.
    private static bool CoversAll<T>(ImmutableArray<T> earlier, ImmutableArray<T> later, Func<T, T, bool> covers) =>
        earlier.IsEmpty || (!later.IsEmpty && later.All(b => earlier.Any(a => covers(a, b))));

}

/// <summary>
/// Finds an earlier rule that shadows a new one without comparing it to every earlier rule: a rule whose
/// destinations are all names can only be covered by a rule naming the same name or a parent of it, or by one of
/// the few rules that match any name or address. Loading stays linear in the number of name rules.
/// </summary>
public sealed class ShadowIndex
{
    private readonly List<Rule> _unindexed = [];
    private readonly Dictionary<string, List<Rule>> _byName = new(StringComparer.Ordinal);

    /// <summary>The first earlier rule (in file order) that matches everything <paramref name="later"/> matches, if any.</summary>
    public Rule? FindCovering(Rule later)
    {
        Rule? first = null;
        void Consider(Rule earlier)
        {
            if ((first is null || earlier.Line < first.Line) && RuleShadowing.Covers(earlier, later))
            {
                first = earlier;
            }
        }

        foreach (Rule earlier in _unindexed)
        {
            Consider(earlier);
        }

        if (later.Destinations.IsEmpty || later.Destinations.Any(d => d.Kind is PatternKind.AnyName or PatternKind.Address))
        {
            return first; // only a rule matching any name or address could cover this one
        }

        foreach (DestinationPattern d in later.Destinations)
        {
            for (string? name = d.Name; name is not null; name = Parent(name))
            {
                if (_byName.TryGetValue(name, out List<Rule>? named))
                {
                    foreach (Rule earlier in named)
                    {
                        Consider(earlier);
                    }
                }
            }
        }

        return first;
    }

    public void Add(Rule rule)
    {
        if (rule.Destinations.IsEmpty || rule.Destinations.Any(d => d.Kind is PatternKind.AnyName or PatternKind.Address))
        {
            _unindexed.Add(rule);
            return;
        }

        foreach (string name in rule.Destinations.Select(d => d.Name).Distinct(StringComparer.Ordinal))
        {
            if (!_byName.TryGetValue(name, out List<Rule>? list))
            {
                _byName[name] = list = [];
            }

            list.Add(rule);
        }
    }

    private static string? Parent(string name)
    {
        int dot = name.IndexOf('.');
        return dot < 0 ? null : name[(dot + 1)..];
    }
}
