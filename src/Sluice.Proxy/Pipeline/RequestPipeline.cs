using System.Net;
using System.Runtime.InteropServices;
using Sluice.Policy.Addresses;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Resolution;

namespace Sluice.Proxy.Pipeline;

/// <summary>
/// The one decision path for a request, from its facts to the verdict the proxy acts on: identity (407, 429),
/// rules (403, or 407 when only a rule naming users could allow it), route, TLS handling, then resolution
/// (502, 504) and the address guard (403). No sockets: the proxy's exchanges and <c>sluice explain</c> call the
/// same code, so they cannot disagree. Built once per configuration (see <c>ProxySnapshot</c>).
/// </summary>
/// <remarks>
/// Two steps, because the proxy may not need the second: a forwarded request that finds a pooled connection to
/// its destination skips resolution (the pooled address is checked by the guard again instead).
/// </remarks>
public sealed class RequestPipeline
{
    private readonly AuthConfig? _auth;
    private readonly string? _challenge;
    private readonly TimeSpan _resolveTimeout;

    public RequestPipeline(SluiceConfig config, OwnEndpoints own)
    {
        Policy = new RulePolicy(config.Rules, config.Default);
        Guard = new AddressGuard(config.Addresses.Allow, config.Addresses.Deny, own.Listeners, own.Admin);
        _auth = config.Auth;
        _challenge = config.Auth is { } auth ? BasicAuthenticator.ChallengeFor(auth.Basic) : null;
        _resolveTimeout = config.Timeouts.Connect;
    }

    public RulePolicy Policy { get; }

    public AddressGuard Guard { get; }

    /// <summary>The time a lookup may take (the connect timeout, which also bounds the connection after it).</summary>
    public TimeSpan ResolveTimeout => _resolveTimeout;

    /// <summary>Identity and rules, before any lookup.</summary>
    /// <param name="identity">What Basic authentication found; null when <c>auth.basic</c> is not configured.</param>
    public Verdict Decide(RequestFacts request, AuthResult? identity)
    {
        if (Identity(request, identity) is { } refused)
        {
            return refused;
        }

        Decision decision = Policy.Decide(request);
        if (decision.Allowed)
        {
            return new Verdict(request, VerdictStep.Rules, decision, null, decision.Detail) { Route = RouteFor(request) };
        }

        // Many clients (.NET, browsers) send proxy credentials only once challenged: an anonymous request that a rule
        // naming users or groups would have allowed gets the challenge, not the refusal.
        if (request.User is null && _challenge is not null && Policy.IdentityWouldMatter(request))
        {
            return Challenge(request, decision, "proxy authentication required: a rule for this destination names users or groups");
        }

        return new Verdict(request, VerdictStep.Rules, decision, ProxyErrorKind.PolicyDenied, decision.Detail);
    }

