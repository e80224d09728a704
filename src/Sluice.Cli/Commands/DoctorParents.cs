using System.Net;
using Sluice.Client;
using Sluice.Client.Diagnostics;
using Sluice.Policy.Config;

namespace Sluice.Cli.Commands;

/// <summary>One parent proxy of the policy, probed from this machine: what it answered, in a word and a sentence.</summary>
/// <param name="Outcome">reachable, refused, timed out, unreachable, TLS error, 407, CONNECT NNN, or not checked.</param>
/// <param name="Probe">The phases, when the parent was probed; null when it could not be (no target, a secret unreadable here).</param>
internal sealed record ParentCheck(string Upstream, string Parent, ProbeTarget? Target, string Outcome, string Detail, string? Hint, bool Passed, ProbeResult? Probe);

/// <summary>
/// <c>sluice doctor --from-policy FILE --parents</c>: each parent proxy of the policy's upstreams, connected to from here
/// the way the proxy would (TCP, TLS with the upstream's <c>ca:</c> for https://, a CONNECT with the upstream's
/// credentials read as the proxy reads them, <see cref="UpstreamCredentials.ReadUser"/> and <see cref="SecretSource.Read"/>) and asked for a tunnel to a target the policy sends through it.
/// The probing is doctor's own <see cref="ProxyProbe"/>: a parent is a proxy like any other.
/// </summary>
/// <remarks>
/// Not the proxy's dialer (internal to Sluice.Proxy): a parent's address is not run through the address guard here
/// (<c>sluice check</c> warns about parents written as refused addresses), and an https:// parent's certificate may
/// chain to the system roots as well as to <c>ca:</c>, where the proxy trusts only <c>ca:</c> when one is given.
/// </remarks>
internal static class DoctorParents
{
    public static async Task<IReadOnlyList<ParentCheck>> CheckAsync(SluiceConfig policy, DoctorExpectations expectations, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var checks = new List<Task<ParentCheck>>();
        foreach (UpstreamConfig upstream in policy.Upstreams)
        {
            ProbeTarget? target = expectations.TargetVia(upstream.Name);
            string? problem = TryAccess(upstream, out NetworkCredential? credentials, out string? caPem);
            foreach (ParentProxyAddress parent in upstream.Proxies)
            {
                if (problem is not null || target is null)
                {
                    checks.Add(Task.FromResult(problem is not null
                        ? new ParentCheck(upstream.Name, parent.Endpoint, target, "not checked", problem,
                            "run doctor --parents where the proxy runs, with its secrets (its machine or pod)", Passed: false, null)
                        : new ParentCheck(upstream.Name, parent.Endpoint, null, "not checked", $"no target of this run goes through upstream {upstream.Name}",
                            $"pass a TARGET that {policy.Source} sends through {upstream.Name}", Passed: true, null)));
                    continue;
                }

                ProxySettings settings = ProxySettings.FromUrl(parent.ToString()) with { Credentials = credentials, CaPem = caPem };
                checks.Add(ProbeAsync(upstream.Name, parent, new ProbeOptions { Proxy = settings, Timeout = timeout }, target, cancellationToken));
            }
        }

        return await Task.WhenAll(checks).ConfigureAwait(false);
    }

    // The upstream's credentials and CA as the proxy reads them; the problem in words when they cannot be read here.
    private static string? TryAccess(UpstreamConfig upstream, out NetworkCredential? credentials, out string? caPem)
    {
        credentials = null;
        caPem = null;
        try
        {
            if (upstream.Credentials is { } c)
            {
                credentials = new NetworkCredential(c.ReadUser(), c.Password.Read());
            }

            caPem = upstream.Ca is { } ca ? File.ReadAllText(ca) : null;
            return null;
        }
        catch (ConfigException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"upstreams '{upstream.Name}'.ca: cannot read {upstream.Ca}: {e.Message}";
        }
    }

    private static async Task<ParentCheck> ProbeAsync(string upstream, ParentProxyAddress parent, ProbeOptions options, ProbeTarget target, CancellationToken cancellationToken)
    {
        // Up to the tunnel: the origin's TLS through the whole chain is what the targets' own probes check.
        ProbeResult r = await new ProxyProbe(options).ProbeAsync(target with { Tls = false }, cancellationToken).ConfigureAwait(false);
        bool credentials = options.Proxy.Credentials is not null;
        (string outcome, string? hint) = r switch
        {
            { ProxyFault: ProxyFault.Refused } => ("refused", $"nothing listens at {parent.Endpoint}: check upstream {upstream}'s proxies and that the parent runs"),
            { ProxyFault: ProxyFault.TimedOut, ProxyReachable: true } => ("timed out", "the parent took the connection but not the TLS handshake: does it speak TLS on this port?"),
            { ProxyFault: ProxyFault.TimedOut } => ("timed out", "a firewall may drop the connection: run doctor where the proxy runs, if only it can reach its parents"),
            { ProxyFault: ProxyFault.Unreachable } => ("unreachable", $"check the host in upstream {upstream}'s proxies, and this machine's route to it"),
            { ProxyFault: ProxyFault.Tls } => ("TLS error", parent.Tls ? $"check upstream {upstream}'s ca, and that the parent speaks TLS on this port" : null),
            { Auth: AuthState.Rejected } => ("407", $"the parent refused upstream {upstream}'s credentials: check the secrets its credentials: name"),
            { Auth: AuthState.Required } => ("407", $"the parent asks for credentials: give upstream {upstream} credentials:"),
            { Connect: { Established: false } c } => ($"CONNECT {c.Status}", c.Status == 403
                ? "the parent's own policy refuses this destination"
                : ProbeHints.ForConnect(c.Status, c.ProxyStatusError)),
            _ => ("reachable", r.Hint),
        };
        string detail = r.Failure
            ?? $"CONNECT answered {r.Connect!.Status} {r.Connect.Reason}{(credentials ? ", credentials accepted" : "")}";
        return new ParentCheck(upstream, parent.Endpoint, target, outcome, detail, hint ?? r.Hint, r.Passed, r);
    }
}
