using System.Collections.Immutable;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Squid;

/// <summary>
/// One entry of the route list: the requests that match every acl (and no entry before) leave by <see cref="Route"/>,
/// <c>direct</c>, an upstream's name or <see cref="SquidRoutes.Nowhere"/>. <see cref="Because"/> names the lines
/// that decided it; <see cref="Line"/> and <see cref="Directive"/> the outermost of them with acls, for notes.
/// </summary>
internal sealed record RouteEntry(ImmutableList<AclTerm> Terms, string Route, ImmutableList<string> Because, int Line = 0, string Directive = "")
{
    public static RouteEntry To(string route) => new([], route, []);
}

/// <summary>
/// Where Squid sends the requests it allows, as a first-match list whose last entry matches every request. Squid
/// decides in steps: <c>always_direct</c> first, then <c>never_direct</c> (only parents), else "maybe direct": GET
/// goes to a parent first and everything else direct (<c>nonhierarchical_direct</c>), or direct first
/// (<c>prefer_direct</c>). Among the parents, the first whose <c>cache_peer_access</c> lets the request through.
/// Each of those lists is first-match with an implicit last line, so the whole decision flattens into one list:
/// each line's acls in front of the entries of what it leads to. Sluice rules are first-match too, so each allow
/// rule becomes one rule per entry (<see cref="AccessRules"/>), and route order needs no negation.
/// Squid falls back to direct, or to the next parent, when a parent fails; Sluice does not leave an upstream.
/// </summary>
internal sealed class SquidRoutes
{
    /// <summary>The route of requests that never_direct keeps from going direct and that no parent takes: Squid cannot forward them.</summary>
    public const string Nowhere = "";

    private readonly AclTable _acls;

    private SquidRoutes(List<RouteEntry> entries, AclTable acls)
    {
        Entries = entries;
        _acls = acls;
    }

    public IReadOnlyList<RouteEntry> Entries { get; }

    /// <summary><c>route.default</c>: the upstream of the last entry, or direct.</summary>
    public string Default => Entries[^1].Route is RouteConfig.Direct or Nowhere ? RouteConfig.Direct : Entries[^1].Route;

    /// <summary>Squid routes some requests differently from the rest.</summary>
    public bool Conditional => Entries.Count > 1;

    public static SquidRoutes Build(PeerDirectives directives, IReadOnlyList<PeerGroup> groups, AclTable acls, SquidNotes notes)
    {
        var flattening = new Flattening(directives, groups, acls);
        List<RouteEntry> entries = Prune(flattening.Top());
        entries = Prune(Expressible(entries, acls, notes));
        var routes = new SquidRoutes(entries, acls);
        routes.Explain(directives, groups, flattening.Get, notes);
        return routes;
    }

    /// <summary>The via of a rule for this entry: null when it is route.default (or a rule that denies).</summary>
    public string? Via(RouteEntry entry) => entry.Route == Default || entry.Route == Nowhere ? null : entry.Route;

    /// <summary>Why the requests of an entry leave as they do, for the comment above a rule; null when nothing says.</summary>
    public static string? Why(RouteEntry entry) => entry.Because.IsEmpty ? null : $"{Describe(entry.Route)}: {string.Join(", ", entry.Because)}";

    public static string Describe(string route) => route switch
    {
        RouteConfig.Direct => "direct",
        Nowhere => "nowhere (no parent takes them and Squid may not go direct)",
        _ => $"through {route}",
    };

    /// <summary>The acls of both, in order, without <c>all</c> (it matches every request) and without repeats.</summary>
    public ImmutableList<AclTerm> Combine(IEnumerable<AclTerm> first, IEnumerable<AclTerm> then) => Combine(_acls, first, then);

    private static ImmutableList<AclTerm> Combine(AclTable acls, IEnumerable<AclTerm> first, IEnumerable<AclTerm> then) =>
        [.. first.Concat(then).Where(t => t.Negated || !acls.TryGet(t.Acl, out Acl acl) || acl.Kind != AclKind.All).Distinct()];

