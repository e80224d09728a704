using System.Collections.Immutable;
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
    private readonly IParentHealth _health;
    private readonly Dictionary<string, ParentUpstream> _upstreams;
    private readonly Dictionary<string, string> _viaByRule;
    private readonly string _defaultRoute;
    private readonly InspectionConfig? _inspection;
    private readonly HashSet<string> _inspecting;
    private readonly Rule[] _passive;

    /// <param name="health">Which parent proxies are up, for the order a route tries them in; all up when not given.</param>
    public RequestPipeline(SluiceConfig config, OwnEndpoints own, IParentHealth? health = null)
    {
        _health = health ?? AllParentsUp.Instance;
        Upstreams = [.. config.Upstreams.Select(u => new ParentUpstream(u))];
        _upstreams = Upstreams.ToDictionary(u => u.Name, StringComparer.Ordinal);
        _viaByRule = config.Rules.Where(r => r.Via is not null).ToDictionary(r => r.Name, r => r.Via!, StringComparer.Ordinal);
        _defaultRoute = config.Route.Default;
        _inspection = config.Inspection;
        _inspecting = config.Rules.Where(r => r.Tls == TlsMode.Inspect).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        _passive = [.. config.Rules.Where(r => r.Ftp == FtpMode.Passive && r.Action == RuleAction.Allow)];
        Policy = new RulePolicy(config.Rules, config.Default, config.Mode);
        Guard = new AddressGuard(config.Addresses.Allow, config.Addresses.Deny, own.Listeners, own.Admin);
        _auth = config.Auth;
        _challenge = config.Auth is { } auth ? BasicAuthenticator.ChallengeFor(auth.Basic) : null;
        _resolveTimeout = config.Timeouts.Connect;
    }

    public RulePolicy Policy { get; }

    /// <summary>True when inspection is configured and <c>tls.inspection.neverInspect</c> names the destination.</summary>
    public bool IsNeverInspected(RequestFacts request) =>
        _inspection is not null && _inspection.IsNeverInspected(request.Host, request.Address, request.Port);

    /// <summary>
    /// The facts as the rules see them: a CONNECT learns whether it may be inspected (inspection is configured and the
    /// destination is not never-inspected), which decides how a rule with <c>tls: inspect</c> matches it.
    /// </summary>
    public RequestFacts FactsForRules(RequestFacts request) =>
        request.Scheme == RequestScheme.Tunnel && _inspection is not null ? request with { MayInspect = !IsNeverInspected(request) } : request;

    /// <summary>The configured upstreams, in the file's order.</summary>
    public IReadOnlyList<ParentUpstream> Upstreams { get; }

    public AddressGuard Guard { get; }

    /// <summary>The time a lookup may take (the connect timeout, which also bounds the connection after it).</summary>
    public TimeSpan ResolveTimeout => _resolveTimeout;

    /// <summary>Identity and rules, before any lookup.</summary>
    /// <param name="identity">What Basic authentication found; null when <c>auth.basic</c> is not configured.</param>
    /// <param name="permits">The server's passive FTP permits, for a CONNECT the rules refuse; none for <c>sluice explain</c>.</param>
    public Verdict Decide(RequestFacts request, AuthResult? identity, IPassivePermits? permits = null)
    {
        if (Identity(request, identity) is { } refused)
        {
            return refused;
        }

        request = FactsForRules(request);
        Decision decision = Policy.Decide(request);
        if (decision.Allowed && !decision.Reported)
        {
            return Allowed(request, decision);
        }

        // The rules refuse the port, but a control tunnel's server may have named it: allowed once, to the address that
        // tunnel was dialled to (ResolveAsync looks nothing up for it; the guard still checks that address). Asked
        // whatever this configuration's rules say: a tunnel opened before a reload keeps granting under its own.
        // Before a would-deny too: enforced, the permit would let it through, so it is no would-deny.
        if (request.Scheme == RequestScheme.Tunnel && permits?.TryUse(request) is { } permit)
        {
            return new Verdict(request, VerdictStep.Rules, Decision.Allow(permit.Detail, permit.Rule), null, permit.Detail)
            {
                Permit = permit,
            };
        }

        // Many clients (.NET, browsers) send proxy credentials only once challenged: an anonymous request that a rule
        // naming users or groups would have allowed gets the challenge, not the refusal.
        // Not inside an inspected tunnel: its identity is the CONNECT's, and credentials sent inside would change nothing.
        if (request.User is null && _challenge is not null && request.Scheme != RequestScheme.Https && Policy.IdentityWouldMatter(request))
        {
            const string why = "proxy authentication required: a rule for this destination names users or groups";
            return decision.Reported
                ? Allowed(request, decision, ProxyErrorKind.AuthenticationRequired, $"{decision.Detail}; enforced, the client would be asked for credentials first ({why})")
                : Challenge(request, decision, why);
        }

        if (decision.Reported)
        {
            return Allowed(request, decision, ProxyErrorKind.PolicyDenied, decision.Detail);
        }

        string? permitsFrom = request.Scheme == RequestScheme.Tunnel && _passive.Length > 0 ? PassiveRuleFor(request) : null;
        return new Verdict(request, VerdictStep.Rules, decision, ProxyErrorKind.PolicyDenied, decision.Detail) { PermitsFrom = permitsFrom };
    }

    // An allowed request's route and TLS handling; a would-deny (report) goes as one too, by route.default and untouched,
    // carrying the refusal enforcing would have answered.
    private Verdict Allowed(RequestFacts request, Decision decision, ProxyErrorKind? wouldRefuse = null, string? detail = null)
    {
        bool inspect = request.MayInspect && decision.Rule is { } rule && _inspecting.Contains(rule);
        Route route = RouteFor(request, decision);
        if (request.Scheme == RequestScheme.Ftp && route.Kind == RouteKind.Parent)
        {
            // The FTP gateway speaks FTP to the server itself; handing the URL to a parent would bypass neither the
            // parent nor this rule, so it is refused rather than sent direct behind the operator's back.
            return new Verdict(request, VerdictStep.Rules, decision, ProxyErrorKind.ParentError,
                $"rule '{decision.Rule}' routes this ftp:// URL through parent {route.Upstream!.Name}, and the FTP gateway fetches ftp:// URLs only directly (a CONNECT to port 21 can go through a parent)")
            {
                Route = route,
            };
        }

        return new Verdict(request, VerdictStep.Rules, decision, null, detail ?? decision.Detail)
        {
            Route = route,
            Tls = inspect ? TlsHandling.Inspect : TlsHandling.Tunnel,
            FtpPassive = request.Scheme == RequestScheme.Tunnel && !inspect && IsPassive(decision.Rule),
            WouldRefuse = wouldRefuse,
        };
    }

    private bool IsPassive(string? rule) => rule is not null && Array.Exists(_passive, r => r.Name == rule);

    // The first ftp: passive rule whose destinations name this host, whatever the port: its control tunnels are the
    // only ones whose permits could let this CONNECT through.
    private string? PassiveRuleFor(RequestFacts request)
    {
        foreach (Rule rule in _passive)
        {
            if (rule.Destinations.IsEmpty || rule.Destinations.Any(d => d.Matches(request.Host, request.Address, d.Port ?? request.Port)))
            {
                return rule.Name;
            }
        }

        return null;
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
        if (allowed.Route.Kind == RouteKind.Self)
        {
            return new Verdict(request, VerdictStep.Ready, allowed.Rules, null, allowed.Detail) { Route = Route.Self, Tls = allowed.Tls, WouldRefuse = allowed.WouldRefuse };
        }

        bool parent = allowed.Route.Kind == RouteKind.Parent;
        if (parent && request.Address is null && allowed.Route.Upstream!.Config.CheckDestinations == DestinationCheck.Parent)
        {
            // The upstream is trusted with the name: its DNS, its guard. Only IP literals are checked here.
            return Ready(allowed, [], []);
        }

        // A permitted FTP data connection goes to its control tunnel's address: pinned, never looked up again.
        IPAddress? literal = allowed.Permit?.Address ?? request.Address;
        AddressLookup lookup = await LookUpAsync(request.Host, literal, request.Port, resolver, cancellationToken).ConfigureAwait(false);
        if (lookup.Refusal is ProxyErrorKind.DnsError or ProxyErrorKind.DnsTimeout && parent)
        {
            // Split-horizon DNS: a name only the parent's side knows goes up by name, for the parent to resolve.
            return Ready(allowed, [], []);
        }

        if (lookup.Refusal is { } kind)
        {
            return new Verdict(request, lookup.Step, allowed.Rules, kind, lookup.Detail) { Addresses = lookup.Checks, Route = allowed.Route, WouldRefuse = allowed.WouldRefuse };
        }

        if (parent && lookup.Checks.FirstOrDefault(c => !c.Decision.Allowed) is { Decision: not null } refused)
        {
            // Direct, Sluice dials only the permitted addresses. A parent resolves the name again and picks any of
            // them, so one refused address is enough to refuse: the parent could be led to it.
            return new Verdict(request, VerdictStep.AddressGuard, allowed.Rules, ProxyErrorKind.DestinationProhibited,
                $"{request.Destination} refused: {refused.Decision.Detail} (one of its addresses; the parent proxy would choose among them)")
            {
                Addresses = lookup.Checks,
                Route = allowed.Route, // refused on its way to the parent: the route stays visible to explain and the log
                WouldRefuse = allowed.WouldRefuse,
            };
        }

        return Ready(allowed, lookup.Checks, lookup.Permitted);
    }

    /// <summary>
    /// Resolves a name (an IP literal is its own address) within the connect timeout and checks every address with the
    /// guard: for a destination, and for a parent proxy before the proxy connects to it.
    /// </summary>
    internal async ValueTask<AddressLookup> LookUpAsync(string host, IPAddress? literal, int port, IResolver resolver, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        if (literal is not null)
        {
            addresses = [literal];
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_resolveTimeout);
            try
            {
                addresses = await resolver.ResolveAsync(host, timeout.Token).ConfigureAwait(false);
            }
            catch (ResolveException e)
            {
                return AddressLookup.Failed(ProxyErrorKind.DnsError, e.NotFound ? $"{host} not found (DNS)" : e.Message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return AddressLookup.Failed(ProxyErrorKind.DnsTimeout, $"no DNS answer for {host} within {Durations.Format(_resolveTimeout)}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A resolver that fails some other way (a SocketException getaddrinfo did not map, a bug in a plug-in
                // resolver) is a failed lookup too: the client gets the 502 and the reason, not a dropped connection.
                return AddressLookup.Failed(ProxyErrorKind.DnsError, $"lookup of {host} failed: {e.Message}");
            }

            if (addresses.Length == 0)
            {
                return AddressLookup.Failed(ProxyErrorKind.DnsError, $"{host} has no addresses");
            }
        }

        // One array per request, handed to the verdict as it is (no builder to copy out of).
        var checks = new AddressCheck[addresses.Length];
        var permitted = new List<IPAddress>(addresses.Length);
        Decision? firstRefusal = null;
        for (int i = 0; i < addresses.Length; i++)
        {
            IPAddress address = addresses[i];
            Decision decision = Guard.Check(address, port);
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

        ImmutableArray<AddressCheck> all = ImmutableCollectionsMarshal.AsImmutableArray(checks);
        return permitted.Count == 0
            ? new AddressLookup(ProxyErrorKind.DestinationProhibited, VerdictStep.AddressGuard, $"{HostPort(host, literal, port)} refused: {firstRefusal!.Detail}", all, [])
            : new AddressLookup(null, VerdictStep.Ready, "", all, permitted);
    }

    private static string HostPort(string host, IPAddress? literal, int port) =>
        new Policy.Names.HostPort(host, literal, port).ToString();

    private static Verdict Ready(Verdict allowed, ImmutableArray<AddressCheck> checks, IReadOnlyList<IPAddress> permitted) =>
        new(allowed.Facts, VerdictStep.Ready, allowed.Rules, null, allowed.Detail)
        {
            Route = allowed.Route,
            Tls = allowed.Tls,
            Addresses = checks,
            Permitted = permitted,
            ResolvedByParent = allowed.Route.Kind == RouteKind.Parent && permitted.Count == 0,
            WouldRefuse = allowed.WouldRefuse,
        };

    // Where an allowed request goes: the proxy itself at Max-Forwards 0, else the rule's via:, else route.default.
    private Route RouteFor(RequestFacts request, Decision decision)
    {
        if (request.MaxForwards == 0 && request.Method is "TRACE" or "OPTIONS")
        {
            return Route.Self;
        }

        string? named = decision.Rule is { } rule && _viaByRule.TryGetValue(rule, out string? via) ? via : null;
        string chosen = named ?? _defaultRoute;
        if (chosen == RouteConfig.Direct || !_upstreams.TryGetValue(chosen, out ParentUpstream? upstream))
        {
            return Route.Direct;
        }

        return Route.Through(upstream, upstream.OrderFor(request, _health), fromDefault: named is null);
    }

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

}

/// <summary>A name's addresses with the guard's decision on each, or why there are none to connect to.</summary>
internal readonly record struct AddressLookup(ProxyErrorKind? Refusal, VerdictStep Step, string Detail, ImmutableArray<AddressCheck> Checks, IReadOnlyList<IPAddress> Permitted)
{
    public static AddressLookup Failed(ProxyErrorKind kind, string detail) => new(kind, VerdictStep.Resolution, detail, [], []);
}
