namespace Sluice.Proxy.Errors;

/// <summary>Every way an exchange can fail that the client is told about. Each maps to one row of <see cref="ProxyErrors"/>.</summary>
public enum ProxyErrorKind
{
    MalformedRequest,
    NotAProxyRequest,
    RequestLineTooLong,
    HeaderSectionTooLarge,
    HeaderTimeout,
    VersionNotSupported,
    UnsupportedScheme,
    UnsupportedTransferCoding,
    AuthenticationRequired,
    TooManyAuthenticationFailures,
    ClientLimitReached,

    /// <summary>One destination has had its request rate, or has its tunnels open, through this proxy (<c>limits.perDestination</c>): 429.</summary>
    DestinationLimitReached,
    ProxyFull,
    PolicyDenied,
    DestinationProhibited,
    LoopDetected,
    DnsError,
    DnsTimeout,
    ConnectionRefused,
    ConnectionTimeout,
    DestinationUnreachable,
    UpstreamProtocolError,
    UpstreamClosed,
    UpstreamTimeout,

    /// <summary>A parent proxy refused the connection (or did not answer the CONNECT before closing).</summary>
    ParentRefused,

    /// <summary>A parent proxy did not accept the connection, or answer the CONNECT, in time.</summary>
    ParentTimeout,

    /// <summary>The TLS handshake with an https:// parent proxy failed (its certificate, or the handshake itself).</summary>
    ParentTlsError,

    /// <summary>A parent proxy answered 407: the credentials Sluice sends it are missing or wrong. Not the client's to fix.</summary>
    ParentAuthenticationFailed,

    /// <summary>A parent proxy refused the request by its own policy (403).</summary>
    ParentDenied,

    /// <summary>A parent proxy answered with another error (its status is received-status), or every parent is down.</summary>
    ParentError,

    /// <summary>The address guard refused a parent proxy's address: the configuration must allow it (addresses.allow).</summary>
    ParentProhibited,

    /// <summary>An inspected tunnel's origin presented a certificate that does not validate (expired, wrong name, untrusted issuer).</summary>
    OriginCertificateInvalid,

    /// <summary>The TLS handshake with an inspected tunnel's origin failed for another reason (no common protocol, reset).</summary>
    OriginTlsFailed,

    /// <summary>A request inside an inspected tunnel names another authority than the CONNECT did (421).</summary>
    MisdirectedRequest,

    /// <summary>The client of an inspected tunnel did not complete the TLS handshake (it does not trust the inspection CA, or named another host): logged.</summary>
    ClientTlsFailed,

    /// <summary>A method the FTP gateway does not translate (it does GET, HEAD and PUT): 405 with Allow.</summary>
    MethodNotAllowed,

    /// <summary>The FTP server has no such file or directory (550, 450): 404.</summary>
    FtpNotFound,

    /// <summary>The FTP server refused the file or directory to this login (550 permission denied, 553): 403.</summary>
    FtpForbidden,

    /// <summary>The FTP server refused the anonymous login (530): 401 with a challenge, so the client sends credentials.</summary>
    FtpLoginRequired,

    /// <summary>The FTP server refused the credentials the client gave (530): 403.</summary>
    FtpLoginRefused,

    /// <summary>The FTP server is not taking the session (421, or a 4yz/5yz where a transfer should start): 502.</summary>
    FtpUnavailable,

    /// <summary>After the response or tunnel had started, a connection ended early or was reset, or the client took none of the body for the idle timeout: logged, never answered.</summary>
    ConnectionTerminated,
    InternalError,
}

/// <summary>The client-facing shape of an error: status, RFC 9209 Proxy-Status error type, Squid log code.</summary>
public sealed record ProxyErrorInfo(int Status, string Reason, string ProxyStatusError, SquidResult Squid);

