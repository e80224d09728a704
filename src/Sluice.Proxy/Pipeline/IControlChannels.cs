using System.Net;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Pipeline;

/// <summary>Where an allowed <c>ftp: passive</c> tunnel registers as a control channel whose replies grant permits.</summary>
internal interface IControlChannels : IPassivePermits
{
    /// <summary>
    /// Starts watching a control tunnel: the returned observer reads the server's bytes, and disposing it revokes the
    /// permits it granted. Null when the tunnel cannot grant any: it goes through a parent proxy, whose address is
    /// not the FTP server's.
    /// </summary>
    /// <param name="control">The control CONNECT's verdict (<see cref="Verdict.FtpPassive"/>): client, user, destination, rule.</param>
    /// <param name="address">The address the control tunnel was dialled to.</param>
    /// <param name="lifetime">How long a permit waits for its CONNECT (<c>ftp.permitLifetime</c> of the tunnel's snapshot).</param>
    IRelayObserver? Open(Verdict control, IPAddress address, TimeSpan lifetime);
}
