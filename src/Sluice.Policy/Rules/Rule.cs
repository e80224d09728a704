using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Decisions;

namespace Sluice.Policy.Rules;

public enum RuleAction
{
    Allow,
    Deny,

    /// <summary>
    /// A deny on trial: what it matches is let through as if no rule had routed it (route.default, tunnelled
    /// untouched) and recorded as a would-deny of this rule, so a policy can be watched before it is enforced.
    /// </summary>
    Report,
}

/// <summary>Whether the policy's denials are enforced, or only recorded (<c>mode: report</c>) while it is rolled out.</summary>
public enum PolicyMode
{
    Enforce,

    /// <summary>Every deny, of a rule or of the default, lets the request through and is recorded as a would-deny.</summary>
    Report,
}

/// <summary>What an allowed CONNECT's bytes get: relayed untouched, or inspected (each request inside decided).</summary>
public enum TlsMode
{
    Tunnel,
    Inspect,
}

/// <summary>What an allowed CONNECT to an FTP server's control port gets besides its relay.</summary>
public enum FtpMode
{
    /// <summary>Nothing: the tunnel is relayed like any other.</summary>
    Off,

    /// <summary>
    /// <c>ftp: passive</c>: the server's passive-mode replies passing through the tunnel (227, 229) each grant the
    /// client that holds it a one-time permit for a CONNECT to the data port they name, on the same address.
    /// </summary>
    Passive,
}

/// <summary>
/// One rule of the policy. Every matcher that is present must match (an absent matcher matches everything);
/// within one matcher, any entry may match.
/// </summary>
public sealed record Rule
{
    public required string Name { get; init; }

    public required RuleAction Action { get; init; }

    public ImmutableArray<DestinationPattern> Destinations { get; init; } = [];

    public ImmutableArray<PortRange> Ports { get; init; } = [];

    /// <summary>Upper-case method names.</summary>
    public ImmutableArray<string> Methods { get; init; } = [];

    public ImmutableArray<RequestScheme> Schemes { get; init; } = [];

    /// <summary>Path prefixes and globs, matched on the normalised path of forwarded and inspected requests.</summary>
    public ImmutableArray<PathPattern> Paths { get; init; } = [];

    /// <summary>
    /// <c>tls: inspect</c>: a CONNECT this rule decides is inspected, and its methods and paths apply to the requests
    /// inside rather than to the CONNECT (see <see cref="RequestFacts.MayInspect"/>).
    /// </summary>
    public TlsMode Tls { get; init; } = TlsMode.Tunnel;

    /// <summary>True when the rule can match a CONNECT that is not inspected: no paths, and methods and schemes admit it.</summary>
    public bool MatchesTunnels =>
        Paths.IsEmpty && (Methods.IsEmpty || Methods.Contains("CONNECT")) && (Schemes.IsEmpty || Schemes.Contains(RequestScheme.Tunnel));

    /// <summary>
    /// <c>ftp: passive</c>: the CONNECTs this rule allows are read as FTP control channels, and the data ports their
    /// servers open in passive mode are permitted for that client alone. Decides nothing about who gets in, so
    /// matching and shadowing ignore it.
    /// </summary>
    public FtpMode Ftp { get; init; } = FtpMode.Off;

    public ImmutableArray<IPNetwork> Clients { get; init; } = [];

    public ImmutableArray<string> Users { get; init; } = [];

    public ImmutableArray<string> Groups { get; init; } = [];

    /// <summary>
    /// How an allowed request leaves: <c>direct</c>, an upstream's name, or null for <c>route.default</c>. It decides
    /// nothing about who gets in, so matching and shadowing ignore it.
    /// </summary>
    public string? Via { get; init; }

    /// <summary>Line in the config file, for messages.</summary>
    public long Line { get; init; }

    /// <summary>Null when the rule matches; otherwise why not, in words (for <c>sluice explain</c>).</summary>
    public string? Mismatch(RequestFacts request) => Describe(FirstFailure(request, checkIdentity: true), request);

    /// <summary>Does the rule match? The same test as <see cref="Mismatch"/>, without building the explanation.</summary>
    public bool Matches(RequestFacts request) => FirstFailure(request, checkIdentity: true) == Failure.None;

