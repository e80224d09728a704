using System.Net;
using Sluice.Policy.Decisions;

namespace Sluice.Proxy.Pipeline;

/// <summary>
/// The data-port permits the server holds for open FTP control tunnels (rules with <c>ftp: passive</c>). Runtime state
/// of the proxy, not of a configuration: <see cref="RequestPipeline"/> consults it for a CONNECT the rules refuse, so
/// the verdict still comes from the one decision path; <c>sluice explain</c> runs with none.
/// </summary>
public interface IPassivePermits
{
    /// <summary>Consumes the permit that lets this CONNECT through, if a control tunnel of the same client granted one.</summary>
    PassivePermit? TryUse(RequestFacts request);
}

/// <summary>A used permit: the rule of the control tunnel that granted it, that tunnel's destination, and the address it was dialled to.</summary>
/// <param name="Control">The control CONNECT's destination as the client wrote it (<c>ftp.partner.example:21</c>).</param>
/// <param name="Address">The control tunnel's address: the data connection goes there, without a second lookup.</param>
public sealed record PassivePermit(string Rule, string Control, IPAddress Address)
{
    /// <summary>The sentence for the log and <c>sluice explain</c>.</summary>
    public string Detail => $"ftp passive permit from the control connection to {Control} (rule {Rule})";
}
