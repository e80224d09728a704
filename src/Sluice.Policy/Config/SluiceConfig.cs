using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Config;

/// <summary>
/// One validated configuration snapshot. Immutable: a reload builds a new one and swaps it in;
/// connections keep the snapshot they started with.
/// </summary>
public sealed record SluiceConfig
{
    /// <summary>This proxy's name: the pseudonym in <c>Via</c> and the first member of <c>Proxy-Status</c>.</summary>
    public string Name { get; init; } = "sluice";

    public ImmutableArray<ListenerConfig> Listeners { get; init; } = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 3128) }];

    public TimeoutsConfig Timeouts { get; init; } = new();

    public LimitsConfig Limits { get; init; } = new();

    public LogConfig Log { get; init; } = new();

    public AddressesConfig Addresses { get; init; } = new();

    /// <summary>Proxy authentication; null when clients are not asked who they are.</summary>
    public AuthConfig? Auth { get; init; }

    /// <summary>The policy: tried in order, the first rule that matches decides.</summary>
    public ImmutableArray<Rule> Rules { get; init; } = [];

    /// <summary>What happens when no rule matches; deny unless the file says otherwise.</summary>
    public RuleAction Default { get; init; } = RuleAction.Deny;

    /// <summary><c>mode: report</c>: every deny lets the request through and is recorded as a would-deny; enforce unless the file says otherwise.</summary>
    public PolicyMode Mode { get; init; } = PolicyMode.Enforce;

    /// <summary>Parent proxies that rules send requests through (<c>via:</c>), by name.</summary>
    public ImmutableArray<UpstreamConfig> Upstreams { get; init; } = [];

    /// <summary>Where an allowed request goes when its rule names no <c>via:</c>: direct unless the file says otherwise.</summary>
    public RouteConfig Route { get; init; } = new();

    /// <summary>The admin endpoint (metrics, health, status page); null turns it off.</summary>
    public AdminConfig? Admin { get; init; } = new();

    /// <summary>
    /// Destinations clients reach directly, not through the proxy (databases speaking their own TCP protocol...).
    /// The proxy itself ignores them; <c>sluice k8s</c> opens them in the clients' NetworkPolicy.
    /// </summary>
    public ImmutableArray<BypassConfig> Bypass { get; init; } = [];

    /// <summary><c>clients:</c> what clients are told about the proxy (the admin endpoint's <c>/proxy.pac</c>).</summary>
    public ClientsConfig Clients { get; init; } = new();

    /// <summary><c>ftp:</c> passive permits' lifetime and the gateway's anonymous login.</summary>
    public FtpConfig Ftp { get; init; } = new();

    /// <summary>How a running proxy treats this file when it is reloaded.</summary>
    public ReloadConfig Reload { get; init; } = new();

    /// <summary><c>tls.inspection</c>: the CA inspected tunnels mint certificates with; null when nothing is inspected.</summary>
    public InspectionConfig? Inspection { get; init; }

    /// <summary><c>resolver:</c> how names become addresses (DNS with a cache, or the system's resolver).</summary>
    public ResolverConfig Resolver { get; init; } = new();

    /// <summary>Where this snapshot came from, for messages: a file path or "embedded default".</summary>
    public string Source { get; init; } = "embedded default";
}

/// <summary>
/// TLS inspection: the CA that signs the certificates Sluice shows clients of inspected tunnels, the extra CAs it trusts
/// for origins, and the destinations never inspected whatever a rule says. Paths are absolute.
/// </summary>
public sealed record InspectionConfig
{
    public required string Ca { get; init; }

    public required string Key { get; init; }

    /// <summary>PEM certificates trusted for origin certificates in addition to the system roots.</summary>
    public string? UpstreamCa { get; init; }

    /// <summary>Destinations tunnelled untouched even when a rule says <c>tls: inspect</c> (pinned apps, banking, health).</summary>
    public ImmutableArray<DestinationPattern> NeverInspect { get; init; } = [];

    /// <summary>Line in the config file, for messages.</summary>
    public long Line { get; init; }

    /// <summary>Is the destination one that is never inspected?</summary>
    public bool IsNeverInspected(string host, IPAddress? address, int port)
    {
        foreach (DestinationPattern pattern in NeverInspect)
        {
            if (pattern.Matches(host, address, port))
            {
                return true;
            }
        }

        return false;
    }
}

public sealed record ListenerConfig
{
    public required IPEndPoint Address { get; init; }

    /// <summary>Set for an HTTPS proxy listener: TLS between the client and the proxy.</summary>
    public TlsConfig? Tls { get; init; }

    public string Scheme => Tls is null ? "http" : "https";
}

public enum ClientCertificateMode
{
    /// <summary>Clients are not asked for a certificate.</summary>
    None,

    /// <summary>Asked for; a client without one is served, one with an invalid one fails the handshake.</summary>
    Optional,

    /// <summary>A valid certificate from <see cref="TlsConfig.ClientCa"/> is needed to complete the handshake.</summary>
    Required,
}

