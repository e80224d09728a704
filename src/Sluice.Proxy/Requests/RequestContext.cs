using System.Diagnostics;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Logging;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Transport;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Requests;

/// <summary>
/// One request from a client, from its head to its access-log line: what was asked, what was decided, and the
/// numbers the log needs. CONNECT tunnels and forwarded requests share it.
/// </summary>
internal sealed class RequestContext
{
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private readonly long _clientReadAtStart;
    private readonly long _clientWrittenAtStart;

    public RequestContext(Connection client, ProxySnapshot snapshot, ProxyServices services, RequestHead head, long consumedBeforeHead, Admin.LiveConnection live, InspectedTunnel? inspected = null)
    {
        Inspected = inspected;
        Client = client;
        Live = live;
        Snapshot = snapshot;
        Services = services;
        Head = head;
        Started = DateTimeOffset.UtcNow;
        _clientReadAtStart = consumedBeforeHead;
        _clientWrittenAtStart = client.Stream.BytesWritten;
        Url = Policy.Names.HostPort.Redact(head.Target); // a target refused for its userinfo is logged without it
    }

    public Connection Client { get; }

    /// <summary>Set for a request inside an inspected tunnel: the tunnel it came through.</summary>
    public InspectedTunnel? Inspected { get; }

    /// <summary>This connection's row on the status page.</summary>
    public Admin.LiveConnection Live { get; }

    public ProxySnapshot Snapshot { get; }

    public ProxyServices Services { get; }

    public RequestHead Head { get; }

    /// <summary>This proxy's name, as it goes into Via and Proxy-Status.</summary>
    public string ProxyName => Snapshot.Name;

    public Policy.Config.TimeoutsConfig Timeouts => Snapshot.Config.Timeouts;

    public HeadLimits HeadLimits => Snapshot.Limits;

    public Metrics.ProxyMetrics Metrics => Services.Metrics;

    public Upstream.UpstreamPool Pool => Services.Pool;

    /// <summary>Whether tunnels and response bodies between two plain sockets use splice(2).</summary>
    public bool Splice => Services.Splice;

    public Transport.IdleWatch Relays => Services.Relays;

    /// <summary>Cancelled when the server starts to stop.</summary>
    public CancellationToken Draining => Services.Draining;

    public DateTimeOffset Started { get; }

    /// <summary>Time since the request's head was read (monotonic).</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_startTimestamp);

    public string Url { get; set; }

    public Decision? Decision { get; private set; }

    /// <summary>For a would-deny (report mode): the refusal enforcing would have answered; null otherwise.</summary>
    public ProxyErrorKind? WouldRefuse { get; private set; }

    // An ftp:// URL, fetched by the FTP gateway: counted as its own kind.
    private bool IsFtp => Head.Target.StartsWith("ftp://", StringComparison.OrdinalIgnoreCase);

    /// <summary>One exchange or tunnel ended: the counters and the status page's traffic figures move.</summary>
    private void Count(int status, string? rule, ProxyErrorKind? error, bool countBytes)
    {
        bool denied = status is 403 or 407, wouldDeny = WouldRefuse is not null;
        string decision = Decision switch { null => "none", { Reported: true } => "report", { Allowed: true } => "allow", _ => "deny" };
        Services.Metrics.CountRequest(Head.IsConnect ? "tunnel" : Inspected is not null ? "https" : IsFtp ? "ftp" : "http", decision, rule, status, error);
        if (countBytes)
        {
            Services.Metrics.CountBytes(Client.Input.Consumed - _clientReadAtStart, Client.Stream.BytesWritten - _clientWrittenAtStart);
        }

        if (Live.Destination is { } destination)
        {
            Services.Stats.Count(destination, denied, wouldDeny);
        }

        Services.History.Count(denied, wouldDeny);
    }

    /// <summary>The authenticated user: from Basic credentials, else from a verified client certificate.</summary>
    public string? User { get; private set; }

    public IReadOnlyCollection<string> Groups { get; private set; } = [];

    // What Basic authentication found; null when it is not configured.
    private AuthResult? _identity;

    /// <summary>What Basic authentication found for this request (an inspected tunnel's requests inherit it).</summary>
    public AuthResult? Identity => _identity;

    /// <summary>Marks this connection as a tunnel from now until the returned value is disposed: gauges, status page, limits.</summary>
    public TunnelTracking TrackTunnel(bool countedAgainstLimit = true) => new(this, countedAgainstLimit);

    /// <summary>The per-client request rate (token bucket): 429 with Retry-After when it is exhausted.</summary>
    public void CheckRate()
    {
        TimeSpan wait = Services.Limits.TryTakeRequest(Client.Remote.Address, Snapshot.Config.Limits);
        if (wait > TimeSpan.Zero)
        {
            Services.Metrics.CountRejection(Limits.LimitKind.RequestRate);
            throw ProxyErrorException.RetryLater(ProxyErrorKind.ClientLimitReached,
                $"{Client.Remote.Address} is over its request rate ({Snapshot.Config.Limits.RequestsPerSecondPerClient}/s); try again in {ProxyErrorException.RetryAfterSeconds(wait)}s", wait);
        }
    }

