namespace Sluice.Policy.Decisions;

public enum DenyReason
{
    None,

    /// <summary>A rule with <c>action: deny</c> matched.</summary>
    Rule,

    /// <summary>No rule matched and the default is deny.</summary>
    Default,

    /// <summary>The address guard refused every address the destination resolved to.</summary>
    DestinationAddress,
}

/// <summary>The outcome of a policy or address check: a value that says allow or deny, which rule, and why.</summary>
public sealed record Decision
{
    private Decision(bool allowed, DenyReason reason, string? rule, string detail)
    {
        Allowed = allowed;
        Reason = reason;
        Rule = rule;
        Detail = detail;
    }

    public bool Allowed { get; }

    public DenyReason Reason { get; }

    /// <summary>The name of the rule that decided, if a rule did.</summary>
    public string? Rule { get; }

    /// <summary>A short sentence for operators: what matched and why.</summary>
    public string Detail { get; }

    public static Decision Allow(string detail, string? rule = null) => new(true, DenyReason.None, rule, detail);

    public static Decision Deny(DenyReason reason, string detail, string? rule = null) => new(false, reason, rule, detail);
}
