using System.Net;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// One open FTP control tunnel as the permit store knows it: whose it is, where it goes, and the data ports its server
/// has named that no CONNECT has used yet (oldest first, at most <see cref="PassivePermits.PerChannel"/>). Read and
/// changed under the store's lock only.
/// </summary>
internal sealed class ControlChannel(IPAddress client, string? user, string host, IPAddress address, string control, string rule, TimeSpan lifetime)
{
    /// <summary>The client that opened the tunnel: only it may use the permits.</summary>
    public IPAddress Client { get; } = client;

    /// <summary>The authenticated user of the control CONNECT, if any: a data CONNECT must carry the same.</summary>
    public string? User { get; } = user;

    /// <summary>The control CONNECT's host name, normalised, as the client wrote it.</summary>
    public string Host { get; } = host;

    /// <summary>The address the control tunnel was dialled to: the one address permits lead to.</summary>
    public IPAddress Address { get; } = address;

    /// <summary>The control CONNECT's destination, <c>host:port</c>, for the log.</summary>
    public string Control { get; } = control;

    public string Rule { get; } = rule;

    public TimeSpan Lifetime { get; } = lifetime;

    /// <summary>Ports granted and not used, with the time (<see cref="TimeProvider.GetTimestamp"/>) each expires.</summary>
    public List<(int Port, long Expires)> Permits { get; } = new(PassivePermits.PerChannel);

    /// <summary>The tunnel has ended: nothing more is granted to it.</summary>
    public bool Closed { get; set; }

    /// <summary>Whether a data CONNECT's target is this tunnel's server: its host name, or its address as an IP literal.</summary>
    public bool Names(string host, IPAddress? literal) =>
        literal is null ? string.Equals(host, Host, StringComparison.Ordinal) : PassivePermits.Same(literal, Address);
}
