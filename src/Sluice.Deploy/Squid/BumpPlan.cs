namespace Sluice.Deploy.Squid;

/// <summary>Names one ssl_bump line decides, with the line (for the comments of the rules it changes).</summary>
internal sealed record BumpNames(BumpLine Line, IReadOnlyList<string> Names);

/// <summary>
/// What the ssl_bump lines decide, destination by destination, in the terms Sluice has: the names inspected (rules
/// with <c>tls: inspect</c>), spliced (<c>tls.inspection.neverInspect</c>) and terminated (a deny rule for their
/// CONNECTs), and what happens to every other destination. Sluice decides once, with the CONNECT's host (a client's
/// SNI must name it), which is what Squid knows at step 2 from the SNI: peek and stare decide nothing and
/// <c>at_step</c> acls hold. Where Sluice's order (terminate, then neverInspect, then the rules) differs from
/// Squid's first match, the note says which way it differs.
/// </summary>
internal sealed class BumpPlan
{
    private readonly List<(BumpAction Action, string Name)> _decided = [];

    private BumpPlan()
    {
    }

    public List<BumpNames> Inspect { get; } = [];

    public List<BumpNames> Splice { get; } = [];

    public List<BumpNames> Terminate { get; } = [];

    /// <summary>What the destinations no list names get: Squid's default is splice.</summary>
    public BumpAction Rest { get; private set; } = BumpAction.Splice;

    /// <summary>The line that decided <see cref="Rest"/>; null for Squid's default.</summary>
    public BumpLine? RestLine { get; private set; }

    /// <summary>Is any CONNECT inspected?</summary>
    public bool Inspects => Rest == BumpAction.Bump || Inspect.Count > 0;

    public static BumpPlan Build(IReadOnlyList<BumpLine> lines, AclTable acls, SquidNotes notes)
    {
        var plan = new BumpPlan();
        List<string>? pending = null; // after "ACTION !names": only those names are still undecided
        for (int i = 0; i < lines.Count; i++)
        {
            BumpLine line = lines[i];
            if (line.Action == BumpAction.Look)
            {
                // Whatever its acls: looking at a handshake changes what Squid knows, not what it decides.
                notes.Remark(line.Line, "ssl_bump", "peek and stare only look: Sluice decides each CONNECT once, by its host (which a client's SNI must name), with the lines that splice, bump or terminate");
                continue;
            }

            Condition c = Evaluate(line, acls);
            if (c.Why is { } why)
            {
                string rest = i + 1 < lines.Count ? $"; nor are the lines after it (to line {lines[^1].Line})" : "";
                notes.Untranslated(line.Line, "ssl_bump", $"{why}: this line is not translated{rest}, so the CONNECTs they would decide are tunnelled, Squid's default (their requests are not checked by the rules as Squid checks bumped ones)");
                break;
            }

            if (c.Never)
            {
                notes.Remark(line.Line, "ssl_bump", "never matches (!all, or acls with no name in common); left out");
                continue;
            }

            if (c.Except is { } except)
            {
                if (pending is not null)
                {
                    notes.Untranslated(line.Line, "ssl_bump", $"a second line of the form ACTION !NAMES: Sluice cannot say \"these names but not those\"; this line and those after it are not translated, so the CONNECTs they would decide are tunnelled");
                    break;
                }

                plan.Rest = line.Action;
                plan.RestLine = line;
                pending = except;
                continue;
            }

            List<string>? names = c.Names is null ? pending : pending is null ? c.Names : AddressSets.Intersect(c.Names, pending);
            if (names is null)
            {
                plan.Rest = line.Action;
                plan.RestLine = line;
                NeverReached(lines, i, notes);
                return plan;
            }

            plan.Add(line, names, notes);
            if (c.Names is null)
            {
                NeverReached(lines, i, notes);
                return plan;
            }
        }

        if (pending is not null)
        {
            // The names "ACTION !names" let through that no later line decides: Squid's default, splice.
            plan.Add(new BumpLine(plan.RestLine!.Line, BumpAction.Splice, [], plan.RestLine.Text), pending, notes);
        }

        return plan;
    }

    private static void NeverReached(IReadOnlyList<BumpLine> lines, int i, SquidNotes notes)
    {
        foreach (BumpLine later in lines.Skip(i + 1).Where(l => l.Action != BumpAction.Look))
        {
            notes.Remark(later.Line, "ssl_bump", $"never reached: line {lines[i].Line} decides every CONNECT that gets this far; left out");
        }
    }