    /// <summary>
    /// Counts a tunnel against the client's limit and its destination's (<c>limits.perDestination.tunnels</c>), or
    /// throws the 429 when either has as many open as it may (and counts nothing).
    /// </summary>
    public void TakeTunnelSlot(Verdict allowed)
    {
        if (!Services.Limits.TryOpenTunnel(Client.Remote.Address, Snapshot.Config.Limits))
        {
            Services.Metrics.CountRejection(Limits.LimitKind.TunnelsPerClient);
            throw ProxyErrorException.RetryLater(ProxyErrorKind.ClientLimitReached,
                $"{Client.Remote.Address} has {Snapshot.Config.Limits.MaxTunnelsPerClient} tunnels open, its limit; close some first", TimeSpan.FromSeconds(1));
        }

        if (Snapshot.Config.Limits.PerDestination is { Tunnels: > 0 } perDestination)
        {
            RequestFacts facts = allowed.Facts;
            if (!Services.Destinations.TryOpenTunnel(facts.Host, facts.Address, perDestination, out Limits.DestinationLimits.Entry? counted))
            {
                Services.Limits.CloseTunnel(Client.Remote.Address);
                Services.Metrics.CountRejection(Limits.LimitKind.DestinationTunnels);
                throw ProxyErrorException.RetryLater(ProxyErrorKind.DestinationLimitReached,
                    $"{DestinationName(counted!.Key, facts, perDestination)} has {perDestination.Tunnels} tunnels open through this proxy, its limit; try again later", TimeSpan.FromSeconds(1));
            }

            _destinationTunnel = counted;
        }
    }

    /// <summary>Gives back what <see cref="TakeTunnelSlot"/> counted: the destination's on the entry it was counted on, whatever a reload changed since.</summary>
    public void ReleaseTunnelSlot()
    {
        Services.Limits.CloseTunnel(Client.Remote.Address);
        if (Interlocked.Exchange(ref _destinationTunnel, null) is { } counted)
        {
            Limits.DestinationLimits.CloseTunnel(counted);
        }
    }

    // The destination entry this request's tunnel is counted on, until it is released.
    private Limits.DestinationLimits.Entry? _destinationTunnel;

    /// <summary>
    /// The destination's request rate (<c>limits.perDestination.requestsPerSecond</c>), for a request the rules let
    /// through: 429 with Retry-After when its bucket is empty. Off, it costs one test.
    /// </summary>
    private void CheckDestinationRate(Verdict verdict)
    {
        if (Snapshot.Config.Limits.PerDestination is not { RequestsPerSecond: > 0 } perDestination || verdict.Refused)
        {
            return;
        }

        RequestFacts facts = verdict.Facts;
        TimeSpan wait = Services.Destinations.TryTakeRequest(facts.Host, facts.Address, perDestination, out string key);
        if (wait > TimeSpan.Zero)
        {
            Services.Metrics.CountRejection(Limits.LimitKind.DestinationRate);
            throw ProxyErrorException.RetryLater(ProxyErrorKind.DestinationLimitReached,
                $"{DestinationName(key, facts, perDestination)} is over its request rate ({perDestination.RequestsPerSecond}/s through this proxy); try again in {ProxyErrorException.RetryAfterSeconds(wait)}s", wait);
        }
    }

    private static string DestinationName(string key, RequestFacts facts, Policy.Config.PerDestinationLimits limits) =>
        limits.Key == Policy.Config.DestinationKeyKind.Domain && facts.Address is null ? $"{key} (registrable domain)" : key;

    /// <summary>
    /// Proxy authentication, before the policy: checks the Basic credentials, if any, and counts failures. What a
    /// missing or wrong identity costs the request is the pipeline's to say (<see cref="Decide"/>).
    /// </summary>
    public async ValueTask AuthenticateAsync()
    {
        if (Inspected is { } tunnel)
        {
            // The CONNECT authenticated the tunnel; what comes inside is the same client's.
            User = tunnel.User;
            Groups = tunnel.Groups;
            _identity = tunnel.Identity;
            return;
        }

        User = Client.CertificateUser;
        if (Snapshot.Authenticator is not { } basic)
        {
            return;
        }

        AuthResult result = await basic.AuthenticateAsync(Head.Fields.Get("Proxy-Authorization"), Client.Remote.Address).ConfigureAwait(false);
        _identity = result;
        if (result.Outcome is AuthOutcome.Failed or AuthOutcome.Throttled || (result.Outcome == AuthOutcome.Anonymous && Snapshot.Config.Auth!.Required))
        {
            Services.Metrics.CountAuthFailure(result.Outcome);
        }

        if (result.Outcome == AuthOutcome.Authenticated)
        {
            User = result.User;
            Groups = result.Groups;
        }
    }

