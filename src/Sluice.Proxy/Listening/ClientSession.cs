using System.Net.Sockets;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Forwarding;
using Sluice.Proxy.Ftp;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Tunnels;
using Sluice.Proxy.Requests;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Listening;

/// <summary>
/// One client connection: reads request heads under the header limits and timeouts, hands each request to the
/// tunnel or the forwarder, and keeps the connection alive between requests while both sides allow it.
/// </summary>
internal sealed class ClientSession : IInspectedSession
{
    // How long a closing connection keeps reading (and discarding) so the client receives our last response.
    private static readonly TimeSpan LingerLimit = TimeSpan.FromSeconds(2);

    private readonly Connection _client;
    private readonly Admin.LiveConnection _live;
    private readonly Func<ProxySnapshot> _current;
    private ProxySnapshot _snapshot;
    private CancellationTokenSource? _idleTimer;
    private CancellationTokenSource? _headTimer;
    private CancellationTokenSource? _exchangeTimer;
    private readonly ProxyServices _services;
    private readonly CancellationToken _stopping;
    private readonly InspectedTunnel? _inspected;

    /// <param name="current">The configuration in force: read once per request, so a reload reaches keep-alive
    /// connections at their next request (a tunnel keeps what it started with).</param>
    /// <param name="inspected">Set for the TLS connection inside an inspected tunnel: its requests are the tunnel's.</param>
    public ClientSession(Connection client, Func<ProxySnapshot> current, ProxyServices services, Admin.LiveConnection live, CancellationToken stopping, InspectedTunnel? inspected = null)
    {
        _inspected = inspected;
        _client = client;
        _live = live;
        _current = current;
        _snapshot = current();
        _services = services;
        _stopping = stopping;
    }

