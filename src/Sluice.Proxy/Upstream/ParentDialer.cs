using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Sluice.Policy.Config;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Resolution;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Upstream;

/// <summary>A connection to a parent proxy, and which one.</summary>
internal readonly record struct ParentLink(Connection Connection, ParentProxy Parent);

/// <summary>
/// Connects through a route's parent proxies, in the route's order, skipping those marked down: TCP to an address the
/// guard permits (a parent is checked like any destination), TLS for https:// parents, and for a tunnel a CONNECT
/// whose answer is read with the strict response reader. A parent that cannot be reached, or answers a CONNECT with
/// 502, 503 or 504, hands the request to the next one; nothing has reached the client yet when that happens.
/// </summary>
internal sealed class ParentDialer
{
    private readonly Metrics.ProxyMetrics _metrics;
    private readonly ParentHealth _health;

    public ParentDialer(Metrics.ProxyMetrics metrics, ParentHealth health)
    {
        _metrics = metrics;
        _health = health;
    }

    public ParentHealth Health => _health;

    /// <summary>
    /// A new configuration's parents for the health tracker, each probed with that configuration's address guard and
    /// TLS trust: a parent marked down under an older configuration is not probed with it for ever after.
    /// </summary>
    public void Retain(RequestPipeline pipeline, IResolver resolver, IReadOnlyDictionary<string, ParentAccess> access, IEnumerable<ParentProxy> parents) =>
        _health.Retain(parents, parent => ct => ProbeAsync(pipeline, resolver, access[parent.Upstream], parent, ct));

    /// <summary>A connection to the first parent of the route that answers, for forwarding requests to it.</summary>
    /// <param name="passOver">Parents this request already went to and got no answer from: not tried again.</param>
    public Task<ParentLink> ConnectAsync(RequestPipeline pipeline, IResolver resolver, ParentAccess access, Route route, IReadOnlyCollection<ParentProxy>? passOver, CancellationToken cancellationToken) =>
        WithFailoverAsync(route, passOver, (parent, ct) => ConnectOneAsync(pipeline, resolver, access, parent, ct), cancellationToken);

    /// <summary>
    /// A new connection to <paramref name="parent"/> was closed before any answer to the request it carried: a parent
    /// going away (a Squid shutting down, a pod draining) still accepts for a moment. Counted against its health.
    /// </summary>
    public void ClosedWithoutAnswer(ParentProxy parent, string error)
    {
        _metrics.CountParent(parent, ProxyErrorKind.UpstreamClosed);
        _health.Failed(parent, error);
    }

