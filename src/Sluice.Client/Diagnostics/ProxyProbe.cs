using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sluice.Client.Diagnostics;

/// <summary>How to probe: the proxy, the extra CA, and the limits.</summary>
public sealed record ProbeOptions
{
    /// <summary>The proxy: host, port, type (TLS to the proxy for https), credentials, and its CA (CaPem).</summary>
    public required ProxySettings Proxy { get; init; }

    /// <summary>
    /// Extra trusted CAs (<c>--ca</c>): trusted for the proxy's certificate (with the system roots and
    /// <see cref="ProxySettings.CaPem"/>), and recognised on the origin leg, where a certificate that chains only to
    /// them is reported as "intercepted but trusted".
    /// </summary>
    public X509Certificate2Collection? TrustedCa { get; init; }

    /// <summary>Limit for each phase that waits on the network.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many targets are probed at once by <see cref="ProxyProbe.ProbeAllAsync"/>.</summary>
    public int MaxConcurrency { get; init; } = 8;
}

/// <summary>
/// Checks destinations through a proxy the way a client would use it, one phase at a time, over raw sockets so each
/// phase is observable and timed: TCP to the proxy, TLS to the proxy (https proxies), a CONNECT written by hand
/// (with Basic credentials when given) and its status, Proxy-Status and challenge, then the origin's TLS handshake
/// through the tunnel with SNI = the target's host. The origin leg records what certificate was presented and
/// whom it chains to; no application data is ever sent, and the TLS session is closed with close_notify.
/// </summary>
public sealed class ProxyProbe
{
    private const int MaxResponseHead = 64 * 1024;

    private readonly ProbeOptions _options;
    private readonly X509Certificate2Collection _proxyRoots;

    public ProxyProbe(ProbeOptions options)
    {
        _options = options;
        _proxyRoots = [];
        if (options.TrustedCa is not null)
        {
            _proxyRoots.AddRange(options.TrustedCa);
        }

        if (options.Proxy.CaPem is not null)
        {
            _proxyRoots.ImportFromPem(options.Proxy.CaPem);
        }
    }