    /// <summary>True when the rule names users or groups and everything else about it matches: who the client is would decide.</summary>
    public bool WaitsOnIdentity(RequestFacts request) =>
        (!Users.IsEmpty || !Groups.IsEmpty) && FirstFailure(request, checkIdentity: false) == Failure.None;

    private enum Failure
    {
        None,
        Destination,
        Port,
        Method,
        Path,
        Scheme,
        Client,
        User,
        Group,
    }

    // Loops rather than LINQ: this runs for every candidate rule of every request.
    private Failure FirstFailure(RequestFacts request, bool checkIdentity)
    {
        if (!Destinations.IsEmpty && !AnyDestination(request))
        {
            return Failure.Destination;
        }

        if (!Ports.IsEmpty && !AnyPort(request.Port))
        {
            return Failure.Port;
        }

        // An inspecting rule decides a CONNECT by who and where; what is asked inside is decided per request.
        bool inside = Tls == TlsMode.Inspect && request.MayInspect && request.Scheme == RequestScheme.Tunnel;
        if (!inside)
        {
            if (!Methods.IsEmpty && !Methods.Contains(request.Method))
            {
                return Failure.Method;
            }

            if (!Paths.IsEmpty && (request.Path is null || !AnyPath(request.Path)))
            {
                return Failure.Path;
            }

            if (!Schemes.IsEmpty && !Schemes.Contains(request.Scheme))
            {
                return Failure.Scheme;
            }
        }

        if (!Clients.IsEmpty && !AnyClient(request.Client.IsIPv4MappedToIPv6 ? request.Client.MapToIPv4() : request.Client))
        {
            return Failure.Client;
        }

        if (!checkIdentity)
        {
            return Failure.None;
        }

        if (!Users.IsEmpty && (request.User is null || !Users.Contains(request.User, StringComparer.Ordinal)))
        {
            return Failure.User;
        }

        if (!Groups.IsEmpty && !Groups.Any(g => request.Groups.Contains(g, StringComparer.Ordinal)))
        {
            return Failure.Group;
        }

        return Failure.None;
    }

    private bool AnyDestination(RequestFacts request)
    {
        foreach (DestinationPattern d in Destinations)
        {
            if (d.Matches(request.Host, request.Address, request.Port))
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyPort(int port)
    {
        foreach (PortRange range in Ports)
        {
            if (range.Contains(port))
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyPath(string path)
    {
        foreach (PathPattern pattern in Paths)
        {
            if (pattern.Matches(path))
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyClient(IPAddress client)
    {
        foreach (IPNetwork network in Clients)
        {
            if (network.Contains(client))
            {
                return true;
            }
        }

        return false;
    }

    // An inspecting rule's request keys met a CONNECT whose destination may not be inspected.
    private bool NotInspected(RequestFacts request) => Tls == TlsMode.Inspect && request.Scheme == RequestScheme.Tunnel && !request.MayInspect;

    private string? Describe(Failure failure, RequestFacts request) => failure switch
    {
        Failure.None => null,
        Failure.Destination => request.Address is not null && Destinations.All(d => d.Kind != PatternKind.Address)
            ? $"{request.Host} is an IP address and this rule lists names only"
            : $"{request.Host}:{request.Port} is not in destinations",
        Failure.Port => $"port {request.Port} is not in ports [{string.Join(", ", Ports)}]",
        Failure.Method => NotInspected(request)
            ? $"method {request.Method} is not in methods: the destination is never inspected, so they apply to the CONNECT itself"
            : $"method {request.Method} is not in methods",
        Failure.Path => request switch
        {
            { Path: { } path } => $"path {path} is not in paths",
            { Scheme: not RequestScheme.Tunnel } => "the request shows no path and this rule names paths",
            _ when NotInspected(request) => "the destination is never inspected, so its paths cannot be seen",
            _ => "a CONNECT shows no path and this rule names paths",
        },
        Failure.Scheme => $"scheme {request.Scheme.ToString().ToLowerInvariant()} is not in schemes",
        Failure.Client => $"client {request.Client} is not in clients",
        Failure.User => request.User is null ? "the client is anonymous and this rule names users" : $"user {request.User} is not in users",
        _ => "the client is in none of the rule's groups",
    };
}