    /// <summary>
    /// Identity and rules, before any upstream connection or lookup (<see cref="RequestPipeline.Decide"/>); throws the
    /// refusal (407, 429, 403) if there is one.
    /// </summary>
    /// <param name="maxForwards">A TRACE or OPTIONS request's Max-Forwards count, if it has one.</param>
    public Verdict Decide(RequestTarget target, RequestScheme scheme, int? maxForwards = null)
    {
        string? path = null;
        if (scheme != RequestScheme.Tunnel && !Policy.Rules.RequestPath.TryNormalise(target.PathAndQuery, out path, out string problem))
        {
            throw new ProxyErrorException(ProxyErrorKind.MalformedRequest, problem);
        }

        var facts = new RequestFacts(Head.Method, scheme, target.Host, target.Address, target.Port, Client.Remote.Address)
        {
            User = User,
            Groups = Groups,
            MaxForwards = maxForwards,
            Path = path,
        };
        Live.User = User;
        Live.Destination = target.AuthorityWithPort;
        Verdict verdict = Snapshot.Pipeline.Decide(facts, _identity, scheme == RequestScheme.Tunnel ? Services.Permits : null);
        Decision = verdict.Rules;
        WouldRefuse = verdict.WouldRefuse;
        if (Decision is { } decided)
        {
            Services.Usage.Record(decided);
            if (decided.Reported)
            {
                Services.Metrics.CountWouldDeny(decided.Rule);
            }
        }

        _route = Inspected?.Route ?? verdict.Route;
        Live.Rule = Decision?.Rule;
        CheckDestinationRate(verdict);
        return verdict.Refused ? throw verdict.ToException() : verdict;
    }

    /// <summary>
    /// For a tunnel whose rule says <c>ftp: passive</c>: registers it as an FTP control channel, whose replies grant
    /// this client data-port permits until the returned observer is disposed. Null for every other tunnel: its relay
    /// runs as it always does.
    /// </summary>
    public IRelayObserver? WatchFtpControl(Verdict allowed, System.Net.IPAddress dialled) =>
        allowed.FtpPassive ? Services.Permits.Open(allowed, dialled, Snapshot.Config.Ftp.PermitLifetime) : null;

    /// <summary>Resolves and checks every address (step 5-6 of the pipeline); throws the refusal. A ready verdict dials without a second lookup.</summary>
    public Task<Verdict> ResolveAsync(Verdict allowed, CancellationToken cancellationToken) =>
        UpstreamDialer.ResolveAsync(Snapshot.Pipeline, Snapshot.Resolver, allowed, cancellationToken);

    /// <summary>Resolves, checks every address and connects to a permitted one; throws the refusal or the failure.</summary>
    public Task<Connection> DialAsync(Verdict allowed, CancellationToken cancellationToken) =>
        Services.Dialer.DialAsync(Snapshot.Pipeline, Snapshot.Resolver, allowed, cancellationToken);

    /// <summary>The parent proxy this request went through, once one carried it: the log's hierarchy field and metrics.</summary>
    public ParentProxy? Parent { get; private set; }

    // The route the pipeline chose (Decide), and whether the parent resolves the destination.
    private Route _route = Route.Direct;
    private bool _resolvedByParent;

    /// <summary>
    /// For a route through a parent: the destination is resolved and checked here first (as the upstream's
    /// <c>checkDestinations</c> says), before anything goes up. Throws the refusal.
    /// </summary>
    public async Task CheckBeforeParentAsync(Verdict allowed, CancellationToken cancellationToken)
    {
        Verdict resolved = await UpstreamDialer.ResolveAsync(Snapshot.Pipeline, Snapshot.Resolver, allowed, cancellationToken).ConfigureAwait(false);
        _resolvedByParent = resolved.ResolvedByParent;
    }

    /// <summary>A connection to the first parent of the route that answers (failover), for a forwarded request.</summary>
    /// <param name="passOver">Parents the request already went to without an answer.</param>
    public async Task<Connection> ConnectParentAsync(Verdict allowed, IReadOnlyCollection<ParentProxy>? passOver, CancellationToken cancellationToken)
    {
        ParentLink link = await Services.Parents.ConnectAsync(Snapshot.Pipeline, Snapshot.Resolver, ParentAccessFor(allowed), allowed.Route, passOver, cancellationToken).ConfigureAwait(false);
        Parent = link.Parent;
        return link.Connection;
    }

    /// <summary>Marks a pooled connection to <paramref name="parent"/> as the one carrying this request.</summary>
    public void UseParent(ParentProxy parent) => Parent = parent;

