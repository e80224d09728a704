using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Config;
using Sluice.Proxy.Errors;

namespace Sluice.Proxy.Upstream;

/// <summary>
/// TCP to the first of a list of checked addresses that accepts, within what is left of the connect timeout: the one
/// connect loop for origins and parent proxies. Failures are the direct kinds (refused, timeout, unreachable) in words
/// that name <c>what</c> was connected to; a parent's dialer turns them into its own kinds.
/// </summary>
internal static class TcpConnector
{
    /// <param name="what">How the messages name the peer: <c>host:port</c>, or <c>parent proxy host:port</c>.</param>
    /// <param name="connectTimeout">The whole budget (lookup included), for the message.</param>
    /// <param name="left">What is left of it now.</param>
    public static async Task<Socket> ConnectAsync(IReadOnlyList<IPAddress> addresses, int port, string what, TimeSpan connectTimeout, TimeSpan left, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        ProxyErrorException? last = null;
        foreach (IPAddress address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token).ConfigureAwait(false);
                return socket;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new ProxyErrorException(ProxyErrorKind.ConnectionTimeout, $"no connection to {what} ({address}) within {Durations.Format(connectTimeout)}");
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => new ProxyErrorException(ProxyErrorKind.ConnectionRefused, $"{what} ({address}) refused the connection"),
                    SocketError.TimedOut => new ProxyErrorException(ProxyErrorKind.ConnectionTimeout, $"connecting to {what} ({address}) timed out"),
                    _ => new ProxyErrorException(ProxyErrorKind.DestinationUnreachable, $"cannot connect to {what} ({address}): {e.SocketErrorCode}"),
                };
            }
        }

        throw last ?? new ProxyErrorException(ProxyErrorKind.DestinationUnreachable, $"no address to connect to for {what}");
    }
}
