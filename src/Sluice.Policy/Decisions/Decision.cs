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
    private Decision(bool allowed, DenyReason reason, string? rule, string detail, bool reported = false)
    {
        Allowed = allowed;
        Reason = reason;
        Rule = rule;
        Detail = detail;
        Reported = reported;
    }

    public bool Allowed { get; }

    /// <summary>Why the request is (or, when <see cref="Reported"/>, would be) denied; None for a plain allow.</summary>
    public DenyReason Reason { get; }

    /// <summary>
    /// Allowed only because the policy reports instead of enforcing (<c>action: report</c>, or <c>mode: report</c>):
    /// enforced, <see cref="Reason"/> and <see cref="Rule"/> would deny it. A would-deny, logged and counted as one.
    /// </summary>
    public bool Reported { get; }

    /// <summary>The name of the rule that decided, if a rule did.</summary>
    public string? Rule { get; }

    /// <summary>A short sentence for operators: what matched and why.</summary>
    public string Detail { get; }

    public static Decision Allow(string detail, string? rule = null) => new(true, DenyReason.None, rule, detail);

    public static Decision Deny(DenyReason reason, string detail, string? rule = null) => new(false, reason, rule, detail);

    /// <summary>A would-deny: let through, with what enforcing would have answered.</summary>
    public static Decision Report(DenyReason reason, string detail, string? rule = null) => new(true, reason, rule, detail, reported: true);
}
