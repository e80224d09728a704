using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// The http_access lines as Sluice rules, in order: a line whose condition never matches, or that an earlier rule
/// shadows (Sluice refuses unreachable rules), is left out and reported. An allow line becomes one rule per entry of
/// the route list (<see cref="SquidRoutes"/>): its acls and the entry's, with the entry's route as via, the last one
/// being the line's own condition. An entry with no parent where Squid may not go direct makes a rule that denies.
/// </summary>
internal static class AccessRules
{
    public static (List<TranslatedRule> Rules, bool UsesAuth) Translate(IReadOnlyList<SquidAccess> access, AclTable acls, SquidRoutes routes, SquidNotes notes)
    {
        var conditions = new AccessConditions(acls, notes);
        var rules = new List<TranslatedRule>();
        bool routedAuth = false;
        IReadOnlyList<RouteEntry> noRoute = [RouteEntry.To(RouteConfig.Direct)];
        foreach (SquidAccess line in access)
        {
            foreach (RouteEntry entry in line.Allow ? routes.Entries : noRoute)
            {
                // The last entry matches every request: that rule is the line's own condition, with the line's notes.
                bool own = entry.Terms.IsEmpty;
                SquidAccess split = line with { Terms = own ? line.Terms : routes.Combine(line.Terms, entry.Terms), Allow = line.Allow && entry.Route != SquidRoutes.Nowhere };
                AccessConditions translator = own ? conditions : new AccessConditions(acls, new SquidNotes());
                AccessCondition? c = translator.Translate(split);
                routedAuth |= translator.UsesAuth;
                if (!own && translator.Problem is { } problem)
                {
                    notes.Untranslated(line.Line, "http_access", $"{SquidRoutes.Describe(entry.Route)} ({string.Join(", ", entry.Because)}): Sluice cannot put this line's acls and those on one rule ({problem}); "
                        + (c is null ? "these requests leave as the rules after it say" : "the rule that refuses them denies more than Squid refuses"));
                }

                if (c is null)
                {
                    continue; // an allow line Sluice cannot express exactly is left out: it allows less
                }

                if (c.MatchesNothing)
                {
                    if (own)
                    {
                        notes.Remark(line.Line, "http_access", $"never matches in Sluice ({c.NeverWhy ?? "its acls have nothing in common"}); left out");
                    }

                    continue;
                }

                Rule rule = ToRule(split, c, rules) with { Via = split.Allow ? routes.Via(entry) : null };
                if (rules.FirstOrDefault(r => RuleShadowing.Covers(r.Rule, rule)) is { } earlier)
                {
                    // A route's rule that an earlier one covers decides nothing either, as in Squid; it was not written by hand.
                    if (own && earlier.Rule.Line != line.Line)
                    {
                        notes.Remark(line.Line, "http_access", $"never decides anything: the rule from line {earlier.Rule.Line} ({earlier.Rule.Name}) comes first and matches every request this one does; left out (Sluice refuses unreachable rules)");
                    }

                    continue;
                }

                rules.Add(new TranslatedRule(rule, line.Text, SquidRoutes.Why(entry)));
            }
        }

        return (rules, conditions.UsesAuth || routedAuth);
    }

    /// <summary>Matches every request: no matcher at all.</summary>
    public static bool IsCatchAll(Rule rule) =>
        rule.Destinations.IsEmpty && rule.Ports.IsEmpty && rule.Methods.IsEmpty && rule.Paths.IsEmpty && rule.Schemes.IsEmpty && rule.Clients.IsEmpty && rule.Users.IsEmpty;

    private static Rule ToRule(SquidAccess line, AccessCondition c, List<TranslatedRule> earlier)
    {
        string action = line.Allow ? "allow" : "deny";
        string baseName = $"{action}-{(c.Parts.Count == 0 ? "all" : string.Join("-", c.Parts))}";
        baseName = new string(baseName.Select(ch => char.IsWhiteSpace(ch) || ch == '"' || char.IsControl(ch) ? '_' : ch).ToArray());
        string name = baseName;
        for (int i = 1; earlier.Any(r => r.Rule.Name == name); i++)
        {
            name = i == 1 ? $"{baseName}-line{line.Line}" : $"{baseName}-line{line.Line}-{i}";
        }

        var rule = new Rule { Name = name, Action = line.Allow ? RuleAction.Allow : RuleAction.Deny, Line = line.Line };
        if (c.Domains is not null)
        {
            rule = rule with { Destinations = [.. c.Domains.Select(Destination)] };
        }
        else if (c.Destinations is not null && !AddressSets.IsEverything(c.Destinations))
        {
            rule = rule with { Destinations = [.. c.Destinations.Select(n => Destination(n.ToString()))] };
        }

        if (c.Ports is not null && !(c.Ports is [var only] && only == AddressSets.EveryPort))
        {
            rule = rule with { Ports = [.. c.Ports] };
        }

        if (c.Methods is not null)
        {
            rule = rule with { Methods = [.. c.Methods] };
        }

        if (c.Paths is not null)
        {
            rule = rule with { Paths = [.. c.Paths.Select(Path)] };
        }

        if (c.HttpOnly)
        {
            rule = rule with { Schemes = [RequestScheme.Http] };
        }

        if (c.Clients is not null && !AddressSets.IsEverything(c.Clients))
        {
            rule = rule with { Clients = [.. c.Clients] };
        }

        if (c.Users is not null)
        {
            rule = rule with { Users = [.. c.Users] };
        }

        return rule;
    }

    // Every glob was checked as a path when its acl was read.
    private static PathPattern Path(string text) =>
        PathPattern.TryParse(text, out PathPattern pattern, out string problem)
            ? pattern
            : throw new InvalidOperationException($"'{text}' is not a path: {problem}");

    // Every value was checked as a destination when its acl was read.
    public static DestinationPattern Destination(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern pattern, out string problem)
            ? pattern
            : throw new InvalidOperationException($"'{text}' is not a destination: {problem}");
}
