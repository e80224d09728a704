using Microsoft.Extensions.Logging;

namespace Sluice.Proxy.Ftp;

/// <summary>Operational log events of passive permits (source-generated; event ids 1701-1709 are theirs).</summary>
internal static partial class PassiveLog
{
    [LoggerMessage(1701, LogLevel.Warning, "ftp passive: the server behind {Control} (rule {Rule}) named {Named} in a 227 reply, not the control connection's address {Address}: no permit (an FTP bounce is never followed)")]
    public static partial void Bounce(ILogger logger, string control, string rule, string named, string address);

    [LoggerMessage(1702, LogLevel.Information, "ftp passive: the control connection to {Control} (rule {Rule}) switched to TLS (234): its replies cannot be read, so it grants no data-port permits; a rule allowing the server's data ports is needed for it")]
    public static partial void Encrypted(ILogger logger, string control, string rule);

    [LoggerMessage(1703, LogLevel.Warning, "ftp passive: {Total} permits are outstanding, the most the proxy keeps; a passive reply from {Control} (rule {Rule}) granted none")]
    public static partial void PermitsFull(ILogger logger, string control, string rule, int total);

    [LoggerMessage(1704, LogLevel.Information, "ftp passive: the control connection to {Control} (rule {Rule}) goes through a parent proxy; passive permits are granted only to direct control connections")]
    public static partial void ThroughParent(ILogger logger, string control, string rule);

    [LoggerMessage(1705, LogLevel.Warning, "ftp passive: the server behind {Control} (rule {Rule}) named port {Port} in a passive reply: no permit below port 1024 (passive data ports are ephemeral; a low one would reach another service of that host)")]
    public static partial void Privileged(ILogger logger, string control, string rule, int port);
}
