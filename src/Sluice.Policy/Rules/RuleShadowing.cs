using System.Collections.Immutable;
using System.Net;

namespace Sluice.Policy.Rules;

/// <summary>
/// Whether an earlier rule matches every request a later rule matches, so the later one can never decide anything.
/// Conservative: it answers true only when it can prove coverage matcher by matcher.
/// </summary>
public static class RuleShadowing
{
    public static bool Covers(Rule earlier, Rule later) =>
        CoversDestinations(earlier.Destinations, later.Destinations)
        && CoversAll(earlier.Ports, later.Ports, (a, b) => a.First <= b.First && a.Last >= b.Last)
        && CoversAll(earlier.Methods, later.Methods, (a, b) => a == b)
        && CoversAll(earlier.Schemes, later.Schemes, (a, b) => a == b)
        && CoversAll(earlier.Clients, later.Clients, Contains)
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
            (PatternKind.Address, PatternKind.Address) => Contains(a.Network!.Value, b.Network!.Value),
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

    private static bool Contains(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily
        && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);
}