    public async Task RunAsync()
    {
        bool exchanging = false;
        bool cut = false;
        try
        {
            for (bool first = true; ; first = false)
            {
                if (!first && !await WaitForNextRequestAsync().ConfigureAwait(false))
                {
                    return;
                }

                _snapshot = _current();
                long consumedBefore = _client.Input.Consumed;
                (RequestHead? head, ProxyErrorKind? error, string problem) = await ReadHeadAsync().ConfigureAwait(false);
                if (head is null)
                {
                    if (error is { } kind)
                    {
                        var failed = new RequestContext(_client, _snapshot, _services, new RequestHead { Method = "NONE", Target = "-", MinorVersion = 1, Fields = new HttpFields() }, consumedBefore, _live, _inspected);
                        await failed.FailAsync(kind, problem, null, keepAlive: false, _stopping).ConfigureAwait(false);
                    }

                    return;
                }

                var exchange = new RequestContext(_client, _snapshot, _services, head, consumedBefore, _live, _inspected);
                if (!RequestChecks.TryCheckHost(head, out string hostProblem))
                {
                    await exchange.FailAsync(ProxyErrorKind.MalformedRequest, hostProblem, null, keepAlive: false, _stopping).ConfigureAwait(false);
                    return;
                }

                if (head.IsConnect)
                {
                    // A tunnel can last for hours: it keeps no per-request timers (they come back if a 407 lets
                    // the connection carry another request), nor the strings of its heads.
                    ReleaseTimers();
                    _client.ForgetHeadStrings();
                }

                if (head.IsConnect && _inspected is not null)
                {
                    await exchange.FailAsync(ProxyErrorKind.MalformedRequest, "a CONNECT inside an inspected tunnel opens nothing: this connection already is a tunnel", null, keepAlive: false, _stopping).ConfigureAwait(false);
                    return;
                }

                exchanging = true;
                bool another = head.IsConnect
                    ? await ConnectTunnel.RunAsync(exchange, this, _stopping).ConfigureAwait(false)
                    : IsFtpUrl(head) ? await FtpGatewayExchange.RunAsync(exchange, _stopping).ConfigureAwait(false)
                    : await ForwardExchange.RunAsync(exchange, Timer(ref _exchangeTimer, CancellationToken.None), _stopping).ConfigureAwait(false);
                exchanging = false;
                if (!another)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the server is stopping: nothing left to tell anyone, except that a request
            // the stop cut mid-way did not end well. A reset says so; a FIN would pass a truncated body as whole.
            cut = exchanging && _stopping.IsCancellationRequested;
        }
        finally
        {
            if (cut)
            {
                _client.Abort();
            }
            else
            {
                await _client.LingerCloseAsync(LingerLimit).ConfigureAwait(false);
            }

            _client.Dispose();
            ReleaseTimers();
        }
    }

    /// <summary>An ftp:// URL outside a tunnel: the FTP gateway fetches it (inside one, every request is the origin's).</summary>
    private bool IsFtpUrl(RequestHead head) => _inspected is null && head.Target.StartsWith("ftp://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The requests inside an inspected tunnel: the same loop over the client's TLS connection, with the snapshot the
    /// tunnel started with for its whole life.
    /// </summary>
    public Task RunInsideAsync(Connection inside, InspectedTunnel tunnel)
    {
        ProxySnapshot snapshot = _snapshot;
        return new ClientSession(inside, () => snapshot, _services, _live, _stopping, tunnel).RunAsync();
    }

    /// <summary>
    /// A timeout source kept for the whole connection and re-armed per request, instead of a new linked source and
    /// timer for every request; replaced only after it has fired.
    /// </summary>
    private CancellationTokenSource Timer(ref CancellationTokenSource? timer, CancellationToken alsoOn)
    {
        if (timer is null || !timer.TryReset())
        {
            timer?.Dispose();
            timer = CancellationTokenSource.CreateLinkedTokenSource(_stopping, alsoOn);
        }

        return timer;
    }

    private void ReleaseTimers()
    {
        _idleTimer?.Dispose();
        _headTimer?.Dispose();
        _exchangeTimer?.Dispose();
        _idleTimer = _headTimer = _exchangeTimer = null;
    }

    /// <summary>An empty line (CRLF CRLF, or a bare LF pair the parser will refuse) among the bytes not yet scanned.</summary>
    private static bool MayBeComplete(ReadOnlySpan<byte> buffered, int scanned)
    {
        ReadOnlySpan<byte> fresh = buffered[Math.Max(0, scanned - 3)..];
        return fresh.IndexOf("\n\r\n"u8) >= 0 || fresh.IndexOf("\n\n"u8) >= 0;
    }

    /// <summary>Between requests a keep-alive connection waits, without a buffer, up to the idle timeout.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<bool> WaitForNextRequestAsync()
    {
        if (_client.Input.BufferedCount > 0)
        {
            return true;
        }

        CancellationTokenSource idle = Timer(ref _idleTimer, _services.Draining);
        idle.CancelAfter(_snapshot.Config.Timeouts.Idle);
        try
        {
            await _client.Input.WaitForDataAsync(idle.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            idle.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private async ValueTask<(RequestHead?, ProxyErrorKind?, string)> ReadHeadAsync()
    {
        CancellationTokenSource deadline = Timer(ref _headTimer, CancellationToken.None);
        deadline.CancelAfter(_snapshot.Config.Timeouts.RequestHeaders);
        using var stopTimer = new TimerStop(deadline);
        HeadLimits limits = _snapshot.Limits;
        int scanned = 0;
        while (true)
        {
            // Parse only when the end of a head may have arrived, or a limit is crossed: a client trickling a head
            // byte by byte must not make us re-parse (and allocate) the whole buffer on every read.
            ReadOnlySpan<byte> buffered = _client.Input.Buffered;
            if (MayBeComplete(buffered, scanned) || buffered.Length > limits.MaxRequestLineBytes || buffered.Length > limits.MaxHeaderBytes)
            {
                ParseResult result = HeadParser.ParseRequest(buffered, limits, out RequestHead? head, _client.HeadStrings);
                switch (result.Status)
                {
                    case ParseStatus.Complete:
                        _client.Input.Consume(result.Consumed);
                        return (head, null, "");
                    case ParseStatus.Invalid:
                        return (null, result.Problem switch
                        {
                            HeadProblem.RequestLineTooLong => ProxyErrorKind.RequestLineTooLong,
                            HeadProblem.HeaderSectionTooLarge => ProxyErrorKind.HeaderSectionTooLarge,
                            HeadProblem.VersionNotSupported => ProxyErrorKind.VersionNotSupported,
                            _ => ProxyErrorKind.MalformedRequest,
                        }, result.Message);
                }
            }

            scanned = buffered.Length;
            int read;
            try
            {
                // Room for the limit plus a few leading empty lines, plus one byte to see the limit crossed.
                read = await _client.Input.FillAsync(limits.MaxHeaderBytes + 16, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
            {
                string timeout = Policy.Config.Durations.Format(_snapshot.Config.Timeouts.RequestHeaders);
                return (null, ProxyErrorKind.HeaderTimeout, $"no complete request header section within {timeout}");
            }

            if (read == 0)
            {
                return _client.Input.BufferedCount == 0
                    ? (null, null, "")
                    : (null, ProxyErrorKind.MalformedRequest, "the connection ended inside the request head");
            }
        }
    }
}
