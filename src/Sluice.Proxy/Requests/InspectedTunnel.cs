using System.Net.Security;
using System.Security.Authentication;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Inspection;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Requests;

/// <summary>
/// What the requests inside one inspected tunnel share: the CONNECT they came in (its identity, its route and the
/// addresses checked for it), and the TLS connection to the origin, kept between requests and opened again to the
/// same checked addresses when the origin closes it.
/// </summary>
internal sealed class InspectedTunnel : IDisposable
{
    private readonly RequestContext _connect;
    private Verdict _allowed;
    private Connection? _idle;

    public InspectedTunnel(RequestContext connect, Verdict allowed, RequestTarget target, InspectionAuthority authority)
    {
        _connect = connect;
        _allowed = allowed;
        Target = target;
        Authority = authority;
    }

    /// <summary>The CONNECT's destination: every request inside is for it.</summary>
    public RequestTarget Target { get; }

    public InspectionAuthority Authority { get; }

    /// <summary>Who opened the tunnel: requests inside carry no Proxy-Authorization of their own.</summary>
    public string? User => _connect.User;

    public IReadOnlyCollection<string> Groups => _connect.Groups;

    public AuthResult? Identity => _connect.Identity;

    /// <summary>The CONNECT's route: everything inside goes the way the inspecting rule said.</summary>
    public Route Route => _allowed.Route;

    /// <summary>The parent proxy the tunnel goes through, once one carries it.</summary>
    public ParentProxy? Parent => _connect.Parent;

    /// <summary>
    /// The origin connection left by the last request, if it is still open; the caller owns it until it gives it back.
    /// One the origin closed (or spoke on out of turn) while the tunnel was idle is dropped here, so a request with a
    /// body, which cannot be sent twice, goes on a new connection instead of failing on the dead one.
    /// </summary>
    public Connection? TakeUpstream()
    {
        Connection? idle = _idle;
        _idle = null;
        if (idle?.PendingRead is { IsCompleted: true })
        {
            idle.Dispose();
            return null;
        }

        return idle;
    }

    /// <summary>
    /// Keeps a reusable origin connection for the next request, watched by a zero-byte read through TLS: it completes
    /// only when the origin sends something or closes, and the next request's response read awaits that same read
    /// first (<see cref="Connection.PendingRead"/>), so there is never a second read on the stream.
    /// </summary>
    public void ReturnUpstream(Connection connection)
    {
        _idle?.Dispose();
        _idle = connection;
        if (connection.PendingRead is null)
        {
            Task<int> watch = connection.Stream.ReadAsync(Memory<byte>.Empty).AsTask();
            _ = watch.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            connection.PendingRead = watch;
        }
    }

    /// <summary>
    /// A TLS connection to the origin, through the CONNECT's route, validated by <see cref="OriginTrust"/>: the system
    /// roots plus <c>upstreamCa</c>, and the name. Throws the 502 that says what was wrong with the certificate.
    /// </summary>
    public async Task<Connection> OpenOriginAsync(CancellationToken cancellationToken)
    {
        if (_allowed.Route.Kind == RouteKind.Direct && _allowed.Step == VerdictStep.Rules)
        {
            // Resolved and checked once for the tunnel: a re-opened origin connection goes to the same checked addresses.
            _allowed = await _connect.ResolveAsync(_allowed, cancellationToken).ConfigureAwait(false);
        }

        Connection plain = await _connect.OpenTunnelAsync(_allowed, cancellationToken).ConfigureAwait(false);
        var check = new OriginCheck();
        var handshaking = new HandshakeStream(new ConnectionStream(plain));
        var tls = new SslStream(handshaking, leaveInnerStreamOpen: false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connect.Timeouts.Connect);
        try
        {
            await tls.AuthenticateAsClientAsync(Authority.Origins.OptionsFor(Target.Host, check), timeout.Token).ConfigureAwait(false);
            handshaking.Handshaken();
            return Connection.Layered(plain, tls);
        }
        catch (Exception e) when (e is AuthenticationException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            ParentHop? hop = Parent is { } parent ? new ParentHop(parent.Endpoint) : null;
            if (check.Problem is { } problem)
            {
                throw new ProxyErrorException(ProxyErrorKind.OriginCertificateInvalid, $"{problem}: not inspected, and not tunnelled either, because a client shown a minted certificate could not see the origin's") { Hop = hop };
            }

            string why = e is OperationCanceledException ? $"no answer within {Policy.Config.Durations.Format(_connect.Timeouts.Connect)}" : e.InnerException?.Message ?? e.Message;
            throw new ProxyErrorException(ProxyErrorKind.OriginTlsFailed, $"the TLS handshake with {Target.AuthorityWithPort} failed: {why}") { Hop = hop };
        }
    }

    public void Dispose()
    {
        _idle?.Dispose();
        _idle = null;
    }
}
