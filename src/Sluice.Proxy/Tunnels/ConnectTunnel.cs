using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Requests;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Tunnels;

/// <summary>CONNECT: decide, dial the checked address, answer 200, then relay bytes until both sides are done.</summary>
internal static class ConnectTunnel
{
    internal static readonly byte[] Established = "HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray();

    /// <param name="runInside">Runs the requests of an inspected tunnel over the client's TLS connection (the session loop).</param>
    /// <returns>True when the connection may carry another request (the CONNECT was answered 407).</returns>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    public static async ValueTask<bool> RunAsync(RequestContext exchange, IInspectedSession runInside, CancellationToken stopping)
    {
        Connection client = exchange.Client;
        if (!RequestTarget.TryParseAuthority(exchange.Head.Target, out RequestTarget? target, out string problem))
        {
            await exchange.FailAsync(ProxyErrorKind.MalformedRequest, problem, null, keepAlive: false, stopping).ConfigureAwait(false);
            return false;
        }

        exchange.Url = target!.AuthorityWithPort;
        // RFC 9110 §9.3.6: a CONNECT request has no content. A framing field would make the bytes after the head
        // ambiguous (a body for one reader, the first tunnel bytes for another), so it is refused, even a zero length.
        string? field = exchange.Head.Fields.Contains("Transfer-Encoding") ? "Transfer-Encoding"
            : exchange.Head.Fields.Contains("Content-Length") ? "Content-Length" : null;
        if (field is not null)
        {
            await exchange.FailAsync(ProxyErrorKind.MalformedRequest, $"a CONNECT request has no content; {field} is not allowed", null, keepAlive: false, stopping).ConfigureAwait(false);
            return false;
        }

        Connection upstream;
        Verdict allowed;
        try
        {
            if (Http1.Via.HasBeenHere(exchange.Head.Fields, exchange.ProxyName))
            {
                // A parent proxy sent our own CONNECT back: every hop would open another tunnel to the next.
                throw new ProxyErrorException(ProxyErrorKind.LoopDetected, $"the CONNECT already passed through {exchange.ProxyName} (Via); refusing to open a tunnel in a loop");
            }

            exchange.CheckRate();
            await exchange.AuthenticateAsync().ConfigureAwait(false);
            allowed = exchange.Decide(target, RequestScheme.Tunnel);
            exchange.TakeTunnelSlot(allowed);
            if (allowed.Tls == TlsHandling.Inspect)
            {
                return await InspectedConnect.RunAsync(exchange, allowed, target, runInside, stopping).ConfigureAwait(false);
            }

            try
            {
                upstream = await exchange.OpenTunnelAsync(allowed, stopping).ConfigureAwait(false);
            }
            catch
            {
                exchange.ReleaseTunnelSlot();
                throw;
            }
        }
        catch (ProxyErrorException e)
        {
            // After a 407 the client usually asks again with credentials on the same connection.
            bool again = e.Kind == ProxyErrorKind.AuthenticationRequired;
            return await exchange.FailAsync(e, keepAlive: again, stopping).ConfigureAwait(false) && again;
        }

        exchange.Head.Fields.Clear(); // decided and dialled: an idle tunnel holds no header strings
        using TunnelTracking tracking = exchange.TrackTunnel();
        using (upstream)
        {
            try
            {
                await ImmediateSend.WriteAsync(client, Established, stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                exchange.Log(SquidResult.Tunnel, 200, upstream.Remote.Address, contentType: null, ProxyErrorKind.ConnectionTerminated);
                return false; // the client left before the tunnel opened
            }

            using IRelayObserver? control = exchange.WatchFtpControl(allowed, upstream.Remote.Address);
            RelayResult result = await Relay.RunAsync(client, upstream, exchange.Timeouts.Idle, exchange.Splice, exchange.Relays, control).ConfigureAwait(false);
            exchange.Log(SquidResult.Tunnel, 200, upstream.Remote.Address, contentType: null, result.Clean ? null : ProxyErrorKind.ConnectionTerminated);
        }

        return false;
    }
}
