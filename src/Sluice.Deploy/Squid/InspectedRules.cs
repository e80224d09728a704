using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// The translated rules with what ssl_bump decides: the allow rules that let a CONNECT through inspect it where Squid
/// bumps it (split in two when only some of their destinations are bumped: the bumped ones first, with
/// <c>tls: inspect</c>), a deny rule for the CONNECTs Squid terminates comes first, and the names Squid splices are
/// <c>tls.inspection.neverInspect</c>. In Squid, http_access decides the requests inside a bumped tunnel again; in
/// Sluice the rules do, so they keep their order.
/// </summary>
internal static class InspectedRules
{
    public static (List<TranslatedRule> Rules, SquidInspection? Inspection) Apply(List<TranslatedRule> rules, BumpPlan plan, BumpDirectives bump, SquidNotes notes)
    {
        bool inspects = plan.Inspects;
        int firstBump = plan.Inspect.Select(b => b.Line.Line).Append(plan.Rest == BumpAction.Bump ? plan.RestLine!.Line : int.MaxValue).Min();
        if (inspects && bump.Ca is null)
        {
            notes.Untranslated(firstBump, "ssl_bump", "Squid bumps here, but no http_port has ssl-bump with tls-cert= (the CA it signs with): nothing is inspected; make a CA with sluice ca init, add tls.inspection and tls: inspect by hand");
            inspects = false;
        }
        else if (!inspects && bump.Ca is { } unused)
        {
            notes.Remark(unused.Line, "http_port", "ssl-bump: nothing is inspected (no ssl_bump line that translates bumps anything; Squid's default is splice), so tls.inspection is left out");
        }

        if (!inspects && bump.UpstreamCa is { } cafile)
        {
            notes.Remark(cafile.Line, "tls_outgoing_options", $"{cafile.File} is for bumped connections, and nothing is inspected: left out");
        }

        var result = Terminations(plan, notes);
        foreach (TranslatedRule translated in rules)
        {
            TranslatedRule t = translated;
            if (result.FirstOrDefault(r => RuleShadowing.Covers(r.Rule, t.Rule)) is { } terminated)
            {
                notes.Remark((int)t.Rule.Line, "http_access", $"never decides anything once {terminated.AccessLine} refuses those CONNECTs; left out");
                continue;
            }

            if (inspects && t.Rule.Schemes is [RequestScheme.Http])
            {
                // !CONNECT: the requests inside an inspected tunnel are not CONNECTs either.
                t = t with { Rule = t.Rule with { Schemes = [RequestScheme.Http, RequestScheme.Https] } };
            }

            if (inspects && t.Rule.Action == RuleAction.Allow && t.Rule.Schemes.IsEmpty && t.Rule.MatchesTunnels)
            {
                if (Inspected(t, plan) is { } split && !result.Any(r => RuleShadowing.Covers(r.Rule, split.Rule)))
                {
                    result.Add(split with { Rule = split.Rule with { Name = Unique(split.Rule.Name, rules, result) } });
                }

                if (plan.Rest == BumpAction.Bump || Bumped(t.Rule, plan) is { All: true })
                {
                    t = t with { Rule = t.Rule with { Tls = TlsMode.Inspect }, Tls = Why(plan, t.Rule) };
                }
            }

            result.Add(t);
        }

        SquidInspection? inspection = inspects && bump.Ca is { } ca
            ? new SquidInspection(ca.Certificate, ca.Key, bump.UpstreamCa?.File, [.. plan.Splice.SelectMany(s => s.Names).Distinct()], Comment(ca, plan, bump))
            : null;
        return (result, inspection);
    }