    /// <summary>
    /// Resolution and the address guard for a request the rules allowed: the name is resolved once (an IP literal is
    /// its own address) and every address is checked; only the permitted ones may be connected to.
    /// </summary>
    public async ValueTask<Verdict> ResolveAsync(Verdict allowed, IResolver resolver, CancellationToken cancellationToken)
    {
        if (allowed.Refused || allowed.Step != VerdictStep.Rules)
        {
            return allowed;
        }

        RequestFacts request = allowed.Facts;
        if (allowed.Route == Route.Self)
        {
            return new Verdict(request, VerdictStep.Ready, allowed.Rules, null, allowed.Detail) { Route = Route.Self, Tls = allowed.Tls };
        }

        IPAddress[] addresses;
        if (request.Address is { } literal)
        {
            addresses = [literal];
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_resolveTimeout);
            try
            {
                addresses = await resolver.ResolveAsync(request.Host, timeout.Token).ConfigureAwait(false);
            }
            catch (ResolveException e)
            {
                return Refuse(allowed, VerdictStep.Resolution, ProxyErrorKind.DnsError, e.NotFound ? $"{request.Host} not found (DNS)" : e.Message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Refuse(allowed, VerdictStep.Resolution, ProxyErrorKind.DnsTimeout, $"no DNS answer for {request.Host} within {Durations.Format(_resolveTimeout)}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A resolver that fails some other way (a SocketException getaddrinfo did not map, a bug in a plug-in
                // resolver) is a failed lookup too: the client gets the 502 and the reason, not a dropped connection.
                return Refuse(allowed, VerdictStep.Resolution, ProxyErrorKind.DnsError, $"lookup of {request.Host} failed: {e.Message}");
            }

            if (addresses.Length == 0)
            {
                return Refuse(allowed, VerdictStep.Resolution, ProxyErrorKind.DnsError, $"{request.Host} has no addresses");
            }
        }

        // One array per request, handed to the verdict as it is (no builder to copy out of).
        var checks = new AddressCheck[addresses.Length];
        var permitted = new List<IPAddress>(addresses.Length);
        Decision? firstRefusal = null;
        for (int i = 0; i < addresses.Length; i++)
        {
            IPAddress address = addresses[i];
            Decision decision = Guard.Check(address, request.Port);
            checks[i] = new AddressCheck(address, decision);
            if (decision.Allowed)
            {
                // The guard judged an IPv4-mapped address (::ffff:a.b.c.d) as the IPv4 address it stands for; that is
                // the one connected to (an IPv6 socket cannot reach it where IPv6-only sockets are the rule).
                permitted.Add(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
            }
            else
            {
                firstRefusal ??= decision;
            }
        }

        if (permitted.Count == 0)
        {
            return new Verdict(request, VerdictStep.AddressGuard, allowed.Rules, ProxyErrorKind.DestinationProhibited,
                $"{request.Destination} refused: {firstRefusal!.Detail}") { Addresses = ImmutableCollectionsMarshal.AsImmutableArray(checks) };
        }

        return new Verdict(request, VerdictStep.Ready, allowed.Rules, null, allowed.Detail)
        {
            Route = allowed.Route,
            Tls = allowed.Tls,
            Addresses = ImmutableCollectionsMarshal.AsImmutableArray(checks),
            Permitted = permitted,
        };
    }

    // Where an allowed request goes. Parent proxies will add routes here.
    private static Route RouteFor(RequestFacts request) =>
        request.MaxForwards == 0 && request.Method is "TRACE" or "OPTIONS" ? Route.Self : Route.Direct;

    private Verdict? Identity(RequestFacts request, AuthResult? identity)
    {
        if (identity is not { } result || _auth is null)
        {
            return null; // no Basic authentication configured: who the client is comes from its certificate, if anywhere
        }

        return result.Outcome switch
        {
            AuthOutcome.Failed => Challenge(request, null, "proxy authentication failed: unknown user or wrong password"),
            AuthOutcome.Anonymous when _auth.Required => Challenge(request, null, "proxy authentication required"),
            AuthOutcome.Throttled => new Verdict(request, VerdictStep.Identity, null, ProxyErrorKind.TooManyAuthenticationFailures,
                $"too many failed proxy authentication attempts from {request.Client}; try again in {ProxyErrorException.RetryAfterSeconds(result.RetryAfter)}s")
            {
                Fields = ProxyErrorException.RetryAfterField(result.RetryAfter),
            },
            _ => null,
        };
    }

    private Verdict Challenge(RequestFacts request, Decision? rules, string detail) =>
        new(request, rules is null ? VerdictStep.Identity : VerdictStep.Rules, rules, ProxyErrorKind.AuthenticationRequired, detail)
        {
            Fields = [new("Proxy-Authenticate", _challenge!)],
        };

    private static Verdict Refuse(Verdict allowed, VerdictStep step, ProxyErrorKind kind, string detail) =>
        new(allowed.Facts, step, allowed.Rules, kind, detail);
}
