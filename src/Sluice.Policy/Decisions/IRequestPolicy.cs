namespace Sluice.Policy.Decisions;

/// <summary>The decision made before any upstream connection: may this client go to this destination?</summary>
public interface IRequestPolicy
{
    Decision Decide(RequestFacts request);
}

/// <summary>
/// The policy while no rules are configured: every destination name passes here, and the address guard
/// (which runs after resolution) refuses everything that is not public. Rules replace this in one place.
/// </summary>
public sealed class PublicDestinationsPolicy : IRequestPolicy
{
    private static readonly Decision Allowed = Decision.Allow("no rules configured: public destinations are allowed");

    public Decision Decide(RequestFacts request) => Allowed;
}