    /// <summary>The deny rules for the CONNECTs Squid terminates, which come before every other rule.</summary>
    private static List<TranslatedRule> Terminations(BumpPlan plan, SquidNotes notes)
    {
        var rules = new List<TranslatedRule>();
        if (plan.Rest == BumpAction.Terminate)
        {
            BumpLine line = plan.RestLine!;
            notes.Untranslated(line.Line, "ssl_bump", "terminate for every destination the lines before it do not name: Sluice cannot refuse the CONNECTs to \"every destination but\" some; it refuses every CONNECT (the rule terminate-all comes first), which refuses more than Squid");
            rules.Add(new TranslatedRule(new Rule { Name = "terminate-all", Action = RuleAction.Deny, Line = line.Line, Methods = ["CONNECT"] }, line.Text));
            return rules;
        }

        foreach (BumpNames terminated in plan.Terminate)
        {
            BumpLine line = terminated.Line;
            string name = "terminate-" + string.Join("-", line.Terms.Where(t => !t.Negated).Select(t => t.Acl));
            rules.Add(new TranslatedRule(new Rule
            {
                Name = rules.Any(r => r.Rule.Name == name) ? $"{name}-line{line.Line}" : name,
                Action = RuleAction.Deny,
                Line = line.Line,
                Destinations = [.. terminated.Names.Select(AccessRules.Destination)],
                Methods = ["CONNECT"],
            }, line.Text));
        }

        return rules;
    }

    /// <summary>The rule for the bumped names among the rule's destinations, to go first; null when there are none or they are all its destinations.</summary>
    private static TranslatedRule? Inspected(TranslatedRule t, BumpPlan plan)
    {
        if (plan.Rest == BumpAction.Bump || Bumped(t.Rule, plan) is not { All: false, Names: { Count: > 0 } names })
        {
            return null;
        }

        Rule rule = t.Rule with { Name = t.Rule.Name + "-inspect", Destinations = [.. names.Select(AccessRules.Destination)], Tls = TlsMode.Inspect };
        return t with { Rule = rule, Tls = Why(plan, rule) };
    }

    /// <summary>
    /// The bumped names the rule's CONNECTs can go to (where its destinations and the bumped names overlap; every
    /// bumped name when it names no destination), and whether they are all of its destinations; null when nothing is
    /// bumped by name.
    /// </summary>
    private static (List<string> Names, bool All)? Bumped(Rule rule, BumpPlan plan)
    {
        List<string> bumped = [.. plan.Inspect.SelectMany(b => b.Names)];
        if (bumped.Count == 0)
        {
            return null;
        }

        if (rule.Destinations.IsEmpty)
        {
            return (bumped, false);
        }

        List<string> names = [.. rule.Destinations.Where(d => d.Kind is PatternKind.ExactName or PatternKind.NameAndSubdomains && d.Port is null).Select(d => d.Text)];
        bool all = names.Count == rule.Destinations.Length && names.All(n => bumped.Any(b => AddressSets.Covers(b, n)));
        return (all ? names : AddressSets.Intersect(names, bumped), all);
    }

    private static string Why(BumpPlan plan, Rule rule)
    {
        if (plan.Rest == BumpAction.Bump)
        {
            return $"ssl_bump line {plan.RestLine!.Line} ({plan.RestLine.Text}) bumps its CONNECTs: tls: inspect";
        }

        IEnumerable<BumpNames> lines = plan.Inspect.Where(b => b.Names.Any(n => rule.Destinations.Any(d => AddressSets.Covers(n, d.Text) || AddressSets.Covers(d.Text, n))));
        return string.Join("\n", lines.Select(b => $"ssl_bump line {b.Line.Line} ({b.Line.Text}) bumps {string.Join(", ", b.Names)}: tls: inspect"));
    }

    private static string Comment(BumpCa ca, BumpPlan plan, BumpDirectives bump)
    {
        string rest = plan.Rest == BumpAction.Bump ? "every CONNECT a rule allows" : "the CONNECTs the rules with tls: inspect allow";
        string never = plan.Splice.Count == 0 ? "" : $"\nneverInspect: what ssl_bump splices (line{(plan.Splice.Count > 1 ? "s" : "")} {string.Join(", ", plan.Splice.Select(s => s.Line.Line).Distinct())}), whatever a rule says.";
        string upstream = bump.UpstreamCa is { } u ? $"\nupstreamCa: line {u.Line}, trusted for origins besides the system roots." : "";
        return $"TLS inspection, from http_port ssl-bump (line {ca.Line}) and ssl_bump: Sluice inspects {rest}, signing with this CA (clients trust it, as they trusted Squid's).{never}{upstream}";
    }

    private static string Unique(string name, List<TranslatedRule> rules, List<TranslatedRule> result)
    {
        string unique = name;
        for (int i = 2; rules.Any(r => r.Rule.Name == unique) || result.Any(r => r.Rule.Name == unique); i++)
        {
            unique = $"{name}-{i}";
        }

        return unique;
    }
}