/// <summary>TLS for a listener. Paths are absolute (relative ones are resolved against the config file's folder).</summary>
public sealed record TlsConfig
{
    /// <summary>PEM: the server certificate first, then the intermediates (full chain).</summary>
    public required string Certificate { get; init; }

    /// <summary>PEM private key (RSA or ECDSA), plain or encrypted (PKCS#8).</summary>
    public required string Key { get; init; }

    /// <summary>Environment variable that holds the passphrase of an encrypted key.</summary>
    public string? KeyPassphraseEnv { get; init; }

    /// <summary>File whose first line is the passphrase of an encrypted key.</summary>
    public string? KeyPassphraseFile { get; init; }

    /// <summary>PEM bundle of the CAs that issue client certificates.</summary>
    public string? ClientCa { get; init; }

    public ClientCertificateMode ClientCertificate { get; init; } = ClientCertificateMode.None;

    /// <summary>Certificate revocation list(s) of the client CAs, PEM or DER; revoked client certificates fail the handshake.</summary>
    public string? ClientCrl { get; init; }
}

public sealed record TimeoutsConfig
{
    /// <summary>Upper bound for establishing an upstream TCP connection (504 when exceeded).</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>No byte in either direction for this long ends a tunnel or a waiting exchange.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A complete request header section must arrive within this time (408 otherwise).</summary>
    public TimeSpan RequestHeaders { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a pooled upstream connection may sit unused before it is closed.</summary>
    public TimeSpan UpstreamIdle { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>On SIGTERM, how long open exchanges and tunnels may take to finish before they are closed.</summary>
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record LimitsConfig
{
    /// <summary>Request line plus header fields, in bytes (431 when exceeded).</summary>
    public int MaxHeaderBytes { get; init; } = 64 * 1024;

    /// <summary>Number of header fields in one request (431 when exceeded).</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>Length of the request line (414 when exceeded).</summary>
    public int MaxRequestLineBytes { get; init; } = 8 * 1024;

    /// <summary>Idle keep-alive connections kept per upstream host and port.</summary>
    public int MaxIdleUpstreamPerHost { get; init; } = 256;

    /// <summary>Client connections open at once, all clients together (503 beyond).</summary>
    public int MaxConnections { get; init; } = 20_000;

    /// <summary>Client connections open at once from one client address (429 beyond).</summary>
    public int MaxConnectionsPerClient { get; init; } = 2_000;

    /// <summary>CONNECT tunnels open at once from one client address (429 beyond).</summary>
    public int MaxTunnelsPerClient { get; init; } = 1_000;

    /// <summary>Requests per second per client address, sustained (token bucket); 0 means unlimited.</summary>
    public int RequestsPerSecondPerClient { get; init; }

    /// <summary>Requests a client may send in a burst above its rate; defaults to twice the rate.</summary>
    public int RequestBurstPerClient { get; init; }

    /// <summary><c>limits.perDestination</c>: the request rate and open tunnels one destination may get; null = off.</summary>
    public PerDestinationLimits? PerDestination { get; init; }
}

/// <summary>What a destination is counted as by <see cref="PerDestinationLimits"/>.</summary>
public enum DestinationKeyKind
{
    /// <summary>The name, or the IP literal, without the port.</summary>
    Host,

    /// <summary>The registrable domain (example.co.uk for a.b.example.co.uk), by the Public Suffix List; an IP literal is its address.</summary>
    Domain,
}

/// <summary>
/// <c>limits.perDestination</c>: so that one destination cannot be hammered through the proxy, whichever clients ask.
/// Every request the rules let through takes a token from its destination's bucket (429 with Retry-After when empty);
/// every CONNECT tunnel counts against its destination while it is open (429 beyond).
/// </summary>
public sealed record PerDestinationLimits
{
    /// <summary>Requests per second per destination, sustained (token bucket); 0 means unlimited.</summary>
    public int RequestsPerSecond { get; init; }

    /// <summary>The bucket's size: requests a destination may get at once above its rate; 0 means twice the rate.</summary>
    public int Burst { get; init; }

    /// <summary>CONNECT tunnels open at once to one destination; 0 means unlimited.</summary>
    public int Tunnels { get; init; }

    public DestinationKeyKind Key { get; init; } = DestinationKeyKind.Host;

    /// <summary>Destinations tracked at once (least recently used forgotten first; one with tunnels open never is).</summary>
    public int MaxDestinations { get; init; } = 10_000;

    /// <summary>The bucket's size in force: <see cref="Burst"/>, or twice the rate.</summary>
    public int EffectiveBurst => Burst > 0 ? Burst : RequestsPerSecond * 2;

    /// <summary>Whether anything is limited at all.</summary>
    public bool Enabled => RequestsPerSecond > 0 || Tunnels > 0;
}

public enum AccessLogFormat
{
    Squid,
    Json,
}

public sealed record LogConfig
{
    /// <summary><c>stdout</c>, <c>stderr</c>, <c>off</c>, or a file path (appended to).</summary>
    public string Access { get; init; } = "stdout";

    public AccessLogFormat Format { get; init; } = AccessLogFormat.Squid;
}

public sealed record AddressesConfig
{
    /// <summary>Ranges that may be reached although the address guard would refuse them (private, loopback...).</summary>
    public ImmutableArray<IPNetwork> Allow { get; init; } = [];

    /// <summary>Ranges always refused, even if public.</summary>
    public ImmutableArray<IPNetwork> Deny { get; init; } = [];
}

/// <summary><c>auth:</c> how clients prove who they are.</summary>
public sealed record AuthConfig
{
    public required BasicAuthConfig Basic { get; init; }

    /// <summary>
    /// True: every request must carry valid credentials (407 otherwise). False: anonymous requests are served and
    /// match only rules without <c>users</c>/<c>groups</c>; wrong credentials are still refused.
    /// </summary>
    public bool Required { get; init; } = true;
}

/// <summary>HTTP Basic proxy authentication against an htpasswd file (bcrypt or SHA-crypt hashes).</summary>
public sealed record BasicAuthConfig
{
    public string Realm { get; init; } = "sluice";

    /// <summary>htpasswd file: <c>user:hash</c> lines, bcrypt (<c>$2y$</c>) or SHA-crypt (<c>$5$</c>, <c>$6$</c>).</summary>
    public required string UsersFile { get; init; }

    /// <summary>Optional groups file: <c>group: user1 user2</c> lines (Apache htgroup format).</summary>
    public string? GroupsFile { get; init; }
}

/// <summary><c>admin:</c> the operators' endpoint: /metrics, /healthz, /readyz, the status page and its JSON API.</summary>
public sealed record AdminConfig
{
    /// <summary>Loopback by default: the status page shows who goes where, which is not for everyone.</summary>
    public IPEndPoint Address { get; init; } = new(IPAddress.Loopback, 9090);

    /// <summary>When set, every admin request needs <c>Authorization: Bearer TOKEN</c> (except /healthz and /readyz).</summary>
    public string? Token { get; init; }
}

/// <summary>
/// <c>reload:</c> what a reload may do. A reload that would leave the proxy without any rule (the running
/// configuration has some) is refused unless the new file says so here; a restart applies any valid file.
/// </summary>
public sealed record ReloadConfig
{
    /// <summary>True: apply this file on reload even though it has no rules and the running configuration has some.</summary>
    public bool AllowNoRules { get; init; }
}

/// <summary><c>bypass[]</c>: one direct path from the clients that does not go through the proxy.</summary>
public sealed record BypassConfig
{
    /// <summary>What it is for (shown by <c>sluice check</c> and in the rendered NetworkPolicy).</summary>
    public required string Name { get; init; }

    /// <summary>The destination address ranges.</summary>
    public required ImmutableArray<IPNetwork> Cidrs { get; init; }

    /// <summary>TCP ports or ranges on those addresses; never empty (a bypass names its ports).</summary>
    public required ImmutableArray<PortRange> Ports { get; init; }

    /// <summary>Line in the config file, for messages.</summary>
    public long Line { get; init; }
}

/// <summary>
/// <c>clients:</c> what the proxy tells its clients, in the PAC file the admin endpoint serves at <c>/proxy.pac</c>: the
/// address to reach it at, and destinations they reach directly besides the <c>bypass:</c> addresses.
/// </summary>
public sealed record ClientsConfig
{
    /// <summary><c>clients.proxyUrl</c>: the proxy's address as clients must write it (a name its certificate holds, a
    /// load balancer...); null: the first listener's address.</summary>
    public Names.HostPort? ProxyAddress { get; init; }

    /// <summary>The proxy URL is <c>https://</c>: TLS between client and proxy.</summary>
    public bool ProxyTls { get; init; }

    /// <summary>
    /// <c>clients.excluded</c>: NO_PROXY entries, read as <c>sluice env --no-proxy</c> reads them (a name, with or without a
    /// leading dot, is the name and its subdomains; <c>*.name</c> its subdomains; <c>*</c> everything; an address or
    /// CIDR the destinations written as such addresses), optionally on one port.
    /// </summary>
    public ImmutableArray<DestinationPattern> Excluded { get; init; } = [];
}

/// <summary>
/// <c>ftp:</c> how Sluice takes part in FTP: the lifetime of passive-mode permits (rules with <c>ftp: passive</c>) and
/// the anonymous login of the <c>ftp://</c> gateway.
/// </summary>
public sealed record FtpConfig
{
    /// <summary>
    /// <c>ftp.permitLifetime</c>: how long a data-port permit granted from a 227/229 reply waits for its CONNECT. Clients
    /// connect at once; a short lifetime keeps an unused permit from lingering.
    /// </summary>
    public TimeSpan PermitLifetime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>ftp.anonymousPassword</c>: the password the gateway gives with user <c>anonymous</c> when the URL and the
    /// client offer no credentials (by custom an e-mail address; Squid's <c>ftp_user</c>).
    /// </summary>
    public string AnonymousPassword { get; init; } = "sluice@";
}