    // An entry with every acl of an earlier one (none: it matches every request) is never reached; a run of entries
    // just before the last with the last one's route changes nothing.
    private static List<RouteEntry> Prune(List<RouteEntry> entries)
    {
        entries = entries[..(entries.FindIndex(e => e.Terms.IsEmpty) + 1)];
        entries = [.. entries.Where((e, i) => !entries.Take(i).Any(earlier => earlier.Terms.All(e.Terms.Contains)))];
        int k = entries.Count - 1;
        while (k > 0 && entries[k - 1].Route == entries[^1].Route)
        {
            k--;
        }

        entries.RemoveRange(k, entries.Count - 1 - k);
        return entries;
    }

    // Entries whose acls Sluice cannot express are left out: their requests take the route of the entries after them.
    private static List<RouteEntry> Expressible(List<RouteEntry> entries, AclTable acls, SquidNotes notes)
    {
        var kept = new List<RouteEntry>();
        foreach (RouteEntry entry in entries[..^1])
        {
            var conditions = new AccessConditions(acls, new SquidNotes());
            AccessCondition? c = conditions.Translate(new SquidAccess(entry.Line, Allow: true, entry.Terms, ""));
            if (c is null)
            {
                notes.Untranslated(entry.Line, entry.Directive, $"{conditions.Problem}: Sluice cannot single out the requests that go {Describe(entry.Route)} ({string.Join(", ", entry.Because)}), so they leave as the requests after them do");
            }
            else if (!c.MatchesNothing)
            {
                kept.Add(entry);
            }
        }

        kept.Add(entries[^1]);
        return kept;
    }

    private void Explain(PeerDirectives d, IReadOnlyList<PeerGroup> groups, string? get, SquidNotes notes)
    {
        if (groups.Count == 0)
        {
            if (d.AlwaysDirect.Count > 0)
            {
                notes.Remark(d.AlwaysDirect[0].Line, "always_direct", "no parent is translated: every request goes direct anyway");
            }
        }
        else if (d.PreferDirect != 0)
        {
            notes.Remark(d.PreferDirect, "prefer_direct", "on: Squid goes direct first and to a parent when that fails; Sluice has no fallback, so the requests never_direct does not cover go direct");
        }
        else if (d.NonhierarchicalToParents != 0)
        {
            notes.Remark(d.NonhierarchicalToParents, "nonhierarchical_direct", "off: the requests never_direct does not cover go to the parents first; Squid goes direct when they fail, Sluice does not");
        }

        if (get is not null && Entries.Any(e => e.Terms.Contains(new AclTerm(get, false))))
        {
            notes.Remark(groups[0].Line, "cache_peer", "without never_direct, Squid sends GET requests to a parent first (direct when it fails) and every other request direct (nonhierarchical_direct): "
                + "the rules for GET go through the upstream, the rest direct, with no fallback; `never_direct allow all` sends every request through the parents");
        }

        if (Entries.Any(e => e.Route == Nowhere))
        {
            notes.Remark(d.NeverDirect[0].Line, "never_direct", groups.Count == 0
                ? "no parent is translated, so Squid cannot forward the requests never_direct keeps from going direct: the rules that allow them deny instead"
                : "Squid cannot forward the requests never_direct keeps from going direct when no cache_peer_access lets them through: the rules that allow them deny instead");
        }
    }

    /// <summary>Squid's decision as nested first-match lists, flattened.</summary>
    private sealed class Flattening(PeerDirectives d, IReadOnlyList<PeerGroup> groups, AclTable acls)
    {
        /// <summary>The acl the GET entries use, once they are made.</summary>
        public string? Get { get; private set; }

