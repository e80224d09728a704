using System.Collections.Immutable;

namespace Sluice.Client.Diagnostics;

/// <summary>The steps of a probe, in the order they happen.</summary>
public enum ProbePhase
{
    /// <summary>TCP connection to the proxy.</summary>
    ProxyConnect,

    /// <summary>TLS handshake with the proxy (an https proxy URL only).</summary>
    ProxyTls,

    /// <summary>Proxy authentication, decided by the CONNECT response (407 or not).</summary>
    ProxyAuth,

    /// <summary>The CONNECT request and the proxy's status.</summary>
    Connect,

    /// <summary>TLS handshake with the origin through the tunnel.</summary>
    OriginTls,
}

public enum PhaseOutcome
{
    Passed,
    Failed,

    /// <summary>Does not apply: no TLS to a plain-HTTP proxy, no origin TLS for an http:// target.</summary>
    NotApplicable,

    /// <summary>An earlier phase failed.</summary>
    NotReached,
}

/// <summary>One phase: how it went, how long it took (null when it took no round trip of its own), and in words.</summary>
public sealed record PhaseResult(ProbePhase Phase, PhaseOutcome Outcome, TimeSpan? Duration, string Detail);

/// <summary>Whom a presented certificate chains to.</summary>
public enum CertificateTrust
{
    /// <summary>The system's trusted roots.</summary>
    SystemRoots,

    /// <summary>Only the extra CA given to the probe (<c>--ca</c>).</summary>
    ExtraCa,

    /// <summary>Neither.</summary>
    Untrusted,
}

/// <summary>What a TLS peer presented, and how it was judged.</summary>
public sealed record CertificateReport(
    string Subject,
    string Issuer,
    string IssuerName,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    CertificateTrust Trust,
    bool NameMatches,
    string ChainProblem)
{
    /// <summary>The negotiated protocol (Tls12, Tls13), once the handshake completed.</summary>
    public string? Protocol { get; init; }

    public bool Valid => Trust != CertificateTrust.Untrusted && NameMatches;
}

public enum AuthState
{
    /// <summary>The proxy did not ask for credentials and none were sent.</summary>
    NotRequired,

    /// <summary>Credentials were sent and the proxy did not refuse them.</summary>
    Accepted,

    /// <summary>407 without credentials.</summary>
    Required,

    /// <summary>407 although credentials were sent.</summary>
    Rejected,

    /// <summary>The proxy was never asked.</summary>
    NotReached,
}

public enum Interception
{
    /// <summary>The origin's certificate chains to the system roots (or there was no origin TLS to look at).</summary>
    None,

    /// <summary>It chains only to <c>--ca</c>: a TLS-inspecting proxy (or a private CA) the caller chose to trust.</summary>
    TrustedViaCa,

    /// <summary>It chains to neither: a TLS-inspecting proxy whose CA is not trusted, or an origin with an unknown CA.</summary>
    Intercepted,
}

/// <summary>Why the proxy could not be reached, or not spoken to over TLS.</summary>
public enum ProxyFault
{
    /// <summary>It was reached (and its TLS handshake, if any, completed).</summary>
    None,

    /// <summary>The connection was refused: nothing listens there.</summary>
    Refused,

    /// <summary>No connection, or no TLS handshake, within the timeout.</summary>
    TimedOut,

    /// <summary>Any other failure to connect: the name does not resolve, no route to the host.</summary>
    Unreachable,

    /// <summary>The TLS handshake with the proxy failed: its certificate, or it does not speak TLS there.</summary>
    Tls,
}

/// <summary>The proxy's answer to CONNECT.</summary>
public sealed record ConnectResponse(int Status, string Reason, string? ProxyStatus, string? ProxyStatusError, string? ProxyStatusDetails, string? AuthenticateRealm)
{
    public bool Established => Status is >= 200 and < 300;
}

/// <summary>Everything one probe found, per phase and as facts, with the first failure and a one-line hint.</summary>
public sealed record ProbeResult
{
    public required ProbeTarget Target { get; init; }

    /// <summary>Every phase, in order, including those that did not apply or were not reached.</summary>
    public required ImmutableArray<PhaseResult> Phases { get; init; }

    public bool ProxyReachable { get; init; }

    /// <summary>How the proxy could not be reached or spoken to over TLS; <see cref="ProxyFault.None"/> when it could.</summary>
    public ProxyFault ProxyFault { get; init; }

    /// <summary>The proxy's certificate, for an https proxy that presented one.</summary>
    public CertificateReport? ProxyCertificate { get; init; }

    public AuthState Auth { get; init; } = AuthState.NotReached;

    public ConnectResponse? Connect { get; init; }

    /// <summary>The certificate the origin leg presented (the origin's, or the inspecting proxy's).</summary>
    public CertificateReport? OriginCertificate { get; init; }

    public Interception Interception { get; init; } = Interception.None;

    /// <summary>What went wrong first, in one line; null when every check passed.</summary>
    public string? Failure { get; init; }

    /// <summary>What to do about it, in one line.</summary>
    public string? Hint { get; init; }

    public bool Passed => Failure is null;

    public PhaseResult this[ProbePhase phase] => Phases.First(p => p.Phase == phase);
}