/// <summary>
/// The one place where an error kind becomes a status code, an RFC 9209 error type and a Squid result code: error
/// responses, the access log, the metrics' error label and <c>sluice explain</c> all read it.
/// </summary>
public static class ProxyErrors
{
    // Indexed by kind: every error response, access-log line and metrics label reads a row.
    private static readonly ProxyErrorInfo?[] Table = ByKind(new Dictionary<ProxyErrorKind, ProxyErrorInfo>
    {
        [ProxyErrorKind.MalformedRequest] = new(400, "Bad Request", "http_request_error", SquidResult.None),
        [ProxyErrorKind.NotAProxyRequest] = new(400, "Bad Request", "http_request_error", SquidResult.None),
        [ProxyErrorKind.RequestLineTooLong] = new(414, "URI Too Long", "http_request_error", SquidResult.None),
        [ProxyErrorKind.HeaderSectionTooLarge] = new(431, "Request Header Fields Too Large", "http_request_error", SquidResult.None),
        [ProxyErrorKind.HeaderTimeout] = new(408, "Request Timeout", "http_request_error", SquidResult.None),
        [ProxyErrorKind.VersionNotSupported] = new(505, "HTTP Version Not Supported", "http_request_error", SquidResult.None),
        [ProxyErrorKind.UnsupportedScheme] = new(400, "Bad Request", "http_request_error", SquidResult.None),
        [ProxyErrorKind.UnsupportedTransferCoding] = new(501, "Not Implemented", "http_request_error", SquidResult.None),
        [ProxyErrorKind.AuthenticationRequired] = new(407, "Proxy Authentication Required", "http_request_denied", SquidResult.Denied),
        [ProxyErrorKind.TooManyAuthenticationFailures] = new(429, "Too Many Requests", "http_request_denied", SquidResult.Denied),
        [ProxyErrorKind.ClientLimitReached] = new(429, "Too Many Requests", "connection_limit_reached", SquidResult.Denied),
        [ProxyErrorKind.DestinationLimitReached] = new(429, "Too Many Requests", "connection_limit_reached", SquidResult.Denied),
        [ProxyErrorKind.ProxyFull] = new(503, "Service Unavailable", "connection_limit_reached", SquidResult.Denied),
        [ProxyErrorKind.PolicyDenied] = new(403, "Forbidden", "http_request_denied", SquidResult.Denied),
        [ProxyErrorKind.DestinationProhibited] = new(403, "Forbidden", "destination_ip_prohibited", SquidResult.Denied),
        [ProxyErrorKind.LoopDetected] = new(508, "Loop Detected", "proxy_loop_detected", SquidResult.None),
        [ProxyErrorKind.DnsError] = new(502, "Bad Gateway", "dns_error", SquidResult.Miss),
        [ProxyErrorKind.DnsTimeout] = new(504, "Gateway Timeout", "dns_timeout", SquidResult.Miss),
        [ProxyErrorKind.ConnectionRefused] = new(502, "Bad Gateway", "connection_refused", SquidResult.Miss),
        [ProxyErrorKind.ConnectionTimeout] = new(504, "Gateway Timeout", "connection_timeout", SquidResult.Miss),
        [ProxyErrorKind.DestinationUnreachable] = new(502, "Bad Gateway", "destination_unavailable", SquidResult.Miss),
        [ProxyErrorKind.UpstreamProtocolError] = new(502, "Bad Gateway", "http_protocol_error", SquidResult.Miss),
        [ProxyErrorKind.UpstreamClosed] = new(502, "Bad Gateway", "http_response_incomplete", SquidResult.Miss),
        [ProxyErrorKind.UpstreamTimeout] = new(504, "Gateway Timeout", "http_response_timeout", SquidResult.Miss),
        [ProxyErrorKind.ParentRefused] = new(502, "Bad Gateway", "connection_refused", SquidResult.Miss),
        [ProxyErrorKind.ParentTimeout] = new(504, "Gateway Timeout", "connection_timeout", SquidResult.Miss),
        [ProxyErrorKind.ParentTlsError] = new(502, "Bad Gateway", "tls_certificate_error", SquidResult.Miss),
        [ProxyErrorKind.ParentAuthenticationFailed] = new(502, "Bad Gateway", "proxy_configuration_error", SquidResult.Miss),
        [ProxyErrorKind.ParentDenied] = new(403, "Forbidden", "http_request_denied", SquidResult.Miss),
        [ProxyErrorKind.ParentError] = new(502, "Bad Gateway", "destination_unavailable", SquidResult.Miss),
        [ProxyErrorKind.ParentProhibited] = new(502, "Bad Gateway", "proxy_configuration_error", SquidResult.Miss),
        [ProxyErrorKind.OriginCertificateInvalid] = new(502, "Bad Gateway", "tls_certificate_error", SquidResult.Miss),
        [ProxyErrorKind.OriginTlsFailed] = new(502, "Bad Gateway", "tls_protocol_error", SquidResult.Miss),
        [ProxyErrorKind.MisdirectedRequest] = new(421, "Misdirected Request", "http_request_denied", SquidResult.Denied),
        [ProxyErrorKind.ClientTlsFailed] = new(502, "Bad Gateway", "tls_protocol_error", SquidResult.None), // logged on the CONNECT line (200), never answered
        [ProxyErrorKind.MethodNotAllowed] = new(405, "Method Not Allowed", "http_request_error", SquidResult.None),
        // The FTP server's own answers, translated: no proxy error, so Proxy-Status carries details and no error type.
        [ProxyErrorKind.FtpNotFound] = new(404, "Not Found", "", SquidResult.Miss),
        [ProxyErrorKind.FtpForbidden] = new(403, "Forbidden", "", SquidResult.Miss),
        [ProxyErrorKind.FtpLoginRequired] = new(401, "Unauthorized", "", SquidResult.Miss),
        [ProxyErrorKind.FtpLoginRefused] = new(403, "Forbidden", "", SquidResult.Miss),
        [ProxyErrorKind.FtpUnavailable] = new(502, "Bad Gateway", "destination_unavailable", SquidResult.Miss),
        [ProxyErrorKind.ConnectionTerminated] = new(502, "Bad Gateway", "connection_terminated", SquidResult.Miss),
        [ProxyErrorKind.InternalError] = new(500, "Internal Server Error", "proxy_internal_error", SquidResult.None),
    });