    private void Add(BumpLine line, List<string> names, SquidNotes notes)
    {
        var fresh = new List<string>();
        foreach (string name in names)
        {
            if (_decided.Any(d => AddressSets.Covers(d.Name, name)))
            {
                continue; // an earlier line decided it first, as in Squid
            }

            foreach ((BumpAction earlier, string other) in _decided.Where(d => AddressSets.Covers(name, d.Name) && Rank(line.Action) > Rank(d.Action)).ToList())
            {
                notes.Untranslated(line.Line, "ssl_bump", line.Action == BumpAction.Terminate
                    ? $"{name}: Squid {Verb(earlier)} {other} first (line {LineOf(other)}) and terminates the rest; Sluice refuses every CONNECT to {name}, {other} included (a deny rule comes before every other), so it refuses more than Squid"
                    : $"{name}: Squid bumps {other} first (line {LineOf(other)}) and splices the rest; neverInspect wins over every rule in Sluice, so {other} is tunnelled too (its requests are not checked by the rules)");
            }

            fresh.Add(name);
        }

        if (fresh.Count == 0)
        {
            notes.Remark(line.Line, "ssl_bump", "never decides anything: the lines before it decide every name it names; left out");
            return;
        }

        _decided.AddRange(fresh.Select(n => (line.Action, n)));
        (line.Action switch
        {
            BumpAction.Bump => Inspect,
            BumpAction.Splice => Splice,
            _ => Terminate,
        }).Add(new BumpNames(line, fresh));
    }

    private int LineOf(string name) => Inspect.Concat(Splice).Concat(Terminate).First(b => b.Names.Contains(name)).Line.Line;

    // Sluice's order: a deny rule first, then neverInspect, then the rules that inspect.
    private static int Rank(BumpAction action) => action switch
    {
        BumpAction.Terminate => 3,
        BumpAction.Splice => 2,
        _ => 1,
    };

    private static string Verb(BumpAction action) => action == BumpAction.Bump ? "bumps" : "splices";

    /// <summary>
    /// An ssl_bump line's acls, ANDed: every destination (<see cref="Names"/> null), the names it matches, every name
    /// but <see cref="Except"/>, none, or something Sluice cannot decide inspection by (<see cref="Why"/>).
    /// </summary>
    private sealed record Condition(List<string>? Names = null, List<string>? Except = null, bool Never = false, string? Why = null);

    private static Condition Evaluate(BumpLine line, AclTable acls)
    {
        List<string>? names = null;
        List<string>? except = null;
        foreach ((string name, bool negated) in line.Terms)
        {
            string shown = negated ? "!" + name : name;
            if (!acls.TryGet(name, out Acl acl))
            {
                return new Condition(Why: $"acl {name} is not defined (Squid refuses such a file)");
            }

            switch (acl.Kind)
            {
                case AclKind.All when negated:
                    return new Condition(Never: true);
                case AclKind.All or AclKind.AtStep:
                    break; // every CONNECT; Sluice has one step
                case AclKind.ServerName or AclKind.DstDomain when negated:
                    if (except is not null)
                    {
                        return new Condition(Why: $"{shown}: two negated name acls on one line");
                    }

                    except = [.. acl.Values.Distinct()];
                    break;
                case AclKind.ServerName or AclKind.DstDomain:
                    names = names is null ? [.. acl.Values.Distinct()] : AddressSets.Intersect(names, [.. acl.Values]);
                    break;
                case AclKind.Unsupported:
                    return new Condition(Why: $"{shown}: {acl.Why}");
                default:
                    return new Condition(Why: $"{shown}: Sluice decides inspection by destination name (ssl::server_name or dstdomain), not by a {Describe(acl.Kind)}");
            }
        }

        if (names is not null && except is not null)
        {
            return new Condition(Why: "names and !names on one line: Sluice cannot say \"these names but not those\"");
        }

        return names is { Count: 0 } ? new Condition(Never: true) : new Condition(names, except);
    }

    private static string Describe(AclKind kind) => kind switch
    {
        AclKind.Src => "client address (src)",
        AclKind.Dst => "destination address (dst)",
        AclKind.Port => "port",
        AclKind.Method => "method",
        AclKind.ProxyAuth => "user (proxy_auth)",
        AclKind.UrlPath => "path",
        _ => kind.ToString(),
    };
}
