using System.Globalization;
using System.Text;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Tunnels;
using Sluice.Proxy.Upstream;
using Sluice.Proxy.Requests;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Forwarding;

/// <summary>
/// One forwarded request (absolute-form): decide, take a pooled or new upstream connection, stream the request
/// body up while reading the response, relay 1xx (100-continue, 101 for WebSocket), stream the response body down.
/// </summary>
internal sealed class ForwardExchange
{
    private readonly RequestContext _x;
    private readonly CancellationToken _stopping;

    // The session's exchange timeout, re-armed by every transfer (Progress) and kept across its requests: one
    // linked source and timer per connection rather than per request.
    private readonly CancellationTokenSource _exchangeTimeout;
    private readonly Action _progress;
    private readonly TimeSpan _idle;
    private RequestTarget _target = null!;
    private Verdict _allowed = null!;
    private BodyFraming _requestFraming;
    private bool _upgrade;
    private bool _clientWantsClose;
    private bool _bodySentWithHead;
    private bool _echoedByParent;
    private bool _bodyStarted; // some of the request body has been consumed: it can no longer be discarded whole
    private Func<string, bool>? _requestTrailerFilter;
    private List<ParentProxy>? _parentsWithoutAnswer; // new connections to them closed before answering this request

    // Set by the upload before it resets the upstream connection because the client's body was broken.
    private volatile BodyException? _clientBodyFailure;

    private ForwardExchange(RequestContext exchange, CancellationTokenSource exchangeTimeout, CancellationToken stopping)
    {
        _x = exchange;
        _exchangeTimeout = exchangeTimeout;
        _idle = exchange.Timeouts.Idle;
        _stopping = stopping;
        _progress = Progress;
    }

    private void Progress() => _exchangeTimeout.CancelAfter(_idle);

    private RequestHead Head => _x.Head;

    private Connection Client => _x.Client;

    private string Name => _x.ProxyName;

    // Who the response is awaited from: the origin, or the parent proxy the request went through (named as next-hop).
    private string Answering => _x.Parent is { } parent ? $"parent proxy {parent.Endpoint}" : _target.AuthorityWithPort;

    private ParentHop? ParentHop => _x.Parent is { } parent ? new ParentHop(parent.Endpoint) : null;