    public static ProxyErrorInfo Describe(ProxyErrorKind kind) =>
        (uint)kind < (uint)Table.Length && Table[(int)kind] is { } info ? info : throw new ArgumentOutOfRangeException(nameof(kind));

    /// <summary>The RFC 9209 error type of a kind, or null for none: the access log's and the metrics' error field.
    /// An FTP server's answer translated by the gateway (404, 401...) is no proxy error and has none.</summary>
    public static string? ProxyStatusError(ProxyErrorKind? kind) => kind is { } k && Describe(k).ProxyStatusError is { Length: > 0 } error ? error : null;

    private static ProxyErrorInfo?[] ByKind(Dictionary<ProxyErrorKind, ProxyErrorInfo> rows)
    {
        var table = new ProxyErrorInfo?[Enum.GetValues<ProxyErrorKind>().Length];
        foreach ((ProxyErrorKind kind, ProxyErrorInfo info) in rows)
        {
            table[(int)kind] = info;
        }

        return table;
    }
}

/// <summary>Thrown inside an exchange to answer the client with an error; caught in one place that writes the response.</summary>
internal sealed class ProxyErrorException : Exception
{
    public ProxyErrorException(ProxyErrorKind kind, string detail, string? rule = null, IReadOnlyList<KeyValuePair<string, string>>? fields = null)
        : base(detail)
    {
        Kind = kind;
        Rule = rule;
        Fields = fields ?? [];
    }

    /// <summary>A refusal the client may retry after <paramref name="wait"/>: Retry-After in whole seconds, at least 1.</summary>
    public static ProxyErrorException RetryLater(ProxyErrorKind kind, string detail, TimeSpan wait) =>
        new(kind, detail, fields: RetryAfterField(wait));

    /// <summary>The Retry-After field for a wait: whole seconds, at least 1.</summary>
    public static KeyValuePair<string, string>[] RetryAfterField(TimeSpan wait) =>
        [new("Retry-After", RetryAfterSeconds(wait).ToString(System.Globalization.CultureInfo.InvariantCulture))];

    public static int RetryAfterSeconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));

    /// <summary>Extra header fields the error response carries, e.g. Proxy-Authenticate or Retry-After.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; }

    /// <summary>The parent proxy the failure came from, for Proxy-Status's next-hop and received-status.</summary>
    public ParentHop? Hop { get; init; }

    public ProxyErrorKind Kind { get; }

    public string? Rule { get; }
}

/// <summary>The parent proxy an error came from (RFC 9209 <c>next-hop</c>) and the status it answered, if it answered (<c>received-status</c>).</summary>
public sealed record ParentHop(string NextHop, int? ReceivedStatus = null);
