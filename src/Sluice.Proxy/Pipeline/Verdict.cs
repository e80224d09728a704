using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;

namespace Sluice.Proxy.Pipeline;

/// <summary>What happens to the bytes of an allowed tunnel.</summary>
public enum TlsHandling
{
    /// <summary>Bytes are relayed as they are (the proxy never sees inside TLS).</summary>
    Tunnel,

    /// <summary>The proxy terminates TLS with a minted certificate and decides each request inside (<c>tls: inspect</c>).</summary>
    Inspect,
}

/// <summary>The step of <see cref="RequestPipeline"/> a verdict has come to: the one that refused, or how far it got.</summary>
public enum VerdictStep
{
    /// <summary>Refused for the client's identity: missing or wrong credentials (407), too many failures (429).</summary>
    Identity,

    /// <summary>Decided by the rules: refused (403, or 407 when only a rule naming users could allow it), or allowed and not yet resolved.</summary>
    Rules,

    /// <summary>Refused because the name has no address (502) or no answer came in time (504).</summary>
    Resolution,

    /// <summary>Refused because the address guard refused every address (403).</summary>
    AddressGuard,

    /// <summary>Allowed, resolved and checked: the proxy connects to one of <see cref="Verdict.Permitted"/>.</summary>
    Ready,
}

/// <summary>One resolved address and what the address guard said about it.</summary>
public readonly record struct AddressCheck(IPAddress Address, Decision Decision);

/// <summary>
/// What the proxy does with a request, as <see cref="RequestPipeline"/> decided it: refused with an error kind (which
/// <see cref="ProxyErrors"/> turns into a status and a Proxy-Status type), or allowed with a route and a TLS handling.
/// The proxy acts on it and <c>sluice explain</c> prints it; neither decides anything itself.
/// </summary>
public sealed class Verdict
{
    internal Verdict(RequestFacts facts, VerdictStep step, Decision? rules, ProxyErrorKind? refusal, string detail)
    {
        Facts = facts;
        Step = step;
        Rules = rules;
        Refusal = refusal;
        Detail = detail;
    }

    public RequestFacts Facts { get; }

    public VerdictStep Step { get; }

    /// <summary>The rules' decision; null when the identity step refused before the rules were asked.</summary>
    public Decision? Rules { get; }

    /// <summary>Set when the request is refused: the error the client gets.</summary>
    public ProxyErrorKind? Refusal { get; }

    public bool Refused => Refusal is not null;

    /// <summary>The sentence for the error body and the log: what decided and why.</summary>
    public string Detail { get; }

    /// <summary>The name of the rule that decided, if one did.</summary>
    public string? Rule => Rules?.Rule;

    /// <summary>Header fields the refusal carries: Proxy-Authenticate for a 407, Retry-After for a 429.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; init; } = [];

    public Route Route { get; init; } = Route.Direct;

    public TlsHandling Tls { get; init; } = TlsHandling.Tunnel;

    /// <summary>Every address the destination resolved to (or its IP literal) with the guard's decision; empty before resolution.</summary>
    public ImmutableArray<AddressCheck> Addresses { get; init; } = [];

    /// <summary>The addresses the guard permitted, in the resolver's order: the only ones the proxy may connect to.</summary>
    public IReadOnlyList<IPAddress> Permitted { get; init; } = [];

    /// <summary>
    /// True when the destination goes to a parent proxy by name without a local answer to check: the upstream says
    /// <c>checkDestinations: parent</c>, or the name did not resolve here (split-horizon DNS) and the parent resolves it.
    /// </summary>
    public bool ResolvedByParent { get; init; }

    /// <summary>Set for a CONNECT let through by an FTP control tunnel's passive permit: the permit it used.</summary>
    public PassivePermit? Permit { get; init; }

    /// <summary>The rule that decided says <c>ftp: passive</c>: the tunnel is read as an FTP control channel.</summary>
    public bool FtpPassive { get; init; }

    /// <summary>
    /// For a refused CONNECT: an <c>ftp: passive</c> rule for the same host, whose control tunnels could permit this
    /// port (what <c>sluice explain</c>, which sees no open tunnels, tells about it).
    /// </summary>
    public string? PermitsFrom { get; init; }

    /// <summary>
    /// Set for a would-deny: the policy reports rather than enforces (<c>action: report</c>, <c>mode: report</c>), so the
    /// request goes on, and this is the refusal enforcing would have answered (403, or the 407 challenge).
    /// </summary>
    public ProxyErrorKind? WouldRefuse { get; init; }

    /// <summary>The client-facing shape of the refusal, or null when allowed.</summary>
    public ProxyErrorInfo? Error => Refusal is { } kind ? ProxyErrors.Describe(kind) : null;

    /// <summary>The exception the proxy's exchange throws to answer a refusal (one place writes error responses).</summary>
    internal ProxyErrorException ToException() =>
        new(Refusal ?? throw new InvalidOperationException("the request was allowed"), Detail, Rule, Fields);
}
