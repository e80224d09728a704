using System.Net;
using Microsoft.Extensions.Logging;

namespace Sluice.Proxy.Logging;

/// <summary>Operational log events (not the access log). Source-generated: nothing is formatted unless enabled.</summary>
internal static partial class ProxyLog
{
    [LoggerMessage(1, LogLevel.Debug, "Listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    /// <summary>At most once per interval per listener, however often accepting fails (see Listening/AcceptBackoff).</summary>
    [LoggerMessage(2, LogLevel.Warning, "Not accepting on {Endpoint}: {Reason} ({Count} times since the last report); backing off, open connections are still served")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, long count, string reason);

    [LoggerMessage(3, LogLevel.Error, "Connection from {Client} failed unexpectedly")]
    public static partial void SessionCrashed(ILogger logger, Exception exception, IPEndPoint client);

    [LoggerMessage(4, LogLevel.Information, "Stopping: waiting up to {Seconds}s for {Count} connections to finish")]
    public static partial void Draining(ILogger logger, double seconds, int count);

    [LoggerMessage(5, LogLevel.Warning, "The drain time ran out with {Count} connections still open: cutting them (requests and tunnels in progress are reset)")]
    public static partial void DrainIncomplete(ILogger logger, int count);

    [LoggerMessage(6, LogLevel.Warning, "access log: {Count} lines dropped in the last {Period}: the output cannot keep up")]
    public static partial void AccessLogDropped(ILogger logger, long count, string period);

    [LoggerMessage(7, LogLevel.Information, "{Message}")]
    public static partial void ConfigReloaded(ILogger logger, string message);

    [LoggerMessage(8, LogLevel.Error, "{Message}")]
    public static partial void ConfigRefused(ILogger logger, string message);

    [LoggerMessage(9, LogLevel.Warning, "TLS handshake from {Client} failed: {Reason}")]
    public static partial void TlsHandshakeFailed(ILogger logger, string client, string reason);

    /// <summary>A watched file (certificate, key, CRL, users file) changed but could not be used; the old one stays.</summary>
    [LoggerMessage(10, LogLevel.Warning, "{Message}")]
    public static partial void FileWarning(ILogger logger, string message);

    [LoggerMessage(11, LogLevel.Error, "The access log cannot be written ({Message}); lines are being dropped")]
    public static partial void AccessLogWriteFailed(ILogger logger, string message);

    [LoggerMessage(12, LogLevel.Warning, "Refused a connection from {Client}: limit {Limit} reached")]
    public static partial void LimitRefused(ILogger logger, string client, string limit);

    [LoggerMessage(13, LogLevel.Warning, "The open-file limit {Limit} leaves room for {Capped} client connections ({InUse} descriptors in use at start, {Headroom} kept for files and the runtime, and a second descriptor upstream for each connection): limits.maxConnections {Configured} capped to {Capped}; raise the limit (ulimit -n, LimitNOFILE=) to lift it")]
    public static partial void ConnectionsCapped(ILogger logger, long limit, int inUse, long headroom, int configured, int capped);

    [LoggerMessage(14, LogLevel.Information, "Accepting on {Endpoint} again after {Count} refused or failed accepts")]
    public static partial void AcceptRecovered(ILogger logger, string endpoint, long count);

    /// <summary>A parent proxy was marked down, or came back up.</summary>
    [LoggerMessage(15, LogLevel.Warning, "{Message}")]
    public static partial void ParentChanged(ILogger logger, string message);

    /// <summary>At start, and on a reload that turns it on: nothing the rules deny is refused.</summary>
    [LoggerMessage(16, LogLevel.Warning, "mode: report: the rules refuse nothing; every deny is let through and logged as a would-deny (code tagged _REPORTED)")]
    public static partial void PolicyReporting(ILogger logger);

    /// <summary>An FTP server's 227 named another address than its own: the gateway's data connection went to its own.</summary>
    [LoggerMessage(30, LogLevel.Warning, "FTP server {Server} named {Named} in its PASV reply; the data connection goes to {Address}, the control connection's address, instead")]
    public static partial void FtpPassiveAddressIgnored(ILogger logger, string server, string named, string address);
}
