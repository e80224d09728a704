using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Transport;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// Opens the gateway's passive data connections. The data connection always goes to the address of the control
/// connection (curl's <c>--ftp-skip-pasv-ip</c>): a 227 naming another address is logged and not dialled, so an FTP
/// server can never point the proxy at a third host (the FTP bounce, RFC 2577 §3). The port is checked by the address
/// guard with that address before connecting, and the connect timeout bounds the connection.
/// </summary>
internal static class FtpGatewayData
{
    public static async Task<Connection> OpenAsync(FtpControlConnection control, Pipeline.RequestPipeline pipeline, TimeSpan connectTimeout, ILogger logger, CancellationToken cancellationToken)
    {
        (int port, IPAddress? named) = await control.EnterPassiveAsync().ConfigureAwait(false);
        IPAddress address = control.Address;
        if (named is not null && !PassivePermits.Same(named, address)) // the comparison the permits make, mapped forms too
        {
            Logging.ProxyLog.FtpPassiveAddressIgnored(logger, control.Server, named.ToString(), address.ToString());
        }

        if (port < FtpReply.LowestDataPort)
        {
            throw new ProxyErrorException(ProxyErrorKind.FtpUnavailable, $"{control.Server} named data port {port} in its passive reply: below {FtpReply.LowestDataPort}, a data port would reach another service of that host, so it is not connected to");
        }

        Decision check = pipeline.Guard.Check(address, port);
        if (!check.Allowed)
        {
            throw new ProxyErrorException(ProxyErrorKind.DestinationProhibited, $"the FTP data connection to {address} port {port} is refused: {check.Detail}");
        }

        return await TcpConnector.ConnectAsync([address], port, $"the FTP data port of {control.Server}", connectTimeout, connectTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One read of a data connection, within the idle timeout; 0 at its end.</summary>
    public static async ValueTask<int> ReadAsync(Connection data, Memory<byte> buffer, string server, TimeSpan idle, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(idle);
        try
        {
            return await data.Stream.ReadAsync(buffer, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            throw new ProxyErrorException(ProxyErrorKind.UpstreamTimeout, $"the FTP data connection from {server} was silent for {Policy.Config.Durations.Format(idle)}");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, $"the FTP data connection from {server} failed mid-transfer");
        }
    }
}
