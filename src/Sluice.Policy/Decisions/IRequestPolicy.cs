namespace Sluice.Policy.Decisions;

/// <summary>The decision made before any upstream connection: may this client go to this destination?</summary>
public interface IRequestPolicy
{
    Decision Decide(RequestFacts request);
}
