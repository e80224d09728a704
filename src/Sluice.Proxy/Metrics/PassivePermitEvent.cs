namespace Sluice.Proxy.Metrics;

/// <summary>What happened to an FTP passive permit: the <c>event</c> label of <c>sluice_ftp_passive_permits_total</c>.</summary>
internal enum PassivePermitEvent
{
    /// <summary>A 227 or 229 reply on a control tunnel granted one.</summary>
    Granted,

    /// <summary>A data CONNECT used it.</summary>
    Used,

    /// <summary>No CONNECT came for it within <c>ftp.permitLifetime</c>.</summary>
    Expired,

    /// <summary>The control tunnel ended before a CONNECT used it.</summary>
    Revoked,

    /// <summary>A 227 reply named an address other than the control tunnel's: refused.</summary>
    Bounce,

    /// <summary>Over a bound: the oldest of a control tunnel's permits, or a new one when the server holds the most it keeps.</summary>
    Dropped,
}
