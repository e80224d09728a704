using System.Net.Security;
using System.Security.Authentication;
using Sluice.Policy.Names;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Requests;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Tunnels;

/// <summary>
/// An inspected CONNECT: TLS to the origin first (an invalid certificate answers the CONNECT with 502), then 200, then
/// TLS with the client as the origin, with a leaf minted for the CONNECT host; the requests inside run through the
/// session loop and are each decided and logged. The CONNECT's own log line comes last, as Squid's does for a bump.
/// </summary>
internal static class InspectedConnect
{
    /// <summary>Runs the tunnel; the tunnel slot taken for it is released here. Returns false: the connection ends with the tunnel.</summary>
    public static async Task<bool> RunAsync(RequestContext exchange, Verdict allowed, RequestTarget target, IInspectedSession runInside, CancellationToken stopping)
    {
        using var tunnel = new InspectedTunnel(exchange, allowed, target, exchange.Snapshot.Inspection!);
        Connection origin;
        try
        {
            origin = await tunnel.OpenOriginAsync(stopping).ConfigureAwait(false);
        }
        catch (ProxyErrorException e)
        {
            exchange.ReleaseTunnelSlot();
            await exchange.FailAsync(e, keepAlive: false, stopping).ConfigureAwait(false);
            return false;
        }
        catch
        {
            exchange.ReleaseTunnelSlot(); // a stop cancelling the dial, or any other failure: the slots come back, as ConnectTunnel gives them back
            throw;
        }

        tunnel.ReturnUpstream(origin);
        System.Net.IPAddress peer = origin.Remote.Address;
        exchange.Head.Fields.Clear();
        using TunnelTracking tracking = exchange.TrackTunnel();
        Connection client = exchange.Client;
        try
        {
            await client.Stream.WriteAsync(ConnectTunnel.Established, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            exchange.Log(SquidResult.None, 200, peer, contentType: null, ProxyErrorKind.ConnectionTerminated);
            return false;
        }

        var handshaking = new HandshakeStream(new ConnectionStream(client));
        var tls = new SslStream(handshaking, leaveInnerStreamOpen: false);
        string? refused = null;
        string? unminted = null;
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            handshake.CancelAfter(exchange.Timeouts.RequestHeaders);
            try
            {
                await tls.AuthenticateAsServerAsync(
                    async (stream, hello, state, ct) =>
                    {
                        // The policy decided on the CONNECT's host: a ClientHello for another name is domain fronting.
                        string sni = hello.ServerName ?? "";
                        if (sni.Length > 0 && !SameHost(sni, target))
                        {
                            refused = $"the client asked TLS for {sni} inside a tunnel to {target.AuthorityWithPort}";
                            throw new AuthenticationException(refused);
                        }

                        try
                        {
                            return await tunnel.Authority.ServerOptionsAsync(target.Host, target.Address).ConfigureAwait(false);
                        }
                        catch (Exception e) when (e is not OperationCanceledException)
                        {
                            // Not the client's fault: said so in the log instead of escaping the session unlogged.
                            unminted = $"no certificate could be minted for {target.Host}: {e.Message}";
                            throw new AuthenticationException(unminted, e);
                        }
                    },
                    null, handshake.Token).ConfigureAwait(false);
                handshaking.Handshaken();
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or System.Security.Cryptography.CryptographicException)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                if (unminted is not null)
                {
                    exchange.Log(SquidResult.None, 200, peer, contentType: null, ProxyErrorKind.InternalError, reason: unminted);
                    return false;
                }

                string reason = refused ?? (e is OperationCanceledException && !stopping.IsCancellationRequested
                    ? $"no TLS handshake from the client within {Policy.Config.Durations.Format(exchange.Timeouts.RequestHeaders)}"
                    : $"the client's TLS handshake failed ({e.InnerException?.Message ?? e.Message}); does it trust the inspection CA?");
                exchange.Log(SquidResult.None, 200, peer, contentType: null, ProxyErrorKind.ClientTlsFailed, reason: reason);
                return false;
            }
        }

        Connection inside = Connection.Layered(client, tls);
        await runInside.RunInsideAsync(inside, tunnel).ConfigureAwait(false);
        if (inside.Input.BytesRead == 0 && !stopping.IsCancellationRequested)
        {
            // Many clients (.NET's SslStream among them) check the certificate only once the handshake has completed on
            // our side: one that refused the leaf leaves without a byte, and that is all this side can see of it.
            exchange.Log(SquidResult.None, 200, peer, contentType: null, ProxyErrorKind.ClientTlsFailed,
                reason: "the client ended the tunnel after the TLS handshake without sending a request; does it trust the inspection CA?");
            return false;
        }

        exchange.Log(SquidResult.None, 200, peer, contentType: null, countBytes: false);
        return false;
    }

    private static bool SameHost(string sni, RequestTarget target) =>
        HostNames.TryNormalize(sni, out string normalised, out _, out _) && normalised == target.Host;
}
