using System.Net;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

internal enum AclKind
{
    Src,
    Dst,
    DstDomain,
    Port,
    Method,
    ProxyAuth,

    /// <summary><c>ssl::server_name</c>: the TLS server's name, which for an explicit proxy is the CONNECT's host; read as dstdomain is.</summary>
    ServerName,

    /// <summary><c>at_step</c>: the SslBump step an ssl_bump line is evaluated at.</summary>
    AtStep,

    /// <summary><c>urlpath_regex</c> whose every value is an anchored literal prefix: <see cref="Acl.Values"/> are path globs.</summary>
    UrlPath,
    All,
    CacheManager,
    Unsupported,
}

/// <summary>
/// One acl as Sluice understands it. Line 0 is one of Squid's predefined acls. <see cref="Why"/> says why an
/// <see cref="AclKind.Unsupported"/> acl has no Sluice equivalent.
/// </summary>
internal sealed record Acl(string Name, AclKind Kind, int Line)
{
    /// <summary>Domain names (lower case), methods (upper case), users, SslBump steps or path globs.</summary>
    public IReadOnlyList<string> Values { get; init; } = [];

    public IReadOnlyList<IPNetwork> Networks { get; init; } = [];

    public IReadOnlyList<PortRange> Ports { get; init; } = [];

    public string? Why { get; init; }
}

/// <summary>
/// The acls of a squid.conf by name: Squid's predefined ones, then every <c>acl</c> line in order (lines naming the
/// same acl add values to it; a second type makes it unsupported). Values Sluice cannot use are reported.
/// </summary>
internal sealed class AclTable
{
    private readonly Dictionary<string, Acl> _acls = new(StringComparer.Ordinal);

    private AclTable()
    {
        Define("all", AclKind.All);
        Define("manager", AclKind.CacheManager);
        Define("localhost", AclKind.Src, "127.0.0.1/32", "::1/128");
        Define("to_localhost", AclKind.Dst, "127.0.0.0/8", "0.0.0.0/32", "::1/128", "::/128");
        Define("to_linklocal", AclKind.Dst, "169.254.0.0/16", "fe80::/10");
        // Predefined since Squid 4; Debian's default file relies on it.
        _acls["CONNECT"] = new Acl("CONNECT", AclKind.Method, 0) { Values = ["CONNECT"] };
    }

    public static AclTable Build(IEnumerable<SquidAcl> lines, SquidNotes notes)
    {
        var table = new AclTable();
        foreach (SquidAcl line in lines)
        {
            table.Add(line, notes);
        }

        return table;
    }

    public bool TryGet(string name, out Acl acl) => _acls.TryGetValue(name, out acl!);

    public bool IsProxyAuth(string name) => TryGet(name, out Acl acl) && acl.Kind == AclKind.ProxyAuth;

    /// <summary>An acl of the translation's own, under a name the file does not use (<paramref name="preferred"/> when it can): that name.</summary>
    public string DefineOwn(string preferred, AclKind kind, params string[] values)
    {
        string name = preferred;
        for (int i = 2; _acls.ContainsKey(name); i++)
        {
            name = $"{preferred}-{i}";
        }

        _acls[name] = new Acl(name, kind, 0) { Values = values };
        return name;
    }

    private void Define(string name, AclKind kind, params string[] networks) =>
        _acls[name] = new Acl(name, kind, 0) { Networks = [.. networks.Select(IPNetwork.Parse)] };

    private static AclKind KindOf(string type) => type switch
    {
        "src" => AclKind.Src,
        "dst" => AclKind.Dst,
        "dstdomain" => AclKind.DstDomain,
        "port" => AclKind.Port,
        "method" => AclKind.Method,
        "proxy_auth" => AclKind.ProxyAuth,
        "ssl::server_name" => AclKind.ServerName,
        "at_step" => AclKind.AtStep,
        "urlpath_regex" => AclKind.UrlPath,
        _ => AclKind.Unsupported,
    };

    // Types worth more than "no equivalent": what Sluice has instead.
    private static readonly Dictionary<string, string> Instead = new(StringComparer.Ordinal)
    {
        ["url_regex"] = "url_regex matches the whole URL with a regular expression; Sluice rules match destinations: and paths: (segment prefixes and globs), so write those by hand",
        ["ssl::server_name_regex"] = "a regular expression over server names; Sluice matches names as ssl::server_name and dstdomain list them",
    };

    // Where an acl may appear in Sluice's translation, and what it means anywhere else.
    private static string? WhyOutOfPlace(AclKind kind) => kind switch
    {
        AclKind.ServerName => "ssl::server_name names the TLS server for ssl_bump; in http_access a dstdomain acl says the same and translates",
        AclKind.AtStep => "at_step only means something to ssl_bump",
        _ => null,
    };

