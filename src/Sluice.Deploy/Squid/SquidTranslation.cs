using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// A squid.conf as a Sluice configuration: what <see cref="SquidWriter"/> writes, and the notes on what did not
/// translate exactly. Listener addresses and file paths are kept as Squid's file wrote them.
/// </summary>
public sealed record SquidTranslation
{
    /// <summary>From <c>visible_hostname</c>; null leaves Sluice's default name.</summary>
    public string? Name { get; init; }

    public required IReadOnlyList<SquidListener> Listeners { get; init; }

    /// <summary>Set when a proxy_auth acl is used and a users file is known; authentication is then required.</summary>
    public SquidAuth? Auth { get; init; }

    /// <summary>From <c>cache_peer</c> parents, in the order Squid prefers them.</summary>
    public IReadOnlyList<SquidUpstream> Upstreams { get; init; } = [];

    /// <summary>From <c>http_port ... ssl-bump</c> and <c>ssl_bump</c>; null when nothing is inspected.</summary>
    public SquidInspection? Inspection { get; init; }

    /// <summary>In http_access order; first match wins.</summary>
    public required IReadOnlyList<TranslatedRule> Rules { get; init; }

    /// <summary><c>route.default</c>: an upstream's name, or null for direct.</summary>
    public string? RouteDefault { get; init; }

    public required RuleAction Default { get; init; }

    /// <summary>Why the default is what it is, in words (Squid's implicit default is the opposite of the last line).</summary>
    public required string DefaultWhy { get; init; }

    public TimeSpan? ConnectTimeout { get; init; }

    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>The access log's path, or <c>off</c>; null leaves Sluice's default.</summary>
    public string? AccessLog { get; init; }

    /// <summary>By line number; line 0 is about the file as a whole.</summary>
    public required IReadOnlyList<SquidNote> Notes { get; init; }
}

/// <summary>A listener: an IP:port as written, with TLS for an <c>https_port</c>.</summary>
public sealed record SquidListener(string Address, SquidListenerTls? Tls = null);

public sealed record SquidListenerTls(string Certificate, string Key, string? ClientCa);

/// <summary>Basic authentication from <c>auth_param basic program basic_ncsa_auth FILE</c>; null realm keeps Sluice's.</summary>
public sealed record SquidAuth(string? Realm, string UsersFile);

/// <summary>
/// A Sluice rule and the http_access line it comes from (<see cref="Rule.Line"/> is that line's number), with the
/// lines that decided its route (<see cref="Rule.Via"/>) when any did.
/// </summary>
public sealed record TranslatedRule(Rule Rule, string AccessLine, string? Route = null)
{
    /// <summary>The ssl_bump lines that made it inspect (<see cref="Rule.Tls"/>), when any did.</summary>
    public string? Tls { get; init; }
}

/// <summary>
/// <c>tls.inspection</c>: the CA of the ssl-bump port (<paramref name="Ca"/>, <paramref name="Key"/>), the extra CAs
/// trusted for origins, and the names ssl_bump splices, which are never inspected whatever a rule says.
/// </summary>
public sealed record SquidInspection(string Ca, string Key, string? UpstreamCa, IReadOnlyList<string> NeverInspect, string Comment);

/// <summary>
/// Parent proxies from <c>cache_peer</c> lines: URLs, balance, the login's user and the environment variable its
/// password is read from (the password itself is never part of a translation), and the CA for TLS to them.
/// </summary>
public sealed record SquidUpstream(string Name, IReadOnlyList<string> Proxies, Balance Balance, string Comment)
{
    public string? User { get; init; }

    public string? PasswordEnv { get; init; }

    public string? Ca { get; init; }
}