        public List<RouteEntry> Top() => Flatten(d.AlwaysDirect, "always_direct", () => [RouteEntry.To(RouteConfig.Direct)], NeverDirect, emptyAllows: false);

        private List<RouteEntry> NeverDirect() => Flatten(d.NeverDirect, "never_direct", () => Parents(0, Nowhere), MaybeDirect, emptyAllows: false);

        private List<RouteEntry> MaybeDirect()
        {
            if (groups.Count == 0 || d.PreferDirect != 0)
            {
                return [RouteEntry.To(RouteConfig.Direct)];
            }

            List<RouteEntry> parents = Parents(0, RouteConfig.Direct);
            if (d.NonhierarchicalToParents != 0)
            {
                return parents;
            }

            Get ??= acls.DefineOwn("GET", AclKind.Method, "GET");
            AclTerm get = new(Get, false);
            return [.. parents.Select(e => e with { Terms = Combine(acls, [get], e.Terms), Because = e.Because.Insert(0, "GET without never_direct") }), RouteEntry.To(RouteConfig.Direct)];
        }

        // The first group whose cache_peer_access lets the request through; none: the route given.
        private List<RouteEntry> Parents(int index, string none)
        {
            if (index == groups.Count)
            {
                return [RouteEntry.To(none)];
            }

            PeerGroup group = groups[index];
            return Flatten(group.Access, "cache_peer_access", () => [RouteEntry.To(group.Upstream.Name)], () => Parents(index + 1, none), emptyAllows: true);
        }

        // A first-match list: each line's acls in front of the entries of its branch; Squid's implicit last line is
        // the opposite of the last line (emptyAllows for a list without lines). A negated name, address or user acl,
        // which a Sluice rule cannot say, is taken apart instead: the requests it excludes go on to the next line
        // first, then the line without it decides the rest.
        private List<RouteEntry> Flatten(List<SquidAccess> lines, string directive, Func<List<RouteEntry>> allow, Func<List<RouteEntry>> deny, bool emptyAllows)
        {
            bool defaultAllows = lines.Count == 0 ? emptyAllows : !lines[^1].Allow;

            // Only an implicit allow is worth a word: an implicit deny just goes on to the next step.
            string? implicitLine = lines.Count == 0 || !defaultAllows ? null : $"{directive}'s implicit allow after line {lines[^1].Line}";
            return From(0);

            List<RouteEntry> From(int i) => i < lines.Count
                ? Line(lines[i], i)
                : [.. (defaultAllows ? allow() : deny()).Select(e => implicitLine is null ? e : e with { Because = e.Because.Insert(0, implicitLine) })];

            List<RouteEntry> Line(SquidAccess line, int i)
            {
                int n = line.Terms.ToList().FindIndex(t => t.Negated && acls.TryGet(t.Acl, out Acl acl) && acl.Kind is AclKind.DstDomain or AclKind.Dst or AclKind.ProxyAuth);
                if (n < 0)
                {
                    return [.. Under(line, line.Allow ? allow() : deny(), $"{directive} line {line.Line}"), .. From(i + 1)];
                }

                AclTerm[] others = [.. line.Terms.Where((_, k) => k != n)];
                AclTerm[] excluded = [.. line.Terms.Select((t, k) => k == n ? t with { Negated = false } : t)];
                return [.. Under(line with { Terms = excluded }, From(i + 1), because: null), .. Line(line with { Terms = others }, i)];
            }

            IEnumerable<RouteEntry> Under(SquidAccess line, List<RouteEntry> entries, string? because)
            {
                ImmutableList<AclTerm> own = Combine(acls, line.Terms, []);
                foreach (RouteEntry e in entries)
                {
                    (int at, string what) = own.IsEmpty ? (e.Line, e.Directive) : (line.Line, directive);
                    yield return new RouteEntry(Combine(acls, own, e.Terms), e.Route, because is null ? e.Because : e.Because.Insert(0, because), at, what);
                }
            }
        }
    }
}