    /// <summary>
    /// The upstream side of a CONNECT: direct, or a tunnel through the route's parent (checked here, then CONNECT to
    /// the parent, its answer checked). Throws the refusal or the failure.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    public async ValueTask<Connection> OpenTunnelAsync(Verdict allowed, CancellationToken cancellationToken)
    {
        if (allowed.Route.Kind != RouteKind.Parent)
        {
            return await DialAsync(allowed, cancellationToken).ConfigureAwait(false);
        }

        await CheckBeforeParentAsync(allowed, cancellationToken).ConfigureAwait(false);
        string via = string.Join(", ", [.. Head.Fields.All("Via"), $"1.{Head.MinorVersion} {ProxyName}"]);
        ParentLink link = await Services.Parents.OpenTunnelAsync(Snapshot.Pipeline, Snapshot.Resolver, ParentAccessFor(allowed), allowed, via, HeadLimits, cancellationToken).ConfigureAwait(false);
        Parent = link.Parent;
        return link.Connection;
    }

    /// <summary>How to reach the route's upstream: credentials and TLS trust, read for this snapshot.</summary>
    public Upstream.ParentAccess ParentAccessFor(Verdict allowed) => Snapshot.ParentAccess[allowed.Route.Upstream!.Name];

    /// <summary>Answers with the error's status and Proxy-Status and logs it. Returns false if the client is gone.</summary>
    /// <summary>
    /// The request's body framing (RFC 9112 §6.3). A request whose framing cannot be read is answered here (400, or 501
    /// for a transfer coding the proxy does not know) and the connection closes: where its next request starts is unknown.
    /// </summary>
    /// <returns>Null when the request was refused.</returns>
    public async ValueTask<BodyFraming?> ReadFramingAsync(CancellationToken cancellationToken)
    {
        if (Framing.TryForRequest(Head.Fields, Head.IsHttp10, out BodyFraming framing, out string problem, out bool unsupportedCoding))
        {
            return framing;
        }

        await FailAsync(unsupportedCoding ? ProxyErrorKind.UnsupportedTransferCoding : ProxyErrorKind.MalformedRequest, problem, null, keepAlive: false, cancellationToken).ConfigureAwait(false);
        return null;
    }

    public Task<bool> FailAsync(ProxyErrorException error, bool keepAlive, CancellationToken cancellationToken) =>
        FailAsync(error.Kind, error.Message, error.Rule, keepAlive, cancellationToken, error.Fields, error.Hop);

    public async Task<bool> FailAsync(ProxyErrorKind kind, string detail, string? rule, bool keepAlive, CancellationToken cancellationToken, IReadOnlyList<KeyValuePair<string, string>>? fields = null, ParentHop? hop = null)
    {
        ProxyErrorInfo info = ProxyErrors.Describe(kind);
        bool written = true;
        try
        {
            await ErrorResponse.WriteAsync(Client.Stream, Snapshot.Name, kind, detail, keepAlive, withBody: Head.Method != "HEAD", fields ?? [], cancellationToken, hop).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            written = false;
        }

        Log(info.Squid, info.Status, peer: null, contentType: "text/plain", kind, rule ?? Decision?.Rule, detail);
        return written;
    }

    /// <summary>The exchange's access-log line and counters; <paramref name="error"/> is what went wrong, before or after the response started.</summary>
    /// <param name="countBytes">False for an inspected CONNECT: the requests inside counted its bytes already.</param>
    public void Log(SquidResult code, int status, System.Net.IPAddress? peer, string? contentType, ProxyErrorKind? error = null, string? rule = null, string? reason = null, bool countBytes = true)
    {
        Count(status, rule ?? Decision?.Rule, error, countBytes);
        if (Parent is not null)
        {
            Services.Metrics.CountParent(Parent, error);
        }

        if (!Services.AccessLog.Enabled)
        {
            return; // log.access: off — build nothing
        }

        Services.AccessLog.Write(new AccessLogEntry
        {
            Started = Started,
            Elapsed = Elapsed,
            Client = Client.Remote.Address,
            Code = code,
            Status = status,
            BytesToClient = Client.Stream.BytesWritten - _clientWrittenAtStart,
            BytesFromClient = Client.Input.Consumed - _clientReadAtStart,
            Method = Head.Method,
            Url = Url,
            User = User,
            Peer = Parent is { } parent ? Hierarchy.Through(parent, _route) : Hierarchy.Direct(peer),
            Upstream = Parent?.Upstream,
            Parent = Parent?.Endpoint,
            ResolvedByParent = _resolvedByParent,
            ContentType = contentType,
            Rule = rule ?? Decision?.Rule,
            Reason = reason ?? Decision?.Detail,
            ProxyStatusError = ProxyErrors.ProxyStatusError(error),
            WouldRefuse = WouldRefuse,
        });
    }
}