    /// <summary>Runs the exchange; returns true when the client connection may carry another request.</summary>
    /// <param name="exchangeTimeout">
    /// A source linked to <paramref name="stopping"/>, not armed, that only this exchange uses until it returns: it
    /// times the wait for the upstream (timeouts.idle since the last transfer) and is left disarmed.
    /// </param>
    public static ValueTask<bool> RunAsync(RequestContext exchange, CancellationTokenSource exchangeTimeout, CancellationToken stopping) =>
        new ForwardExchange(exchange, exchangeTimeout, stopping).RunAsync();

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<bool> RunAsync()
    {
        if (!TryReadTarget(out RequestTarget? target, out ProxyErrorKind refusal, out string problem))
        {
            // A request for another host inside an inspected tunnel leaves the connection usable (its framing is sound).
            bool keep = refusal == ProxyErrorKind.MisdirectedRequest && !Head.IsHttp10 && !Head.Fields.HasToken("Connection", "close")
                && Framing.TryForRequest(Head.Fields, Head.IsHttp10, out BodyFraming framing, out _, out _) && !framing.HasBody;
            await _x.FailAsync(refusal, problem, null, keepAlive: keep, _stopping).ConfigureAwait(false);
            return keep;
        }

        _target = target!;
        _x.Url = _target.AbsoluteUri;
        // Read before the hop-by-hop fields are stripped. HTTP/1.0 clients get one response per connection.
        _clientWantsClose = Head.IsHttp10 || Head.Fields.HasToken("Connection", "close");
        if (await _x.ReadFramingAsync(_stopping).ConfigureAwait(false) is not { } requestFraming)
        {
            return false;
        }

        _requestFraming = requestFraming;

        // Until the body is read, the next request's first byte is unknown: after an early error, close.
        // And a client that asked for close (or speaks HTTP/1.0) gets it, errors included (RFC 9112 §9.6).
        bool canContinue = !_requestFraming.HasBody && !_clientWantsClose;
        try
        {
            if (Via.HasBeenHere(Head.Fields, Name))
            {
                throw new ProxyErrorException(ProxyErrorKind.LoopDetected, $"the request already passed through {Name} (Via); refusing to forward it in a loop");
            }

            _x.CheckRate();
            await _x.AuthenticateAsync().ConfigureAwait(false); // before anything is answered on the client's behalf, TRACE included
            int? maxForwards = ReadMaxForwards(out string? unreadable);
            _allowed = _x.Decide(_target, _x.Inspected is null ? RequestScheme.Http : RequestScheme.Https, maxForwards); // and the policy too: a denied destination gets no answer from us either
            if (unreadable is not null)
            {
                throw new ProxyErrorException(ProxyErrorKind.MalformedRequest, $"Max-Forwards '{unreadable}' is not a number");
            }

            if (_allowed.Route.Kind == RouteKind.Self)
            {
                return await AnswerItselfAsync(canContinue).ConfigureAwait(false) && canContinue;
            }

            // A TRACE that reaches the next hop at Max-Forwards 0 is answered by it, a parent proxy echoing the request
            // it received: it gets no credentials of ours to echo back to the client (RFC 9110 §9.3.8).
            _echoedByParent = Head.Method == "TRACE" && maxForwards == 1;
            if (maxForwards > 0)
            {
                Head.Fields.Set("Max-Forwards", (maxForwards.Value - 1).ToString(CultureInfo.InvariantCulture));
            }

            // A request with content is never an upgrade (a WebSocket handshake is a bodiless GET, RFC 6455 §4.1):
            // after a 101 the tunnel reads the client connection, and the rest of the body would be read twice.
            _upgrade = !_requestFraming.HasBody && IsWebSocketUpgrade(Head.Fields);
            return await ForwardAsync().ConfigureAwait(false);
        }
        catch (ProxyErrorException e)
        {
            bool keep = canContinue || (!_clientWantsClose && await DiscardUnsentBodyAsync().ConfigureAwait(false));
            return await _x.FailAsync(e, keep, _stopping).ConfigureAwait(false) && keep;
        }
    }

    /// <summary>The most of a refused request's body that is read and dropped to keep the connection for the next one.</summary>
    private const int DiscardBodyBytes = 64 * 1024;

