using System.Collections.Immutable;
using Sluice.Policy.Decisions;

namespace Sluice.Policy.Rules;

/// <summary>One rule's part in an explanation: matched (Mismatch null) or why not.</summary>
public sealed record RuleEvaluation(Rule Rule, string? Mismatch);

/// <summary>A decision with the rules looked at on the way, in order, for <c>sluice explain</c>.</summary>
public sealed record Explanation(Decision Decision, ImmutableArray<RuleEvaluation> Evaluated);

/// <summary>
/// First-match rules with a default. Rules are indexed by the names their destinations mention, so a decision
/// looks only at the rules that could match the host (plus the rules that match any name or an address):
/// its cost does not grow with the number of domain rules. Order is preserved: the lowest-numbered matching
/// rule wins, exactly as if every rule were tried in turn.
/// </summary>
public sealed class RulePolicy
{
    private readonly ImmutableArray<Rule> _rules;
    private readonly RuleAction _default;
    private readonly PolicyMode _mode;
    private readonly Dictionary<string, int[]> _byExactName;
    private readonly Dictionary<string, int[]> _byParentName;
    private readonly int[] _unindexed;

    /// <param name="mode"><c>mode: report</c> turns every deny into a would-deny (<see cref="Decision.Reported"/>).</param>
    public RulePolicy(ImmutableArray<Rule> rules, RuleAction defaultAction, PolicyMode mode = PolicyMode.Enforce)
    {
        _rules = rules;
        _default = defaultAction;
        _mode = mode;
        var exact = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var parent = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var unindexed = new List<int>();
        for (int i = 0; i < rules.Length; i++)
        {
            Rule rule = rules[i];
            if (rule.Destinations.IsEmpty || rule.Destinations.Any(d => d.Kind is PatternKind.AnyName or PatternKind.Address))
            {
                unindexed.Add(i);
                continue;
            }

            foreach (DestinationPattern d in rule.Destinations)
            {
                if (d.Kind is PatternKind.ExactName or PatternKind.NameAndSubdomains)
                {
                    Add(exact, d.Name, i);
                }

                if (d.Kind is PatternKind.NameAndSubdomains or PatternKind.SubdomainsOnly)
                {
                    Add(parent, d.Name, i);
                }
            }
        }

        _byExactName = exact.ToDictionary(p => p.Key, p => p.Value.Distinct().ToArray(), StringComparer.Ordinal);
        _byParentName = parent.ToDictionary(p => p.Key, p => p.Value.Distinct().ToArray(), StringComparer.Ordinal);
        _unindexed = unindexed.ToArray();
    }

    public ImmutableArray<Rule> Rules => _rules;

    public RuleAction Default => _default;

    public PolicyMode Mode => _mode;

    public Decision Decide(RequestFacts request)
    {
        // First match wins: the lowest-numbered candidate that matches. Each candidate list is sorted, so a list is
        // scanned only up to the best match found so far, and nothing is merged or allocated.
        int best = int.MaxValue;
        Scan(_unindexed, request, ref best);
        if (request.Address is null)
        {
            string host = request.Host;
            if (_byExactName.TryGetValue(host, out int[]? exact))
            {
                Scan(exact, request, ref best);
            }

            for (int dot = host.IndexOf('.'); dot >= 0; dot = host.IndexOf('.', dot + 1))
            {
                if (_byParentName.TryGetValue(host[(dot + 1)..], out int[]? parents))
                {
                    Scan(parents, request, ref best);
                }
            }
        }

        return best == int.MaxValue ? DefaultDecision(request) : Decided(_rules[best], request);
    }

    private void Scan(int[] candidates, RequestFacts request, ref int best)
    {
        foreach (int index in candidates)
        {
            if (index >= best)
            {
                return;
            }

            if (_rules[index].Matches(request))
            {
                best = index;
                return;
            }
        }
    }

    /// <summary>
    /// For an anonymous request that was refused: would a rule that names users or groups have been reached and
    /// matched but for the missing identity? Then the client deserves a 407 challenge rather than a 403, because
    /// many clients (.NET, browsers) send proxy credentials only after being challenged.
    /// </summary>
    public bool IdentityWouldMatter(RequestFacts request)
    {
        foreach (Rule rule in _rules)
        {
            if (rule.WaitsOnIdentity(request))
            {
                return true;
            }

            if (rule.Mismatch(request) is null)
            {
                return false; // an earlier rule decided without asking who the client is
            }
        }

        return false;
    }

    /// <summary>Every rule tried in order up to the first match, with the reason each earlier one did not match.</summary>
    public Explanation Explain(RequestFacts request)
    {
        var evaluated = ImmutableArray.CreateBuilder<RuleEvaluation>();
        foreach (Rule rule in _rules)
        {
            string? mismatch = rule.Mismatch(request);
            evaluated.Add(new RuleEvaluation(rule, mismatch));
            if (mismatch is null)
            {
                return new Explanation(Decided(rule, request), evaluated.ToImmutable());
            }
        }

        return new Explanation(DefaultDecision(request), evaluated.ToImmutable());
    }

    private Decision Decided(Rule rule, RequestFacts request) => rule.Action switch
    {
        RuleAction.Allow => Decision.Allow($"rule {rule.Name} allows {Describe(request)}", rule.Name),
        RuleAction.Report => Decision.Report(DenyReason.Rule, $"rule {rule.Name} would deny {Describe(request)} (action: report lets it through)", rule.Name),
        _ when _mode == PolicyMode.Report => Decision.Report(DenyReason.Rule, $"rule {rule.Name} would deny {Describe(request)} (mode: report lets it through)", rule.Name),
        _ => Decision.Deny(DenyReason.Rule, $"rule {rule.Name} denies {Describe(request)}", rule.Name),
    };

    private Decision DefaultDecision(RequestFacts request) => (_default, _mode) switch
    {
        (RuleAction.Allow, _) => Decision.Allow($"no rule matched {Describe(request)}; the default is allow"),
        (_, PolicyMode.Report) => Decision.Report(DenyReason.Default, $"no rule matched {Describe(request)}; the default would deny it (mode: report lets it through)"),
        _ => Decision.Deny(DenyReason.Default, $"no rule matched {Describe(request)}; the default is deny"),
    };

    private static string Describe(RequestFacts r) => $"{r.Method} {r.Host}:{r.Port}";

    private static void Add(Dictionary<string, List<int>> index, string key, int rule)
    {
        if (!index.TryGetValue(key, out List<int>? list))
        {
            index[key] = list = [];
        }

        list.Add(rule);
    }
}
