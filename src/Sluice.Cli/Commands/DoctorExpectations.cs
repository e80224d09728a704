using System.Net;
using Sluice.Client.Diagnostics;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Resolution;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice doctor --from-policy</c>: what the policy's own pipeline (<see cref="RequestPipeline"/>) expects the proxy
/// to answer for each target's CONNECT, said before probing, and any answer that turns out different, said after.
/// Names are not resolved here (the proxy resolves with its own DNS), so an allowed name may still be refused there.
/// </summary>
internal sealed class DoctorExpectations
{
    private readonly Dictionary<ProbeTarget, Verdict> _expected = [];
    private readonly string _policy;

    private DoctorExpectations(string policy) => _policy = policy;

    public static async Task<DoctorExpectations> DecideAsync(string policy, SluiceConfig config, IEnumerable<ProbeTarget> targets, string? user, string? password, IPAddress client, List<string> notes)
    {
        var expectations = new DoctorExpectations(policy);
        // The proxy's listeners as written: this machine's interfaces are not the proxy's, so a wildcard listener is
        // not expanded (the guard still takes it for every loopback address on its port).
        var own = new OwnEndpoints([.. config.Listeners.Select(l => l.Address)], config.Admin is { } admin ? [admin.Address] : []);
        var pipeline = new RequestPipeline(config, own);
        IResolver? resolver = null;
        try
        {
            resolver = ResolverFactory.Create(config.Resolver); // the proxy's, from the same factory
        }
        catch (ConfigException e)
        {
            notes.Add($"{policy}: {e.Message}; addresses are not judged");
        }

        AuthResult? identity = await SupposedIdentity.FindAsync(config, user, password, client, notes.Add).ConfigureAwait(false);
        foreach (ProbeTarget target in targets)
        {
            if (!HostNames.TryNormalize(target.Host, out string host, out IPAddress? literal, out _))
            {
                continue;
            }

            var facts = new RequestFacts("CONNECT", RequestScheme.Tunnel, host, literal, target.Port, client)
            {
                User = identity is { Outcome: AuthOutcome.Authenticated } known ? known.User : user,
                Groups = identity?.Groups ?? [],
            };
            Verdict verdict = pipeline.Decide(facts, identity);
            if (!verdict.Refused && literal is not null && resolver is not null)
            {
                verdict = await pipeline.ResolveAsync(verdict, resolver, CancellationToken.None).ConfigureAwait(false); // a literal is not looked up
            }

            expectations._expected[target] = verdict;
            notes.Add($"{policy} expects {target}: {Describe(verdict)}");
        }

        return expectations;
    }

    /// <summary>One note per target whose CONNECT status is not the one the policy expects.</summary>
    public IEnumerable<string> Surprises(IEnumerable<ProbeResult> results)
    {
        foreach (ProbeResult result in results)
        {
            if (result.Connect is not { } answer || !_expected.TryGetValue(result.Target, out Verdict? verdict))
            {
                continue;
            }

            int expected = verdict.Error?.Status ?? 200;
            if (answer.Status == expected && (verdict.Error is null || verdict.Error.ProxyStatusError == answer.ProxyStatusError))
            {
                continue;
            }

            string why = verdict.Refused
                ? "the proxy is not running this policy, or not with these users"
                : verdict.Route.Kind == RouteKind.Parent
                    ? $"the proxy refused what the policy allows: its DNS or address guard decided, or a parent proxy of upstream {verdict.Route.Upstream!.Name} refused or could not be reached (see the Proxy-Status's next-hop, and --parents), or it runs another policy"
                    : "the proxy refused what the policy allows: its DNS or address guard decided (see the Proxy-Status), or it runs another policy";
            yield return $"{result.Target}: the proxy answered {answer.Status}{(answer.ProxyStatusError is { } e ? $" ({e})" : "")} where {_policy} expects {Describe(verdict)}; {why}";
        }
    }

    /// <summary>The first target the policy sends through <paramref name="upstream"/>: the one its parents are asked to CONNECT to.</summary>
    public ProbeTarget? TargetVia(string upstream) =>
        _expected.FirstOrDefault(e => !e.Value.Refused && e.Value.Route.Upstream?.Name == upstream).Key;

    private static string Describe(Verdict verdict) => verdict.Error is { } error
        ? $"{error.Status} {error.ProxyStatusError} ({verdict.Detail})"
        : $"200 ({verdict.Detail}{(verdict.Route.Kind == RouteKind.Parent ? $"; {ExplainReport.Describe(verdict.Route)}" : "")})";
}