    /// <summary>
    /// A request refused before its body went anywhere (a policy 403, a 407 the client will answer): a small body of
    /// known length is read and dropped, so the connection (an inspected tunnel, a keep-alive client) carries the next
    /// request. Not with Expect: 100-continue, whose client may never send the body it was not asked for.
    /// </summary>
    private async Task<bool> DiscardUnsentBodyAsync()
    {
        if (_bodyStarted || _requestFraming.Kind != BodyKind.ContentLength || _requestFraming.Length > DiscardBodyBytes || Head.Fields.Contains("Expect"))
        {
            return false;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        deadline.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            long left = _requestFraming.Length;
            while (left > 0)
            {
                if (Client.Input.BufferedCount == 0 && await Client.Input.FillAsync(DiscardBodyBytes, deadline.Token).ConfigureAwait(false) == 0)
                {
                    return false;
                }

                int take = (int)Math.Min(left, Client.Input.BufferedCount);
                Client.Input.Consume(take);
                left -= take;
            }

            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The target of a forwarded request (absolute-form), or of a request inside an inspected tunnel.</summary>
    private bool TryReadTarget(out RequestTarget? target, out ProxyErrorKind refusal, out string problem)
    {
        if (_x.Inspected is { } tunnel)
        {
            if (Head.Target.StartsWith('/'))
            {
                _x.Url = $"https://{tunnel.Target.Authority}{Head.Target}"; // what was asked, even when it is refused
            }

            if (Head.Target == "*" && Head.Method != "OPTIONS")
            {
                // RFC 9112 §3.2.4: the asterisk-form is for OPTIONS only.
                (target, refusal, problem) = (null, ProxyErrorKind.MalformedRequest, $"the target * is for OPTIONS only, not {Head.Method}");
                return false;
            }

            return RequestTarget.TryParseInside(Head.Target, Head.Fields.Get("Host"), tunnel.Target, out target, out refusal, out problem);
        }

        bool read = RequestTarget.TryParseAbsolute(Head.Target, out target, out problem, out bool originForm, out bool https);
        refusal = originForm ? ProxyErrorKind.NotAProxyRequest : https ? ProxyErrorKind.UnsupportedScheme : ProxyErrorKind.MalformedRequest;
        return read;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<bool> ForwardAsync()
    {
        // Inside an inspected tunnel the upstream is the tunnel's TLS connection to its origin, re-opened (same route,
        // same checked addresses) when the origin closed it; the CONNECT's route decided where that goes.
        InspectedTunnel? tunnel = _x.Inspected;
        bool viaParent = tunnel is null && _allowed.Route.Kind == RouteKind.Parent;
        ParentProxy? firstParent = null;
        if (viaParent)
        {
            // The destination is checked before anything goes up; then one keep-alive pool serves every destination
            // behind a parent, so the pooled connection to try is the first parent that is up.
            await _x.CheckBeforeParentAsync(_allowed, _stopping).ConfigureAwait(false);
            firstParent = _allowed.Route.Order.FirstOrDefault(_x.Services.Parents.Health.IsUp);
        }

        string? key = tunnel is not null ? null : viaParent ? firstParent?.Key : _target.AuthorityWithPort;
        _exchangeTimeout.CancelAfter(_idle);
        using var disarm = new TimerStop(_exchangeTimeout); // for the session's next request
        CancellationToken ct = _exchangeTimeout.Token;

        using HeadWriter requestHead = BuildRequestHead(viaParent && !_echoedByParent ? _x.ParentAccessFor(_allowed).ProxyAuthorization : null, viaParent);
        CoalesceSmallBody(requestHead);

        for (int attempt = 0; ; attempt++)
        {
            Connection? upstream = attempt > 0 ? null : tunnel is not null ? tunnel.TakeUpstream() : key is not null ? TakePooled(key) : null;
            bool reused = upstream is not null;
            if (reused && firstParent is not null)
            {
                _x.UseParent(firstParent);
            }

            upstream ??= tunnel is not null ? await tunnel.OpenOriginAsync(_stopping).ConfigureAwait(false)
                : viaParent ? await _x.ConnectParentAsync(_allowed, _parentsWithoutAnswer, _stopping).ConfigureAwait(false)
                : await _x.DialAsync(_allowed, _stopping).ConfigureAwait(false);
            if (tunnel?.Parent is { } tunnelParent)
            {
                _x.UseParent(tunnelParent);
            }

            Outcome outcome;
            try
            {
                outcome = await ExchangeAsync(upstream, requestHead, reused, _progress, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested && _exchangeTimeout.IsCancellationRequested)
            {
                upstream.Dispose();
                throw new ProxyErrorException(ProxyErrorKind.UpstreamTimeout, $"no response from {Answering} within {Policy.Config.Durations.Format(_idle)}") { Hop = ParentHop };
            }
            catch
            {
                upstream.Dispose();
                throw;
            }

            switch (outcome)
            {
                case Outcome.RetryOnNewConnection:
                    upstream.Dispose();
                    continue;
                case Outcome.RetryThroughNextParent:
                    upstream.Dispose();
                    _x.Services.Parents.ClosedWithoutAnswer(_x.Parent!, $"{Answering} closed a new connection without a response");
                    (_parentsWithoutAnswer ??= []).Add(_x.Parent!);
                    continue;
                case Outcome.Reusable:
                    if (tunnel is not null)
                    {
                        tunnel.ReturnUpstream(upstream);
                    }
                    else
                    {
                        _x.Pool.Return(_x.Parent?.Key ?? key!, upstream);
                    }

                    return true;
                case Outcome.ReusableClientOnly:
                    upstream.Dispose();
                    return true;
                default:
                    upstream.Dispose();
                    return false;
            }
        }
    }

    /// <summary>The whole (small) body came with the head: it goes in the same write; nothing is left to upload.</summary>
    private void CoalesceSmallBody(HeadWriter requestHead)
    {
        _bodyStarted = _requestFraming.HasBody;
        if (_requestFraming.Kind == BodyKind.ContentLength && _requestFraming.HasBody && _requestFraming.Length <= CoalesceBodyBytes
            && Client.Input.BufferedCount >= _requestFraming.Length)
        {
            requestHead.Append(Client.Input.Buffered[..(int)_requestFraming.Length]);
            Client.Input.Consume((int)_requestFraming.Length);
            _bodySentWithHead = true;
        }
    }

    private enum Outcome
    {
        /// <summary>A pooled connection turned out to be closed before it answered; nothing was lost.</summary>
        RetryOnNewConnection,

        /// <summary>A new connection to a parent was closed before it answered; nothing was lost, and another parent is up.</summary>
        RetryThroughNextParent,

        /// <summary>Both connections can carry more requests.</summary>
        Reusable,

        /// <summary>The client connection can go on; the upstream one cannot.</summary>
        ReusableClientOnly,

        /// <summary>Close the client connection.</summary>
        Close,
    }

    // Forwarded through a parent (not inside an inspected tunnel, whose upstream is the tunnel's): is there one up
    // that this request has not been to yet?
    private bool AnotherParentIsUp()
    {
        if (_x.Inspected is not null || _x.Parent is not { } current)
        {
            return false;
        }

        foreach (ParentProxy parent in _allowed.Route.Order)
        {
            if (parent != current && _parentsWithoutAnswer?.Contains(parent) != true && _x.Services.Parents.Health.IsUp(parent))
            {
                return true;
            }
        }

        return false;
    }

    private Connection? TakePooled(string key)
    {
        Connection? pooled = _x.Pool.TryTake(key);
        if (pooled is not null && !_x.Snapshot.Pipeline.Guard.Allows(pooled.Remote.Address, pooled.Remote.Port))
        {
            pooled.Dispose(); // the address guard changed since the connection was made
            return null;
        }

        return pooled;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<Outcome> ExchangeAsync(Connection upstream, HeadWriter requestHead, bool reused, Action progress, CancellationToken ct)
    {
        try
        {
            await requestHead.WriteToAsync(upstream.Stream, ct).ConfigureAwait(false);
        }
        catch (IOException) when (reused)
        {
            return Outcome.RetryOnNewConnection;
        }
        catch (IOException) when (CanSendAgain && AnotherParentIsUp())
        {
            return Outcome.RetryThroughNextParent;
        }
        catch (IOException)
        {
            throw new ProxyErrorException(ProxyErrorKind.UpstreamClosed, $"{Answering} closed the connection before the request was sent") { Hop = ParentHop };
        }

        bool uploading = _requestFraming.HasBody && !_bodySentWithHead;
        using CancellationTokenSource? uploadCancel = uploading ? CancellationTokenSource.CreateLinkedTokenSource(ct) : null;
        Task<long> upload = uploading ? UploadAsync(upstream, progress, uploadCancel!.Token) : Task.FromResult(0L);
        try
        {
            return await RelayResponseAsync(upstream, reused, upload, uploadCancel, progress, ct).ConfigureAwait(false);
        }
        catch
        {
            // The exchange failed: the upload must not go on reading the client connection behind our back,
            // nor still be reading when the session closes it and returns its buffer to the pool.
            await FinishUploadAsync(upload, uploadCancel).ConfigureAwait(false);
            throw;
        }
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<Outcome> RelayResponseAsync(Connection upstream, bool reused, Task<long> upload, CancellationTokenSource? uploadCancel, Action progress, CancellationToken ct)
    {
        long readBefore = upstream.Input.BytesRead;
        ResponseHead? response;
        for (int interim = 0; ; interim++)
        {
            response = await ReadResponseHeadAsync(upstream, readBefore, ct).ConfigureAwait(false);
            if (response is null)
            {
                // Safe to send again only when nothing was consumed and the method is idempotent (RFC 9110 §9.2.2):
                // on a new connection when it was a pooled one the origin closed just as we used it; through the
                // route's next parent when it was a new one to a parent (going away, it still accepts for a moment).
                if (CanSendAgain)
                {
                    if (reused)
                    {
                        return Outcome.RetryOnNewConnection;
                    }

                    if (AnotherParentIsUp())
                    {
                        return Outcome.RetryThroughNextParent;
                    }
                }

                throw ClientBodyFailureOr(new ProxyErrorException(ProxyErrorKind.UpstreamClosed, $"{Answering} closed the connection without a response") { Hop = ParentHop });
            }

            if (response.Status == 101)
            {
                if (!_upgrade)
                {
                    throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"{Answering} switched protocols without being asked to") { Hop = ParentHop };
                }

                await SwitchProtocolsAsync(upstream, response).ConfigureAwait(false);
                return Outcome.Close;
            }

            if (!response.IsInformational)
            {
                break;
            }

            if (interim == MaxInterimResponses)
            {
                // 1xx responses are relayed as they come; an origin that never stops sending them gets no more.
                throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"{Answering} sent more than {MaxInterimResponses} informational (1xx) responses") { Hop = ParentHop };
            }

            if (!Head.IsHttp10)
            {
                // 100 Continue and friends: the client may be waiting for it before sending its body.
                await WriteResponseHeadAsync(response, BodyFraming.None, chunkedOut: false, close: false, ct).ConfigureAwait(false);
            }
        }

        _x.Metrics.TimeToFirstByte.Observe(_x.Elapsed.TotalSeconds);
        if (_x.Parent is { } parent && response.Status >= 400)
        {
            if (response.Status == 407)
            {
                // The parent wants Sluice's credentials, not the client's: a 407 relayed would ask the client for the wrong ones.
                throw ParentDialer.AuthenticationFailed(parent, _x.ParentAccessFor(_allowed), response);
            }

            // RFC 9209: name the hop that answered, so a client can tell a parent's refusal from the origin's.
            response.Fields.Add("Proxy-Status", ErrorResponse.ProxyStatusRelayed(Name, new ParentHop(parent.Endpoint, response.Status)));
        }

        if (!Framing.TryForResponse(Head.Method, response, out BodyFraming framing, out string problem))
        {
            throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, problem) { Hop = ParentHop };
        }

        // Close-delimited or chunked bodies reach an HTTP/1.1 client chunked, so its connection can stay open;
        // an HTTP/1.0 client gets the raw bytes and the end of the connection marks the end of the body.
        bool chunkedOut = !Head.IsHttp10 && framing.Kind is BodyKind.Chunked or BodyKind.UntilClose;
        bool closeClient = _clientWantsClose || _x.Draining.IsCancellationRequested;
        bool originCloses = response.MinorVersion == 0 ? !response.Fields.HasToken("Connection", "keep-alive") : response.Fields.HasToken("Connection", "close");
        Func<string, bool>? trailerFilter = framing.Kind == BodyKind.Chunked ? HopByHop.TrailerFilter(response.Fields) : null;
        try
        {
            if (await WriteResponseHeadAsync(response, framing, chunkedOut, closeClient, ct, upstream.Input).ConfigureAwait(false))
            {
                framing = BodyFraming.None; // already sent with the head
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The client left while the origin was answering.
            _x.Log(SquidResult.Miss, response.Status, upstream.Remote.Address, response.Fields.Get("Content-Type"), ProxyErrorKind.ConnectionTerminated);
            await FinishUploadAsync(upload, uploadCancel).ConfigureAwait(false);
            return Outcome.Close;
        }


        ProxyErrorKind? failure = null;
        try
        {
            await (SplicedBody.Applies(_x.Splice, upstream, Client, framing, chunkedOut)
                ? SplicedBody.CopyAsync(upstream, Client, framing, progress, ct)
                : BodyCopier.CopyAsync(upstream.Input, Client.Stream, framing, chunkedOut, _x.HeadLimits.MaxHeaderBytes, progress, ct, trailerFilter)).ConfigureAwait(false);
        }
        catch (BodyException e)
        {
            // The response has started: the only honest signal left is to cut the client connection.
            failure = e.Side == BodySide.Source ? ProxyErrorKind.UpstreamClosed : ProxyErrorKind.ConnectionTerminated;
        }
        catch (OperationCanceledException e) when (!_stopping.IsCancellationRequested)
        {
            // Whoever the copy was waiting on when the timeout came: a client that stopped reading is not the origin's timeout.
            failure = e is ReceiverStalledException ? ProxyErrorKind.ConnectionTerminated : ProxyErrorKind.UpstreamTimeout;
        }

        // An origin that answered before the whole request body arrived and keeps its connection open reads the rest
        // (it must, to read the next request), so the client finishes its upload as it would talking to the origin
        // itself, under the same idle timeout. One that closes, or a failed relay, ends the upload.
        bool letUploadFinish = failure is null && !originCloses && framing.Kind != BodyKind.UntilClose && !_x.Draining.IsCancellationRequested;
        bool uploaded = await FinishUploadAsync(upload, letUploadFinish ? null : uploadCancel).ConfigureAwait(false);
        _x.Log(SquidResult.Miss, response.Status, upstream.Remote.Address, response.Fields.Get("Content-Type"), failure);
        if (failure is not null)
        {
            Client.Abort();
            return Outcome.Close;
        }

        if (closeClient || !uploaded)
        {
            return Outcome.Close;
        }

        bool upstreamReusable = framing.Kind != BodyKind.UntilClose && !originCloses && upstream.Input.BufferedCount == 0;
        return upstreamReusable ? Outcome.Reusable : Outcome.ReusableClientOnly;
    }

    private async Task<long> UploadAsync(Connection upstream, Action progress, CancellationToken ct)
    {
        try
        {
            // A counted request body between plain sockets is spliced as response bodies are; a chunked one is checked and re-encoded.
            return await (SplicedBody.Applies(_x.Splice, Client, upstream, _requestFraming, chunkedOut: false)
                ? SplicedBody.CopyAsync(Client, upstream, _requestFraming, progress, ct)
                : BodyCopier.CopyAsync(Client.Input, upstream.Stream, _requestFraming, _requestFraming.Kind == BodyKind.Chunked, _x.HeadLimits.MaxHeaderBytes, progress, ct, _requestTrailerFilter)).ConfigureAwait(false);
        }
        catch (BodyException e) when (e.Side == BodySide.Source)
        {
            // The client's body is broken or cut off: stop waiting for the origin's answer to it.
            _clientBodyFailure = e;
            upstream.Abort();
            throw;
        }
        catch (Exception e) when (e is not (OperationCanceledException or BodyException))
        {
            // Whatever else stopped the upload, the origin will never get the rest of the body: waiting for its answer
            // would last until the exchange timeout.
            upstream.Abort();
            throw;
        }
    }

    /// <summary>Waits for the request body to finish: at once if it already has, else stopped through <paramref name="cancel"/>, or awaited without one. True when it was sent whole.</summary>
    private static async Task<bool> FinishUploadAsync(Task<long> upload, CancellationTokenSource? cancel)
    {
        if (!upload.IsCompleted && cancel is not null)
        {
            // The origin answered before reading the whole body (e.g. 413): the rest of the body is unread.
            await cancel.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await upload.ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is BodyException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>When the origin connection failed because the client's body was malformed, report that instead.</summary>
    private ProxyErrorException ClientBodyFailureOr(ProxyErrorException fallback) => _clientBodyFailure is { } e
        ? new ProxyErrorException(ProxyErrorKind.MalformedRequest, $"request body: {e.Message}")
        : fallback;

    // Nothing of the client's consumed, and a method that means the same when it arrives twice (RFC 9110 §9.2.2).
    private bool CanSendAgain => !_requestFraming.HasBody && IsIdempotent(Head.Method);

    private static bool IsIdempotent(string method) => method is "GET" or "HEAD" or "OPTIONS" or "TRACE" or "PUT" or "DELETE";

    /// <summary>The response head, or null when the connection ended before any byte of this response.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<ResponseHead?> ReadResponseHeadAsync(Connection upstream, long readBefore, CancellationToken ct)
    {
        HeadLimits limits = _x.HeadLimits;
        while (true)
        {
            ParseResult result = HeadParser.ParseResponse(upstream.Input.Buffered, limits, out ResponseHead? head, upstream.HeadStrings);
            switch (result.Status)
            {
                case ParseStatus.Complete:
                    upstream.Input.Consume(result.Consumed);
                    return head;
                case ParseStatus.Invalid:
                    throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"invalid response from {Answering}: {result.Message}") { Hop = ParentHop };
            }

            int read;
            try
            {
                await upstream.AwaitPendingReadAsync(ct).ConfigureAwait(false);
                read = await upstream.Input.FillAsync(limits.MaxHeaderBytes + 1, ct, waitWithoutBuffer: false).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                if (upstream.Input.BufferedCount == 0 && upstream.Input.BytesRead == readBefore)
                {
                    return null;
                }

                throw ClientBodyFailureOr(new ProxyErrorException(ProxyErrorKind.UpstreamClosed, $"{Answering} failed while sending the response head") { Hop = ParentHop });
            }

            if (read == 0)
            {
                return upstream.Input.BufferedCount == 0 ? null
                    : throw new ProxyErrorException(ProxyErrorKind.UpstreamClosed, $"{Answering} closed the connection inside the response head") { Hop = ParentHop };
            }
        }
    }

    private async Task SwitchProtocolsAsync(Connection upstream, ResponseHead response)
    {
        string protocol = response.Fields.Get("Upgrade") ?? "websocket";
        HopByHop.Strip(response.Fields);
        response.Fields.Add("Connection", "Upgrade");
        response.Fields.Add("Upgrade", protocol);
        Via.Append(response.Fields, response.MinorVersion, Name);
        using (var head = new HeadWriter())
        {
            head.Append("HTTP/1.1 101 ").Append(response.Reason).Append("\r\n").Fields(response.Fields).End();
            await head.WriteToAsync(Client.Stream, _stopping).ConfigureAwait(false);
        }

        using TunnelTracking tracking = _x.TrackTunnel(countedAgainstLimit: false);
        RelayResult relay = await Relay.RunAsync(Client, upstream, _x.Timeouts.Idle, _x.Splice, _x.Relays).ConfigureAwait(false);
        _x.Log(SquidResult.Miss, 101, upstream.Remote.Address, null, relay.Clean ? null : ProxyErrorKind.ConnectionTerminated);
    }

    /// <param name="parentCredentials">The parent's Proxy-Authorization, when the request goes through one that needs it.</param>
    /// <param name="absoluteForm">True through a parent proxy: it needs the whole URI (RFC 9112 §3.2.2).</param>
    private HeadWriter BuildRequestHead(string? parentCredentials, bool absoluteForm)
    {
        HttpFields fields = Head.Fields;
        _requestTrailerFilter = _requestFraming.Kind == BodyKind.Chunked ? HopByHop.TrailerFilter(fields) : null;
        HopByHop.Strip(fields);
        fields.Remove("Host");
        if (_requestFraming.Kind == BodyKind.ContentLength)
        {
            // Framing goes out as it was decided, in one place: the length the upload will copy.
            fields.Set("Content-Length", _requestFraming.Length.ToString(CultureInfo.InvariantCulture));
        }
        Via.Append(fields, Head.MinorVersion, Name);
        var head = new HeadWriter();
        // RFC 9112 §3.2.4: only the last proxy turns an OPTIONS with an empty path into "*"; one before it keeps the URI.
        string target = absoluteForm ? (Head.Method == "OPTIONS" && _target.PathWasEmpty ? $"http://{_target.Authority}" : _target.AbsoluteUri)
            : Head.Method == "OPTIONS" && _target.PathWasEmpty ? "*" : _target.PathAndQuery;
        head.Append(Head.Method).Append(" ").Append(target).Append(" HTTP/1.1\r\n")
            .Field("Host", _target.Authority)
            .Fields(fields);
        if (parentCredentials is not null)
        {
            head.Field("Proxy-Authorization", parentCredentials); // the client's own was stripped with the hop-by-hop fields
        }
        if (_requestFraming.Kind == BodyKind.Chunked)
        {
            head.Field("Transfer-Encoding", "chunked");
        }

        if (_upgrade)
        {
            head.Field("Connection", "Upgrade").Field("Upgrade", "websocket");
        }

        return head.End();
    }

    /// <summary>More interim responses than any real exchange has (100 Continue, 102, a few 103 Early Hints).</summary>
    private const int MaxInterimResponses = 16;

    /// <summary>A small body already buffered goes out in the same write as its head: one system call, one packet.</summary>
    private const int CoalesceBodyBytes = 16 * 1024;

    /// <returns>True when the whole body was written with the head (nothing left to copy).</returns>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<bool> WriteResponseHeadAsync(ResponseHead response, BodyFraming framing, bool chunkedOut, bool close, CancellationToken ct, BufferedInput? body = null)
    {
        HttpFields fields = response.Fields;
        HopByHop.Strip(fields);
        if (framing.Kind is BodyKind.Chunked or BodyKind.UntilClose || response.IsInformational || response.Status == 204)
        {
            // RFC 9110 §8.6: no Content-Length in a 1xx or 204 response; a re-framed body has its own framing.
            fields.Remove("Content-Length");
        }
        else if (framing.Kind == BodyKind.ContentLength)
        {
            fields.Set("Content-Length", framing.Length.ToString(CultureInfo.InvariantCulture));
        }

        Via.Append(fields, response.MinorVersion, Name);
        using var head = new HeadWriter();
        head.Append("HTTP/1.1 ").Append(response.Status).Append(" ").Append(response.Reason).Append("\r\n").Fields(fields);
        if (chunkedOut)
        {
            head.Field("Transfer-Encoding", "chunked");
        }

        if (close)
        {
            head.Field("Connection", "close");
        }

        head.End();
        bool withBody = body is not null && framing.Kind == BodyKind.ContentLength && framing.Length <= CoalesceBodyBytes && body.BufferedCount >= framing.Length;
        if (withBody)
        {
            head.Append(body!.Buffered[..(int)framing.Length]);
            body.Consume((int)framing.Length);
        }

        await head.WriteToAsync(Client.Stream, ct).ConfigureAwait(false);
        return withBody;
    }

    /// <summary>A TRACE or OPTIONS request's Max-Forwards (RFC 9110 §7.6.2); <paramref name="unreadable"/> when it is not 1*DIGIT.</summary>
    private int? ReadMaxForwards(out string? unreadable)
    {
        unreadable = null;
        if (Head.Method is not ("TRACE" or "OPTIONS") || Head.Fields.Get("Max-Forwards") is not { } value)
        {
            return null;
        }

        if (value.Length == 0 || value.AsSpan().ContainsAnyExceptInRange('0', '9'))
        {
            unreadable = value;
            return null;
        }

        // A value larger than we can count is as good as our largest (§7.6.2: "the lesser of").
        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed : int.MaxValue;
    }

    /// <summary>The proxy is the last hop (Max-Forwards 0): TRACE is echoed, OPTIONS answered with what the proxy allows.</summary>
    private async Task<bool> AnswerItselfAsync(bool keepAlive)
    {
        byte[] body = [];
        string contentType = "text/plain";
        using var head = new HeadWriter();
        head.Append("HTTP/1.1 200 OK\r\n");
        if (Head.Method == "TRACE")
        {
            body = Encoding.Latin1.GetBytes(EchoForTrace());
            contentType = "message/http";
            head.Field("Content-Type", contentType);
        }
        else
        {
            head.Field("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT");
        }

        head.Field("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)).Field("Via", $"1.{Head.MinorVersion} {Name}");
        if (!keepAlive)
        {
            head.Field("Connection", "close");
        }

        head.End();
        await head.WriteToAsync(Client.Stream, _stopping).ConfigureAwait(false);
        await Client.Stream.WriteAsync(body, _stopping).ConfigureAwait(false);
        _x.Log(SquidResult.None, 200, null, contentType);
        return true;
    }

    // The request as received, minus credentials (RFC 9110 §9.3.8: exclude fields likely to carry secrets).
    private string EchoForTrace()
    {
        var sb = new StringBuilder();
        sb.Append(Head.Method).Append(' ').Append(Head.Target).Append(" HTTP/1.").Append(Head.MinorVersion).Append("\r\n");
        foreach ((string name, string value) in Head.Fields)
        {
            if (name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            sb.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        return sb.Append("\r\n").ToString();
    }

    private static bool IsWebSocketUpgrade(HttpFields fields) =>
        fields.HasToken("Connection", "upgrade") && fields.HasToken("Upgrade", "websocket");
}
