using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// The http_access lines as Sluice rules, in order: a line whose condition never matches, or that an earlier rule
/// shadows (Sluice refuses unreachable rules), is left out and reported.
/// </summary>
internal static class AccessRules
{
    public static (List<TranslatedRule> Rules, bool UsesAuth) Translate(IReadOnlyList<SquidAccess> access, AclTable acls, SquidNotes notes)
    {
        var conditions = new AccessConditions(acls, notes);
        var rules = new List<TranslatedRule>();
        foreach (SquidAccess line in access)
        {
            AccessCondition? c = conditions.Translate(line);
            if (c is null)
            {
                continue; // an allow line Sluice cannot express exactly is left out: it allows less
            }

            if (c.MatchesNothing)
            {
                notes.Remark(line.Line, "http_access", $"never matches in Sluice ({c.NeverWhy ?? "its acls have nothing in common"}); left out");
                continue;
            }

            Rule rule = ToRule(line, c, rules);
            if (rules.FirstOrDefault(r => RuleShadowing.Covers(r.Rule, rule)) is { } earlier)
            {
                notes.Remark(line.Line, "http_access", $"never decides anything: the rule from line {earlier.Rule.Line} ({earlier.Rule.Name}) comes first and matches every request this one does; left out (Sluice refuses unreachable rules)");
                continue;
            }

            rules.Add(new TranslatedRule(rule, line.Text));
        }

        return (rules, conditions.UsesAuth);
    }

    /// <summary>Matches every request: no matcher at all.</summary>
    public static bool IsCatchAll(Rule rule) =>
        rule.Destinations.IsEmpty && rule.Ports.IsEmpty && rule.Methods.IsEmpty && rule.Schemes.IsEmpty && rule.Clients.IsEmpty && rule.Users.IsEmpty;

    private static Rule ToRule(SquidAccess line, AccessCondition c, List<TranslatedRule> earlier)
    {
        string action = line.Allow ? "allow" : "deny";
        string baseName = $"{action}-{(c.Parts.Count == 0 ? "all" : string.Join("-", c.Parts))}";
        baseName = new string(baseName.Select(ch => char.IsWhiteSpace(ch) || ch == '"' || char.IsControl(ch) ? '_' : ch).ToArray());
        string name = earlier.Any(r => r.Rule.Name == baseName) ? $"{baseName}-line{line.Line}" : baseName;

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

    // Every value was checked as a destination when its acl was read.
    private static DestinationPattern Destination(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern pattern, out string problem)
            ? pattern
            : throw new InvalidOperationException($"'{text}' is not a destination: {problem}");
}