    private void Add(SquidAcl line, SquidNotes notes)
    {
        string name = line.Name;
        AclKind kind = KindOf(line.Type);
        if (!_acls.TryGetValue(name, out Acl? acl) || acl.Line == 0)
        {
            acl = new Acl(name, kind, line.Line);
        }
        else if (acl.Kind != kind && acl.Kind != AclKind.Unsupported)
        {
            acl = acl with { Kind = AclKind.Unsupported, Why = $"acl {name} is defined with two types" };
        }

        if (kind == AclKind.Unsupported)
        {
            string? instead = Instead.GetValueOrDefault(line.Type);
            _acls[name] = acl with { Kind = AclKind.Unsupported, Why = acl.Why ?? instead ?? $"acl type {line.Type} has no Sluice equivalent" };
            notes.Untranslated(line.Line, "acl", $"{name}: {instead ?? $"type {line.Type} has no Sluice equivalent"} (http_access lines using it are narrowed or widened, see below)");
            return;
        }

        if (line.UnreadFile is { } path)
        {
            _acls[name] = acl with { Kind = AclKind.Unsupported, Why = $"its values are in {path}, which could not be read" };
            notes.Untranslated(line.Line, "acl", $"{name}: the file {path} is not here to read its values");
            return;
        }

        if (acl.Kind == AclKind.UrlPath)
        {
            _acls[name] = UrlPath(acl, line, notes);
            return;
        }

        Acl read = WithValues(acl, kind, line, notes);
        _acls[name] = read.Kind == AclKind.Unsupported ? read : read with { Why = WhyOutOfPlace(kind) };
    }

    /// <summary>
    /// A urlpath_regex acl as path globs when every value is an anchored literal prefix (<c>^/api/v1</c>, with an
    /// optional trailing <c>.*</c>): <c>/api/v1*</c>, the same string prefix. One value that is not makes the whole acl
    /// unsupported, so no line using it matches less (a deny) or more (an allow) than in Squid.
    /// </summary>
    private static Acl UrlPath(Acl acl, SquidAcl line, SquidNotes notes)
    {
        var globs = new List<string>(acl.Values);
        foreach (string value in line.Values)
        {
            if (!SquidPaths.TryPrefix(value, line.IgnoreCase, out string glob, out string why))
            {
                notes.Untranslated(line.Line, "acl", $"{line.Name}: urlpath_regex '{value}': {why} (http_access lines using it are narrowed or widened, see below)");
                return acl with { Kind = AclKind.Unsupported, Why = $"urlpath_regex '{value}': {why}" };
            }

            globs.Add(glob);
        }

        notes.Remark(line.Line, "acl", $"{line.Name}: urlpath_regex becomes paths: {string.Join(", ", globs.Skip(acl.Values.Count))} (the same string prefix; Sluice matches the path with escapes decoded and dot segments removed, Squid the path as written)");
        return acl with { Values = globs.Distinct(StringComparer.Ordinal).ToList() };
    }

    /// <summary>The values of one line, read as <paramref name="kind"/> (that line's type), added to the acl.</summary>
    private static Acl WithValues(Acl acl, AclKind kind, SquidAcl line, SquidNotes notes)
    {
        var values = new List<string>(acl.Values);
        var networks = new List<IPNetwork>(acl.Networks);
        var ports = new List<PortRange>(acl.Ports);
        foreach (string value in line.Values)
        {
            switch (kind)
            {
                case AclKind.Src:
                case AclKind.Dst:
                    if (SquidAddresses.TryParse(value, out List<IPNetwork> parsed))
                    {
                        networks.AddRange(parsed);
                    }
                    else
                    {
                        notes.Untranslated(line.Line, "acl", $"{line.Name}: '{value}' is not an address, CIDR, netmask or IPv4 range (Sluice never resolves names in acls)");
                    }

                    break;
                case AclKind.Port:
                    if (PortRange.TryParse(value, out PortRange range, out _))
                    {
                        ports.Add(range);
                    }
                    else
                    {
                        notes.Untranslated(line.Line, "acl", $"{line.Name}: '{value}' is not a port or range");
                    }

                    break;
                case AclKind.DstDomain or AclKind.ServerName:
                    if (DestinationPattern.TryParse(value, out DestinationPattern pattern, out string problem) && pattern.Kind is PatternKind.ExactName or PatternKind.NameAndSubdomains)
                    {
                        values.Add(value.ToLowerInvariant());
                    }
                    else
                    {
                        notes.Untranslated(line.Line, "acl", $"{line.Name}: '{value}' is not a domain name ({(problem.Length > 0 ? problem : $"{line.Type} takes names")})");
                    }

                    break;
                case AclKind.Method:
                    values.Add(value.ToUpperInvariant());
                    break;
                case AclKind.ProxyAuth or AclKind.AtStep:
                    values.Add(value);
                    break;
            }
        }

        return acl with { Values = values, Networks = networks, Ports = ports };
    }
}