    /// <summary>A tunnel to the request's destination through the first parent of the route that opens one.</summary>
    /// <param name="via">The Via the CONNECT goes up with: the client's entries and this proxy's (so loops are caught upstairs and back here).</param>
    public Task<ParentLink> OpenTunnelAsync(RequestPipeline pipeline, IResolver resolver, ParentAccess access, Verdict allowed, string via, HeadLimits limits, CancellationToken cancellationToken) =>
        WithFailoverAsync(allowed.Route, passOver: null, async (parent, ct) =>
        {
            Connection connection = await ConnectOneAsync(pipeline, resolver, access, parent, ct).ConfigureAwait(false);
            try
            {
                await ConnectThroughAsync(connection, parent, access, allowed.Facts.Destination.ToString(), via, limits, pipeline.ResolveTimeout, ct).ConfigureAwait(false);
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }, cancellationToken);

    private async Task<ParentLink> WithFailoverAsync(Route route, IReadOnlyCollection<ParentProxy>? passOver, Func<ParentProxy, CancellationToken, Task<Connection>> attempt, CancellationToken cancellationToken)
    {
        ParentUpstream upstream = route.Upstream ?? throw new InvalidOperationException("not a route through a parent");
        var failures = new List<string>();
        ProxyErrorException? last = null;
        foreach (ParentProxy parent in route.Order)
        {
            if (!_health.IsUp(parent) || passOver?.Contains(parent) == true)
            {
                continue;
            }

            try
            {
                Connection connection = await attempt(parent, cancellationToken).ConfigureAwait(false);
                _health.Succeeded(parent);
                return new ParentLink(connection, parent);
            }
            catch (ProxyErrorException e) when (HandsOver(e))
            {
                _metrics.CountParent(parent, e.Kind);
                if (IsConnectionFailure(e))
                {
                    _health.Failed(parent, e.Message);
                }

                failures.Add(e.Message);
                last = e;
            }
            catch (ProxyErrorException e)
            {
                _metrics.CountParent(parent, e.Kind);
                throw; // an answer (403, 407...) that another parent of the same upstream would give too
            }
        }

        if (last is null)
        {
            string states = string.Join("; ", _health.Describe(route.Order).Select(s => $"{s.Parent}: {s.LastError ?? "down"}"));
            throw new ProxyErrorException(ProxyErrorKind.ParentError, $"every proxy of upstream {upstream.Name} is down ({states})");
        }

        throw failures.Count == 1 ? last : new ProxyErrorException(last.Kind, $"every proxy of upstream {upstream.Name} failed: {string.Join("; ", failures)}") { Hop = last.Hop };
    }

    // Failures another parent may not have: it cannot be reached, or it could not reach the destination (502/503/504).
    private static bool HandsOver(ProxyErrorException e) => e.Kind switch
    {
        ProxyErrorKind.ParentRefused or ProxyErrorKind.ParentTimeout or ProxyErrorKind.ParentTlsError or ProxyErrorKind.ParentProhibited => true,
        ProxyErrorKind.ParentError => e.Hop?.ReceivedStatus is null or 502 or 503 or 504,
        _ => false,
    };

    // What counts against a parent's health: it could not be reached or talked to, not what it answered.
    private static bool IsConnectionFailure(ProxyErrorException e) =>
        e.Kind is ProxyErrorKind.ParentRefused or ProxyErrorKind.ParentTimeout or ProxyErrorKind.ParentTlsError
        || (e.Kind == ProxyErrorKind.ParentError && e.Hop?.ReceivedStatus is null);

    /// <summary>A health probe of a parent marked down: a connection (and TLS handshake) made as a request's would be.</summary>
    private async Task ProbeAsync(RequestPipeline pipeline, IResolver resolver, ParentAccess access, ParentProxy parent, CancellationToken cancellationToken)
    {
        using Connection connection = await ConnectOneAsync(pipeline, resolver, access, parent, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>TCP (and TLS) to one parent, within the connect timeout; its name resolved and checked like a destination's.</summary>
    private async Task<Connection> ConnectOneAsync(RequestPipeline pipeline, IResolver resolver, ParentAccess access, ParentProxy parent, CancellationToken cancellationToken)
    {
        var hop = new ParentHop(parent.Endpoint);
        Policy.Names.HostPort address = parent.Address.Address;
        TimeSpan limit = pipeline.ResolveTimeout;
        long started = Stopwatch.GetTimestamp();
        AddressLookup lookup = await pipeline.LookUpAsync(address.Host, address.Address, address.Port, resolver, cancellationToken).ConfigureAwait(false);
        switch (lookup.Refusal)
        {
            case ProxyErrorKind.DestinationProhibited:
                throw new ProxyErrorException(ProxyErrorKind.ParentProhibited, $"parent proxy {parent.Endpoint}: {lookup.Detail}; allow it with addresses.allow") { Hop = hop };
            case not null:
                throw new ProxyErrorException(ProxyErrorKind.ParentError, $"parent proxy {parent.Endpoint}: {lookup.Detail}") { Hop = hop };
        }

        Connection plain;
        try
        {
            plain = await TcpConnector.ConnectAsync(lookup.Permitted, address.Port, $"parent proxy {parent.Endpoint}", limit, limit - Stopwatch.GetElapsedTime(started), cancellationToken).ConfigureAwait(false);
        }
        catch (ProxyErrorException e)
        {
            // A parent that cannot be reached is the parent's failure, named as the next hop (and counted against its health).
            // Refused only when it refused: a parent that accepted and reset at once can reach the connect's completion
            // as a reset (SO_ERROR is read after the RST came in), and that is a parent gone, not one refusing.
            throw new ProxyErrorException(e.Kind switch
            {
                ProxyErrorKind.ConnectionTimeout => ProxyErrorKind.ParentTimeout,
                ProxyErrorKind.ConnectionRefused => ProxyErrorKind.ParentRefused,
                _ => ProxyErrorKind.ParentError,
            }, e.Message) { Hop = hop };
        }

        if (!parent.Address.Tls)
        {
            _metrics.ParentConnect.WithLabels(parent.Upstream, parent.Endpoint).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            return plain;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        TimeSpan left = limit - Stopwatch.GetElapsedTime(started);
        timeout.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero); // the TLS handshake within the same connect timeout
        var handshaking = new HandshakeStream(new NetworkStream(plain.Socket, ownsSocket: false));
        var tls = new SslStream(handshaking, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(access.TlsOptions(address.Host), timeout.Token).ConfigureAwait(false);
            handshaking.Handshaken();
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            plain.Dispose();
            throw e is OperationCanceledException
                ? new ProxyErrorException(ProxyErrorKind.ParentTimeout, $"no TLS handshake with parent proxy {parent.Endpoint} within {Durations.Format(limit)}") { Hop = hop }
                : new ProxyErrorException(ProxyErrorKind.ParentTlsError, $"TLS with parent proxy {parent.Endpoint} failed: {e.Message}") { Hop = hop };
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            plain.Dispose();
            throw;
        }

        _metrics.ParentConnect.WithLabels(parent.Upstream, parent.Endpoint).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        return Connection.Layered(plain, tls);
    }

    /// <summary>
    /// Asks the parent for a tunnel and reads its answer: any 2xx opens it (RFC 9110 §9.3.6, a 204 or 206 as well as a
    /// 200, and whatever Content-Length or Transfer-Encoding it carries: the bytes after it are the tunnel's); 1xx
    /// answers before it are skipped; anything else is named for the client.
    /// </summary>
    private static async Task ConnectThroughAsync(Connection connection, ParentProxy parent, ParentAccess access, string target, string via, HeadLimits limits, TimeSpan limit, CancellationToken cancellationToken)
    {
        var hop = new ParentHop(parent.Endpoint);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        ResponseHead? answer;
        try
        {
            using (var head = new HeadWriter())
            {
                head.Append("CONNECT ").Append(target).Append(" HTTP/1.1\r\n").Field("Host", target);
                if (access.ProxyAuthorization is { } credentials)
                {
                    head.Field("Proxy-Authorization", credentials);
                }

                // Via on the CONNECT too: a parent that sends the tunnel back here is caught as a loop (508).
                head.Field("Via", via).End();
                await head.WriteToAsync(connection.Stream, timeout.Token).ConfigureAwait(false);
            }

            answer = await ReadAnswerAsync(connection, parent, limits, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProxyErrorException(ProxyErrorKind.ParentTimeout, $"parent proxy {parent.Endpoint} did not answer CONNECT {target} within {Durations.Format(limit)}") { Hop = hop };
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            answer = null;
        }

        if (answer is null)
        {
            throw new ProxyErrorException(ProxyErrorKind.ParentError, $"parent proxy {parent.Endpoint} closed the connection without answering CONNECT {target}") { Hop = hop };
        }

        int status = answer.Status;
        if (status is >= 200 and < 300)
        {
            return;
        }

        var answered = new ParentHop(parent.Endpoint, status);
        string says = ParentSays(answer, access);
        throw status switch
        {
            407 => AuthenticationFailed(parent, access, answer),
            403 => new ProxyErrorException(ProxyErrorKind.ParentDenied, $"parent proxy {parent.Endpoint} refused CONNECT {target} (403){says}") { Hop = answered },
            _ => new ProxyErrorException(ProxyErrorKind.ParentError, $"parent proxy {parent.Endpoint} answered CONNECT {target} with {status} {Quote(answer.Reason, access)}{says}") { Hop = answered },
        };
    }

    private static async Task<ResponseHead?> ReadAnswerAsync(Connection connection, ParentProxy parent, HeadLimits limits, CancellationToken cancellationToken)
    {
        for (int interim = 0; ; )
        {
            ParseResult result = HeadParser.ParseResponse(connection.Input.Buffered, limits, out ResponseHead? head);
            if (result.Status == ParseStatus.Complete)
            {
                // What follows the head is the tunnel's first bytes: they stay buffered, and the relay sends them first.
                connection.Input.Consume(result.Consumed);
                if (head!.IsInformational && head.Status != 101 && interim++ < MaxInterimAnswers)
                {
                    // RFC 9110 §15.2: a client parses 1xx responses it did not expect (100, 102, 103 Early Hints)
                    // and waits for the final one; they open nothing and are not passed on to the client.
                    continue;
                }

                return head;
            }

            if (result.Status == ParseStatus.Invalid)
            {
                throw new ProxyErrorException(ProxyErrorKind.ParentError, $"parent proxy {parent.Endpoint} sent an invalid answer to CONNECT: {result.Message}") { Hop = new ParentHop(parent.Endpoint) };
            }

            if (await connection.Input.FillAsync(limits.MaxHeaderBytes + 1, cancellationToken, waitWithoutBuffer: false).ConfigureAwait(false) == 0)
            {
                return null;
            }
        }
    }

    /// <summary>More interim (1xx) answers to a CONNECT than any parent sends: the next one is its final answer, and refused.</summary>
    private const int MaxInterimAnswers = 16;

    /// <summary>
    /// A parent's 407, to a CONNECT or a forwarded request: Sluice's credentials for it are missing or wrong, which is
    /// the configuration's fault, not the client's (a 407 passed on would ask the client for the wrong credentials).
    /// </summary>
    internal static ProxyErrorException AuthenticationFailed(ParentProxy parent, ParentAccess access, ResponseHead answer)
    {
        string says = ParentSays(answer, access);
        return new ProxyErrorException(ProxyErrorKind.ParentAuthenticationFailed, access.ProxyAuthorization is null
            ? $"parent proxy {parent.Endpoint} asks for credentials (407); give upstream {parent.Upstream} credentials:{says}"
            : $"parent proxy {parent.Endpoint} refused the credentials of upstream {parent.Upstream} (407){says}")
        {
            Hop = new ParentHop(parent.Endpoint, 407),
        };
    }

    /// <summary>
    /// What the parent said about its refusal, when it said it in a field meant for that: its Proxy-Status, Squid's
    /// error name. It goes into Sluice's own answer and log line, so Sluice's credentials are taken out of it first: a
    /// parent that quotes the request it refused must not hand them to the client.
    /// </summary>
    private static string ParentSays(ResponseHead answer, ParentAccess access)
    {
        string? said = answer.Fields.Get("Proxy-Status") ?? answer.Fields.Get("X-Squid-Error");
        return said is null ? "" : $"; it says: {Quote(said, access)}";
    }

    // Words of the parent's quoted in Sluice's: without Sluice's credentials, then at most 200 characters.
    private static string Quote(string said, ParentAccess access)
    {
        said = access.Redact(said);
        return said.Length > 200 ? said[..200] : said;
    }
}