    /// <summary>Every target, at most <see cref="ProbeOptions.MaxConcurrency"/> at a time; results in the targets' order.</summary>
    public async Task<ImmutableArray<ProbeResult>> ProbeAllAsync(IReadOnlyList<ProbeTarget> targets, Action<ProbeResult>? completed = null, CancellationToken cancellationToken = default)
    {
        var results = new ProbeResult[targets.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.MaxConcurrency), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, targets.Count), parallel, async (i, ct) =>
        {
            results[i] = await ProbeAsync(targets[i], ct).ConfigureAwait(false);
            completed?.Invoke(results[i]);
        }).ConfigureAwait(false);
        return [.. results];
    }

    public async Task<ProbeResult> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken = default)
    {
        var findings = new Findings(target);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            stream = await ConnectProxyAsync(socket, findings, cancellationToken).ConfigureAwait(false);
            if (stream is null)
            {
                return findings.Build(_options.Proxy);
            }

            stream = await ProxyTlsAsync(stream, findings, cancellationToken).ConfigureAwait(false);
            if (stream is null || !await ConnectAsync(stream, target, findings, cancellationToken).ConfigureAwait(false))
            {
                return findings.Build(_options.Proxy);
            }

            if (!target.Tls)
            {
                findings.Add(ProbePhase.OriginTls, PhaseOutcome.NotApplicable, null, "plain HTTP destination: no origin TLS");
                return findings.Build(_options.Proxy);
            }

            stream = await OriginTlsAsync(stream, target, findings, cancellationToken).ConfigureAwait(false);
            return findings.Build(_options.Proxy);
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }
        }
    }

    private async Task<Stream?> ConnectProxyAsync(Socket socket, Findings findings, CancellationToken cancellationToken)
    {
        ProxySettings proxy = _options.Proxy;
        EndPoint endpoint = IPAddress.TryParse(proxy.Host, out IPAddress? address) ? new IPEndPoint(address, proxy.Port) : new DnsEndPoint(proxy.Host, proxy.Port);
        var clock = Stopwatch.StartNew();
        try
        {
            using CancellationTokenSource phase = PhaseToken(cancellationToken);
            await socket.ConnectAsync(endpoint, phase.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            findings.ProxyFault = e switch
            {
                OperationCanceledException or SocketException { SocketErrorCode: SocketError.TimedOut } => ProxyFault.TimedOut,
                SocketException { SocketErrorCode: SocketError.ConnectionRefused } => ProxyFault.Refused,
                _ => ProxyFault.Unreachable,
            };
            findings.Fail(ProbePhase.ProxyConnect, clock.Elapsed, $"cannot connect to the proxy {proxy.ProxyUri.Authority}: {Describe(e)}", ProbeHints.ProxyUnreachable);
            return null;
        }

        findings.ProxyReachable = true;
        findings.Add(ProbePhase.ProxyConnect, PhaseOutcome.Passed, clock.Elapsed, $"connected to {socket.RemoteEndPoint}");
        return new NetworkStream(socket, ownsSocket: true);
    }

    private async Task<Stream?> ProxyTlsAsync(Stream network, Findings findings, CancellationToken cancellationToken)
    {
        ProxySettings proxy = _options.Proxy;
        if (proxy.Type != ProxyType.Https)
        {
            findings.Add(ProbePhase.ProxyTls, PhaseOutcome.NotApplicable, null, "plain HTTP proxy: no TLS to the proxy");
            return network;
        }

        CertificateReport? seen = null;
        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        var clock = Stopwatch.StartNew();
        try
        {
            using CancellationTokenSource phase = PhaseToken(cancellationToken);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = proxy.Host,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                {
                    seen = CertificateJudge.Judge(certificate, chain, errors, _proxyRoots);
                    return !proxy.RejectUnauthorized || seen is { Valid: true };
                },
            }, phase.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            findings.ProxyFault = e is OperationCanceledException ? ProxyFault.TimedOut : ProxyFault.Tls;
            findings.ProxyCertificate = seen;
            if (seen is { NameMatches: false })
            {
                findings.Fail(ProbePhase.ProxyTls, clock.Elapsed, $"the proxy's certificate does not name {proxy.Host}", ProbeHints.ProxyTlsName);
            }
            else if (seen is { Trust: CertificateTrust.Untrusted })
            {
                findings.Fail(ProbePhase.ProxyTls, clock.Elapsed, $"the proxy's certificate, issued by {seen.IssuerName}, chains neither to the system roots nor to --ca ({seen.ChainProblem})", ProbeHints.ProxyTlsUntrusted);
            }
            else
            {
                findings.Fail(ProbePhase.ProxyTls, clock.Elapsed, $"TLS handshake with the proxy failed: {Describe(e)}", ProbeHints.ProxyTlsFailed);
            }

            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }

        findings.ProxyCertificate = seen is null ? null : seen with { Protocol = tls.SslProtocol.ToString() };
        string trust = seen is null ? "not verified" : TrustText(seen.Trust);
        findings.Add(ProbePhase.ProxyTls, PhaseOutcome.Passed, clock.Elapsed, $"{tls.SslProtocol}, certificate issued by {seen?.IssuerName ?? "?"} ({trust})");
        return tls;
    }

    /// <summary>Writes the CONNECT and reads the answer; true when the tunnel is open.</summary>
    private async Task<bool> ConnectAsync(Stream stream, ProbeTarget target, Findings findings, CancellationToken cancellationToken)
    {
        NetworkCredential? credentials = _options.Proxy.Credentials;
        var request = new StringBuilder();
        request.Append(CultureInfo.InvariantCulture, $"CONNECT {target.Authority} HTTP/1.1\r\n");
        request.Append(CultureInfo.InvariantCulture, $"Host: {target.Authority}\r\n");
        request.Append("User-Agent: sluice-doctor\r\n");
        if (credentials is not null)
        {
            string token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}"));
            request.Append(CultureInfo.InvariantCulture, $"Proxy-Authorization: Basic {token}\r\n");
        }

        request.Append("\r\n");
        ConnectResponse response;
        var clock = Stopwatch.StartNew();
        try
        {
            using CancellationTokenSource phase = PhaseToken(cancellationToken);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), phase.Token).ConfigureAwait(false);
            await stream.FlushAsync(phase.Token).ConfigureAwait(false);
            response = ParseResponse(await ReadHeadAsync(stream, phase.Token).ConfigureAwait(false));
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            string hint = _options.Proxy.Type == ProxyType.Http ? ProbeHints.ProxyClosed : "the proxy did not answer CONNECT: is this a proxy?";
            findings.Add(ProbePhase.ProxyAuth, PhaseOutcome.NotReached, null, "no answer from the proxy");
            findings.Fail(ProbePhase.Connect, clock.Elapsed, $"no answer to CONNECT: {Describe(e)}", hint);
            return false;
        }

        TimeSpan elapsed = clock.Elapsed;
        findings.Connect = response;
        string status = $"{response.Status} {response.Reason}{(response.ProxyStatusError is null ? "" : $" ({response.ProxyStatusError}{(response.ProxyStatusDetails is { Length: > 0 } d ? $": {d}" : "")})")}";
        if (response.Status == 407)
        {
            findings.Auth = credentials is null ? AuthState.Required : AuthState.Rejected;
            string realm = response.AuthenticateRealm is null ? "" : $", realm \"{response.AuthenticateRealm}\"";
            findings.Fail(ProbePhase.ProxyAuth, null,
                credentials is null ? $"the proxy requires authentication (407{realm})" : $"the proxy refused the credentials of {credentials.UserName} (407{realm})",
                credentials is null ? ProbeHints.NeedsUser : ProbeHints.BadCredentials);
            findings.Fail(ProbePhase.Connect, elapsed, status, ProbeHints.NeedsUser);
            return false;
        }

        findings.Auth = credentials is null ? AuthState.NotRequired : AuthState.Accepted;
        findings.Add(ProbePhase.ProxyAuth, PhaseOutcome.Passed, null, credentials is null ? "no credentials asked for" : $"accepted {credentials.UserName}");
        if (!response.Established)
        {
            findings.Fail(ProbePhase.Connect, elapsed, status, ProbeHints.ForConnect(response.Status, response.ProxyStatusError));
            return false;
        }

        findings.Add(ProbePhase.Connect, PhaseOutcome.Passed, elapsed, status);
        return true;
    }

    private async Task<Stream> OriginTlsAsync(Stream tunnel, ProbeTarget target, Findings findings, CancellationToken cancellationToken)
    {
        CertificateReport? seen = null;
        var tls = new SslStream(tunnel, leaveInnerStreamOpen: false);
        var clock = Stopwatch.StartNew();
        try
        {
            using CancellationTokenSource phase = PhaseToken(cancellationToken);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = target.Host,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Record(CertificateJudge.Judge(certificate, chain, errors, _options.TrustedCa), out seen),
            }, phase.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            findings.OriginCertificate = seen;
            findings.Fail(ProbePhase.OriginTls, clock.Elapsed, $"TLS handshake with {target.Host} through the tunnel failed: {Describe(e)}", ProbeHints.OriginTlsFailed);
            return tls;
        }

        TimeSpan elapsed = clock.Elapsed;
        findings.OriginCertificate = seen is null ? null : seen with { Protocol = tls.SslProtocol.ToString() };
        try
        {
            // close_notify, then the tunnel closes: nothing was sent after the handshake.
            using CancellationTokenSource close = PhaseToken(cancellationToken);
            await tls.ShutdownAsync().WaitAsync(close.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The handshake is what was checked; a peer that resets on close changes nothing.
        }

        if (seen is null)
        {
            findings.Fail(ProbePhase.OriginTls, elapsed, $"{target.Host} presented no certificate", ProbeHints.OriginTlsFailed);
        }
        else if (seen.Trust == CertificateTrust.Untrusted)
        {
            findings.Interception = Interception.Intercepted;
            findings.Fail(ProbePhase.OriginTls, elapsed,
                $"TLS INTERCEPTION: the certificate presented for {target.Host} is issued by {seen.IssuerName}, which chains neither to the system roots nor to --ca ({seen.ChainProblem})",
                ProbeHints.OriginUntrusted);
        }
        else if (!seen.NameMatches)
        {
            findings.Interception = seen.Trust == CertificateTrust.ExtraCa ? Interception.TrustedViaCa : Interception.None;
            findings.Fail(ProbePhase.OriginTls, elapsed, $"the certificate presented (subject {seen.Subject}, issued by {seen.IssuerName}) does not name {target.Host}", ProbeHints.OriginName);
        }
        else
        {
            findings.Interception = seen.Trust == CertificateTrust.ExtraCa ? Interception.TrustedViaCa : Interception.None;
            string how = seen.Trust == CertificateTrust.ExtraCa ? "chains only to --ca: intercepted but trusted via --ca" : "chains to the system roots";
            findings.Add(ProbePhase.OriginTls, PhaseOutcome.Passed, elapsed, $"{tls.SslProtocol}, certificate issued by {seen.IssuerName} ({how})");
        }

        return tls;
    }

    // The origin leg never decides: it records what was presented and lets the handshake finish, so the probe can
    // say whose certificate it was. No application data is sent over it, so accepting it exposes nothing.
    private static bool Record(CertificateReport? report, out CertificateReport? seen)
    {
        seen = report;
        return report is not null;
    }

    private CancellationTokenSource PhaseToken(CancellationToken cancellationToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(_options.Timeout);
        return source;
    }

    private string Describe(Exception e) => e switch
    {
        OperationCanceledException => $"timed out after {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s",
        SocketException s => s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.TimedOut => "timed out",
            SocketError.HostNotFound or SocketError.NoData => "the name does not resolve",
            _ => s.Message,
        },
        AuthenticationException { InnerException: { } inner } => $"{e.Message} ({inner.Message})",
        IOException { InnerException: SocketException s } => Describe(s),
        _ => e.Message,
    };

    private static string TrustText(CertificateTrust trust) => trust switch
    {
        CertificateTrust.SystemRoots => "trusted via the system roots",
        CertificateTrust.ExtraCa => "trusted via --ca",
        _ => "not trusted",
    };

    /// <summary>The response head, byte by byte: nothing past it is consumed, so the tunnel's first byte stays unread.</summary>
    private static async Task<string> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>(256);
        byte[] one = new byte[1];
        while (true)
        {
            int read = await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException(head.Count == 0 ? "the proxy closed the connection without answering" : "the proxy closed the connection in the middle of its answer");
            }

            head.Add(one[0]);
            int n = head.Count;
            if (n >= 4 && head[n - 4] == '\r' && head[n - 3] == '\n' && head[n - 2] == '\r' && head[n - 1] == '\n')
            {
                return Encoding.Latin1.GetString([.. head]);
            }

            if (n > MaxResponseHead)
            {
                throw new IOException($"the proxy's answer has a header section over {MaxResponseHead} bytes");
            }
        }
    }

    internal static ConnectResponse ParseResponse(string head)
    {
        string[] lines = head.Split("\r\n");
        string[] statusLine = lines[0].Split(' ', 3);
        if (statusLine.Length < 2 || !statusLine[0].StartsWith("HTTP/", StringComparison.Ordinal)
            || !int.TryParse(statusLine[1], NumberStyles.None, CultureInfo.InvariantCulture, out int status))
        {
            throw new IOException($"the answer is not HTTP: '{Printable(lines[0])}'");
        }

        var proxyStatus = new List<string>();
        string? realm = null;
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }

            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("Proxy-Status", StringComparison.OrdinalIgnoreCase))
            {
                proxyStatus.Add(value);
            }
            else if (name.Equals("Proxy-Authenticate", StringComparison.OrdinalIgnoreCase) && realm is null)
            {
                realm = ProxyStatusField.Parameter(value, "realm");
            }
        }

        string? field = proxyStatus.Count == 0 ? null : string.Join(", ", proxyStatus);
        (string? error, string? details) = field is null ? (null, null) : ProxyStatusField.Error(field);
        return new ConnectResponse(status, statusLine.Length > 2 ? statusLine[2] : "", field, error, details, realm);
    }

    private static string Printable(string text) => new(text.Take(80).Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());

    /// <summary>What one probe has found so far.</summary>
    private sealed class Findings(ProbeTarget target)
    {
        private readonly List<PhaseResult> _phases = [];
        private string? _failure;
        private string? _hint;

        public bool ProxyReachable { get; set; }

        public ProxyFault ProxyFault { get; set; }

        public CertificateReport? ProxyCertificate { get; set; }

        public AuthState Auth { get; set; } = AuthState.NotReached;

        public ConnectResponse? Connect { get; set; }

        public CertificateReport? OriginCertificate { get; set; }

        public Interception Interception { get; set; }

        public void Add(ProbePhase phase, PhaseOutcome outcome, TimeSpan? duration, string detail) =>
            _phases.Add(new PhaseResult(phase, outcome, duration, detail));

        public void Fail(ProbePhase phase, TimeSpan? duration, string detail, string hint)
        {
            Add(phase, PhaseOutcome.Failed, duration, detail);
            _failure ??= detail;
            _hint ??= hint;
        }

        public ProbeResult Build(ProxySettings proxy)
        {
            var phases = Enum.GetValues<ProbePhase>()
                .Select(p => _phases.FirstOrDefault(r => r.Phase == p) ?? new PhaseResult(p, PhaseOutcome.NotReached, null, "not reached"))
                .ToImmutableArray();
            string? failure = _failure;
            string? hint = _hint;
            if (proxy.Type == ProxyType.Https && ProbeHints.ServiceWithoutHttpsProxySupport(target.Host) is { } service)
            {
                // Whatever the probe saw, the service's own clients will fail through a TLS proxy.
                failure = $"{service} clients cannot use an HTTPS proxy{(failure is null ? "" : $"; also: {failure}")}";
                hint = ProbeHints.NoHttpsProxySupport(target.Host);
            }

            return new ProbeResult
            {
                Target = target,
                Phases = phases,
                ProxyReachable = ProxyReachable,
                ProxyFault = ProxyFault,
                ProxyCertificate = ProxyCertificate,
                Auth = Auth,
                Connect = Connect,
                OriginCertificate = OriginCertificate,
                Interception = Interception,
                Failure = failure,
                Hint = hint,
            };
        }
    }
}
