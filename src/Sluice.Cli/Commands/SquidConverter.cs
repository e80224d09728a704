using System.Globalization;
using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Cli.Commands;

/// <summary>
/// Converts a squid.conf into a Sluice configuration. The translation never lets through a request Squid would
/// refuse: where Sluice cannot say exactly what a line says, a deny line is widened (the condition it cannot
/// express is left out, so it denies more) and an allow line is left out or narrowed (it allows less). Every such
/// place, and every directive without an equivalent, is reported with its line number.
/// </summary>
internal sealed class SquidConverter
{
    internal sealed record Note(int Line, string Directive, string Text, bool Untranslated)
    {
        public override string ToString() => Untranslated
            ? $"line {Line}: {Directive}: not translated: {Text}"
            : $"line {Line}: {Directive}: {Text}";
    }

    private enum AclKind
    {
        Src,
        Dst,
        DstDomain,
        Port,
        Method,
        ProxyAuth,
        All,
        CacheManager,
        Unsupported,
    }

    private sealed class Acl(string name, AclKind kind, int line)
    {
        public string Name { get; } = name;

        public AclKind Kind { get; set; } = kind;

        public int Line { get; } = line;

        public List<string> Values { get; } = [];

        public List<IPNetwork> Networks { get; } = [];

        public List<PortRange> Ports { get; } = [];

        public string? Why { get; set; }
    }

    private static readonly string[] KnownMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"];

    private static readonly Dictionary<string, string> NoEquivalent = new(StringComparer.Ordinal)
    {
        ["cache_dir"] = "Sluice does not cache",
        ["cache_mem"] = "Sluice does not cache",
        ["cache"] = "Sluice does not cache",
        ["refresh_pattern"] = "Sluice does not cache",
        ["maximum_object_size"] = "Sluice does not cache",
        ["maximum_object_size_in_memory"] = "Sluice does not cache",
        ["minimum_object_size"] = "Sluice does not cache",
        ["cache_replacement_policy"] = "Sluice does not cache",
        ["memory_replacement_policy"] = "Sluice does not cache",
        ["cache_swap_low"] = "Sluice does not cache",
        ["cache_swap_high"] = "Sluice does not cache",
        ["coredump_dir"] = "a process setting of Squid; Sluice writes no core files of its own",
        ["pid_filename"] = "Sluice writes no pid file (run it under systemd or Kubernetes)",
        ["cache_effective_user"] = "run Sluice as an unprivileged user through systemd (DynamicUser) or Kubernetes instead",
        ["cache_effective_group"] = "run Sluice as an unprivileged user through systemd (DynamicUser) or Kubernetes instead",
        ["logfile_rotate"] = "Sluice appends to its access log; rotate with logrotate (copytruncate) or log to stdout",
        ["cache_log"] = "Sluice writes its operational messages to standard error",
        ["cache_store_log"] = "Sluice does not cache",
        ["cache_peer"] = "parent proxies are not part of Sluice's configuration file",
        ["never_direct"] = "parent proxies are not part of Sluice's configuration file",
        ["always_direct"] = "parent proxies are not part of Sluice's configuration file",
        ["prefer_direct"] = "parent proxies are not part of Sluice's configuration file",
        ["dns_nameservers"] = "Sluice uses the system resolver",
        ["ssl_bump"] = "Sluice never intercepts TLS; tunnels stay end-to-end",
        ["sslcrtd_program"] = "Sluice never intercepts TLS; tunnels stay end-to-end",
        ["include"] = "the files it names are not read; convert them separately and merge their lines by hand, in order",
    };

    private readonly string _file;
    private readonly List<Note> _notes = [];
    private readonly Dictionary<string, Acl> _acls = new(StringComparer.Ordinal);
    private readonly List<YamlMap> _listeners = [];
    private readonly List<(int Line, bool Allow, List<(string Acl, bool Negated)> Terms, string Text)> _access = [];
    private readonly List<(YamlMap Rule, Rule Parsed, string Comment)> _rules = [];
    private string? _usersFile;
    private string? _realm;
    private int _usersLine;
    private string? _connectTimeout;
    private string? _idleTimeout;
    private string? _logAccess;
    private string? _name;
    private bool _usesAuth;

    public SquidConverter(string file)
    {
        _file = file;
        Define("all", AclKind.All, 0);
        Define("manager", AclKind.CacheManager, 0);
        Define("localhost", AclKind.Src, 0, "127.0.0.1/32", "::1/128");
        Define("to_localhost", AclKind.Dst, 0, "127.0.0.0/8", "0.0.0.0/32", "::1/128", "::/128");
        Define("to_linklocal", AclKind.Dst, 0, "169.254.0.0/16", "fe80::/10");
        Define("CONNECT", AclKind.Method, 0); // predefined since Squid 4; Debian's default file relies on it
        _acls["CONNECT"].Values.Add("CONNECT");
    }

    public IReadOnlyList<Note> Notes => _notes;

    private void Define(string name, AclKind kind, int line, params string[] networks)
    {
        var acl = new Acl(name, kind, line);
        acl.Networks.AddRange(networks.Select(IPNetwork.Parse));
        _acls[name] = acl;
    }

    private void Untranslated(int line, string directive, string why) => _notes.Add(new Note(line, directive, why, Untranslated: true));

    private void Remark(int line, string directive, string text) => _notes.Add(new Note(line, directive, text, Untranslated: false));

    /// <summary>The Sluice configuration for the given squid.conf text.</summary>
    public string Convert(string text)
    {
        foreach ((int line, string[] words) in Lines(text))
        {
            Directive(line, words);
        }

        BuildRules();
        return Render();
    }

    /// <summary>Directive lines: comments and blank lines removed, backslash continuations joined, split into words.</summary>
    private static IEnumerable<(int Line, string[] Words)> Lines(string text)
    {
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int start = i + 1;
            string line = lines[i];
            while (line.EndsWith('\\') && i + 1 < lines.Length)
            {
                line = line[..^1] + " " + lines[++i];
            }

            string trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }

            // Squid allows a comment after the directive, after white space.
            int hash = -1;
            for (int j = 1; j < trimmed.Length; j++)
            {
                if (trimmed[j] == '#' && char.IsWhiteSpace(trimmed[j - 1]))
                {
                    hash = j;
                    break;
                }
            }

            string directive = hash < 0 ? trimmed : trimmed[..hash];
            string[] words = directive.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 0)
            {
                yield return (start, words);
            }
        }
    }

    private void Directive(int line, string[] w)
    {
        string name = w[0];
        switch (name)
        {
            case "http_port":
            case "https_port":
                Port(line, w);
                break;
            case "acl":
                AclLine(line, w);
                break;
            case "http_access":
                if (w.Length < 2 || w[1] is not ("allow" or "deny"))
                {
                    Untranslated(line, name, "expected http_access allow|deny ACL...");
                    break;
                }

                var terms = w.Skip(2).Select(t => t.StartsWith('!') ? (t[1..], true) : (t, false)).ToList();
                _access.Add((line, w[1] == "allow", terms, string.Join(' ', w)));
                break;
            case "auth_param":
                AuthParam(line, w);
                break;
            case "connect_timeout":
            case "read_timeout":
                if (TryDuration(w.Skip(1).ToArray(), out string duration))
                {
                    if (name == "connect_timeout")
                    {
                        _connectTimeout = duration;
                    }
                    else
                    {
                        _idleTimeout = duration;
                        Remark(line, name, $"becomes timeouts.idle {duration}: Sluice ends a tunnel or exchange after that long without a byte in either direction");
                    }
                }
                else
                {
                    Untranslated(line, name, $"'{string.Join(' ', w.Skip(1))}' is not a duration Sluice can write (N seconds|minutes|hours|days)");
                }

                break;
            case "access_log":
                AccessLog(line, w);
                break;
            case "visible_hostname":
                if (w.Length == 2 && w[1].Length <= 64 && char.IsAsciiLetter(w[1][0]) && w[1].All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
                {
                    _name = w[1];
                }
                else
                {
                    Untranslated(line, name, "not a name Sluice accepts (letters, digits, '.', '-', '_')");
                }

                break;
            default:
                Untranslated(line, name, NoEquivalent.TryGetValue(name, out string? why) ? why : "no Sluice equivalent");
                break;
        }
    }

    private void Port(int line, string[] w)
    {
        string directive = w[0];
        if (w.Length < 2)
        {
            Untranslated(line, directive, "no port given");
            return;
        }

        string[] modes = ["intercept", "transparent", "tproxy", "accel", "ssl-bump", "vhost", "vport"];
        if (w.Skip(2).FirstOrDefault(o => modes.Contains(o.Split('=')[0])) is { } mode)
        {
            Untranslated(line, directive, $"'{mode}': Sluice is an explicit forward proxy only (no interception or reverse-proxy mode)");
            return;
        }

        string spec = w[1];
        string address;
        if (int.TryParse(spec, NumberStyles.None, CultureInfo.InvariantCulture, out int bare))
        {
            address = $"[::]:{bare}";
            Remark(line, directive, $"port {bare} alone listens on every address, as Squid does: [::]:{bare} (IPv6 and IPv4)");
        }
        else
        {
            address = spec;
        }

        if (!Endpoints.TryParse(address, out _))
        {
            Untranslated(line, directive, $"'{spec}' is not IP:port (Sluice listens on addresses, not host names)");
            return;
        }

        var listener = new YamlMap().Add("address", address);
        var options = w.Skip(2).Select(o => (Key: o.Split('=', 2)[0], Value: o.Contains('=') ? o.Split('=', 2)[1] : "")).ToList();
        if (directive == "https_port")
        {
            string? cert = options.FirstOrDefault(o => o.Key is "cert" or "tls-cert").Value;
            string? key = options.FirstOrDefault(o => o.Key is "key" or "tls-key").Value;
            string? clientCa = options.FirstOrDefault(o => o.Key is "clientca" or "tls-clientca").Value;
            if (string.IsNullOrEmpty(cert))
            {
                Untranslated(line, directive, "no cert= given: an HTTPS listener needs a certificate");
                return;
            }

            if (string.IsNullOrEmpty(key))
            {
                key = cert;
                Remark(line, directive, "no key= given: Squid reads the key from the cert= file, so key is the same file");
            }

            var tls = new YamlMap().Add("certificate", cert).Add("key", key);
            if (!string.IsNullOrEmpty(clientCa))
            {
                tls.Add("clientCa", clientCa);
            }

            listener.Add("tls", tls);
        }

        foreach ((string key, _) in options.Where(o => o.Key is not ("cert" or "tls-cert" or "key" or "tls-key" or "clientca" or "tls-clientca")))
        {
            Untranslated(line, directive, $"option '{key}' has no Sluice equivalent; the listener is translated without it");
        }

        if (_listeners.Any(l => (string)l["address"]! == address))
        {
            Untranslated(line, directive, $"{address} is already a listener");
            return;
        }

        _listeners.Add(listener);
    }

    private void AclLine(int line, string[] w)
    {
        if (w.Length < 3)
        {
            Untranslated(line, "acl", "expected acl NAME TYPE VALUE...");
            return;
        }

        string name = w[1];
        string type = w[2];
        AclKind kind = type switch
        {
            "src" => AclKind.Src,
            "dst" => AclKind.Dst,
            "dstdomain" => AclKind.DstDomain,
            "port" => AclKind.Port,
            "method" => AclKind.Method,
            "proxy_auth" => AclKind.ProxyAuth,
            _ => AclKind.Unsupported,
        };
        if (!_acls.TryGetValue(name, out Acl? acl) || acl.Line == 0)
        {
            acl = new Acl(name, kind, line);
            _acls[name] = acl;
        }
        else if (acl.Kind != kind && acl.Kind != AclKind.Unsupported)
        {
            acl.Kind = AclKind.Unsupported;
            acl.Why = $"acl {name} is defined with two types";
        }

        if (kind == AclKind.Unsupported)
        {
            acl.Kind = AclKind.Unsupported;
            acl.Why ??= $"acl type {type} has no Sluice equivalent";
            Untranslated(line, "acl", $"{name}: type {type} has no Sluice equivalent (http_access lines using it are narrowed or widened, see below)");
            return;
        }

        List<string> values = [];
        foreach (string value in w.Skip(3))
        {
            if (value is "-i" or "-n" or "+i" or "--")
            {
                continue; // Sluice compares names case-insensitively and never resolves dst names
            }

            if (value.StartsWith('"') && value.EndsWith('"') && value.Length > 2)
            {
                string path = value[1..^1];
                if (!File.Exists(path))
                {
                    Untranslated(line, "acl", $"{name}: the file {path} is not here to read its values");
                    acl.Kind = AclKind.Unsupported;
                    acl.Why = $"its values are in {path}, which could not be read";
                    return;
                }

                values.AddRange(Lines(File.ReadAllText(path)).SelectMany(l => l.Words));
                continue;
            }

            values.Add(value);
        }

        foreach (string value in values)
        {
            switch (kind)
            {
                case AclKind.Src:
                case AclKind.Dst:
                    if (SquidNetworks.TryParse(value, out List<IPNetwork> networks))
                    {
                        acl.Networks.AddRange(networks);
                    }
                    else
                    {
                        Untranslated(line, "acl", $"{name}: '{value}' is not an address, CIDR, netmask or IPv4 range (Sluice never resolves names in acls)");
                    }

                    break;
                case AclKind.Port:
                    if (PortRange.TryParse(value, out PortRange range, out _))
                    {
                        acl.Ports.Add(range);
                    }
                    else
                    {
                        Untranslated(line, "acl", $"{name}: '{value}' is not a port or range");
                    }

                    break;
                case AclKind.DstDomain:
                    if (DestinationPattern.TryParse(value, out DestinationPattern pattern, out string problem) && pattern.Kind is PatternKind.ExactName or PatternKind.NameAndSubdomains)
                    {
                        acl.Values.Add(value.ToLowerInvariant());
                    }
                    else
                    {
                        Untranslated(line, "acl", $"{name}: '{value}' is not a domain name ({(problem.Length > 0 ? problem : "dstdomain takes names")})");
                    }

                    break;
                case AclKind.Method:
                    acl.Values.Add(value.ToUpperInvariant());
                    break;
                case AclKind.ProxyAuth:
                    acl.Values.Add(value);
                    break;
            }
        }
    }

    private void AuthParam(int line, string[] w)
    {
        if (w.Length < 3 || w[1] != "basic")
        {
            Untranslated(line, "auth_param", $"scheme '{(w.Length > 1 ? w[1] : "")}': Sluice supports Basic authentication only");
            return;
        }

        switch (w[2])
        {
            case "program":
                string helper = w.Length > 3 ? Path.GetFileName(w[3]) : "";
                if (helper == "basic_ncsa_auth" && w.Length == 5)
                {
                    _usersFile = w[4];
                    _usersLine = line;
                    Remark(line, "auth_param", $"basic_ncsa_auth's file becomes auth.basic.usersFile {w[4]}: Sluice accepts bcrypt and SHA-crypt hashes only (re-create DES, MD5 or SHA1 entries with `sluice passwd`)");
                }
                else
                {
                    Untranslated(line, "auth_param", $"helper '{helper}': Sluice checks an htpasswd file itself (basic_ncsa_auth FILE is what translates)");
                }

                break;
            case "realm":
                _realm = string.Join(' ', w.Skip(3));
                break;
            default:
                Untranslated(line, "auth_param", $"basic {w[2]}: Sluice has no helper processes to tune; it caches successful checks for 5 minutes itself");
                break;
        }
    }

    private void AccessLog(int line, string[] w)
    {
        string target = w.Length > 1 ? w[1] : "";
        if (target == "none")
        {
            _logAccess = "off";
            return;
        }

        string path = target.StartsWith("stdio:", StringComparison.Ordinal) ? target[6..]
            : target.StartsWith("daemon:", StringComparison.Ordinal) ? target[7..]
            : target.StartsWith('/') ? target : "";
        if (path.Length == 0)
        {
            Untranslated(line, "access_log", $"'{target}': only files (stdio:, daemon: or a path) and none translate");
            return;
        }

        if (w.Length > 2 && !(w.Length == 3 && w[2] == "squid"))
        {
            Untranslated(line, "access_log", "log formats and acls on the log line: Sluice writes Squid's native format (or JSON with log.format)");
        }

        _logAccess = path;
    }

    private static bool TryDuration(string[] words, out string duration)
    {
        duration = "";
        if (words.Length is < 1 or > 2 || !double.TryParse(words[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n <= 0)
        {
            return false;
        }

        string unit = words.Length == 2 ? words[1].ToLowerInvariant().TrimEnd('s') : "second";
        double seconds = unit switch
        {
            "second" or "sec" => n,
            "minute" or "min" => n * 60,
            "hour" => n * 3600,
            "day" => n * 86400,
            "week" => n * 604800,
            "millisecond" or "msec" => n / 1000,
            _ => -1,
        };
        if (seconds <= 0)
        {
            return false;
        }

        duration = seconds < 1 ? $"{Math.Round(seconds * 1000)}ms"
            : seconds % 3600 == 0 ? $"{seconds / 3600}h"
            : seconds % 60 == 0 ? $"{seconds / 60}m"
            : $"{Math.Round(seconds)}s";
        return true;
    }

    // ---------------------------------------------------------------------------------------------------------

    /// <summary>What one http_access line requires, built acl by acl; null members mean "any".</summary>
    private sealed class Condition
    {
        public List<PortRange>? Ports { get; set; }

        public List<string>? Methods { get; set; }

        public bool HttpOnly { get; set; }

        public List<IPNetwork>? Clients { get; set; }

        public List<string>? Domains { get; set; }

        public List<IPNetwork>? Destinations { get; set; }

        public List<string>? Users { get; set; }

        public bool Never { get; set; }

        public string? NeverWhy { get; set; }

        public List<string> Parts { get; } = [];
    }

    private void BuildRules()
    {
        foreach ((int line, bool allow, List<(string Acl, bool Negated)> terms, string text) in _access)
        {
            Condition? c = Translate(line, allow, terms);
            if (c is null)
            {
                continue; // an allow line Sluice cannot express exactly is left out: it allows less
            }

            if (c.Never || c.Ports is { Count: 0 } || c.Methods is { Count: 0 } || c.Clients is { Count: 0 } || c.Domains is { Count: 0 } || c.Destinations is { Count: 0 } || c.Users is { Count: 0 })
            {
                Remark(line, "http_access", $"never matches in Sluice ({c.NeverWhy ?? "its acls have nothing in common"}); left out");
                continue;
            }

            AddRule(line, allow, c, text);
        }
    }

    private Condition? Translate(int line, bool allow, List<(string Acl, bool Negated)> terms)
    {
        var c = new Condition();
        foreach ((string name, bool negated) in terms)
        {
            string shown = negated ? "!" + name : name;
            c.Parts.Add(negated ? "not-" + name : name);
            if (!_acls.TryGetValue(name, out Acl? acl))
            {
                if (!Inexpressible(line, allow, $"acl {name} is not defined (Squid refuses such a file)"))
                {
                    return null;
                }

                continue;
            }

            switch (acl.Kind)
            {
                case AclKind.All:
                    if (negated)
                    {
                        c.Never = true;
                        c.NeverWhy = "!all matches nothing";
                    }

                    break;
                case AclKind.CacheManager:
                    if (negated)
                    {
                        Remark(line, "http_access", "!manager: every Sluice request is not a cache-manager request, so the condition always holds");
                    }
                    else
                    {
                        c.Never = true;
                        c.NeverWhy = "manager matches Squid's cache-manager requests (cache_object:// and /squid-internal-mgr/); Sluice has none, its admin endpoint is separate (admin.address); Squid also applies manager to any URL whose path starts with /squid-internal-mgr/, which Sluice rules do not look at";
                    }

                    break;
                case AclKind.Port:
                    c.Ports = SquidNetworks.Intersect(c.Ports ?? [new PortRange(1, 65535)], negated ? SquidNetworks.Complement(acl.Ports) : SquidNetworks.Merge(acl.Ports));
                    break;
                case AclKind.Method:
                    List<string> methods = acl.Values.Distinct().ToList();
                    if (negated && methods is ["CONNECT"])
                    {
                        c.HttpOnly = true; // every request that is not CONNECT is a forwarded one: schemes [http], exactly
                    }
                    else if (negated && allow)
                    {
                        c.Methods = Intersect(c.Methods, KnownMethods.Except(methods).ToList());
                        Remark(line, "http_access", $"{shown}: Sluice cannot say \"any method but\"; the rule lists the standard methods other than {string.Join(", ", methods)} (extension methods are not allowed by it)");
                    }
                    else if (negated)
                    {
                        Inexpressible(line, allow, $"{shown}: Sluice cannot say \"any method but\" {string.Join(", ", methods)}");
                    }
                    else
                    {
                        c.Methods = Intersect(c.Methods, methods);
                    }

                    break;
                case AclKind.Src:
                    c.Clients = SquidNetworks.Intersect(c.Clients ?? [.. SquidNetworks.Everything], negated ? SquidNetworks.Complement(acl.Networks) : SquidNetworks.Normalize(acl.Networks));
                    break;
                case AclKind.Dst:
                    if (negated)
                    {
                        if (allow)
                        {
                            c.Destinations = SquidNetworks.Intersect(c.Destinations ?? [.. SquidNetworks.Everything], SquidNetworks.Complement(acl.Networks));
                            Remark(line, "http_access", $"{shown}: Sluice matches address ranges against destinations written as IP addresses only, so this allow lets raw-IP requests outside {name} through and no names");
                        }
                        else if (!Inexpressible(line, allow, $"{shown}: Squid compares the resolved address of every destination; Sluice rules see only destinations written as IP addresses"))
                        {
                            return null;
                        }
                    }
                    else
                    {
                        c.Destinations = SquidNetworks.Intersect(c.Destinations ?? [.. SquidNetworks.Everything], SquidNetworks.Normalize(acl.Networks));
                        Remark(line, "http_access", allow
                            ? $"{name}: the rule matches destinations written as IP addresses; names resolving into {name} are not allowed by it (and private ranges are refused by the address guard unless addresses.allow lists them)"
                            : $"{name}: the rule matches destinations written as IP addresses; names resolving into non-public ranges are refused by the address guard in any case, into public ones they are not matched by this rule");
                    }

                    break;
                case AclKind.DstDomain:
                    if (negated || c.Domains is not null)
                    {
                        if (!Inexpressible(line, allow, negated ? $"{shown}: Sluice cannot say \"any destination but\" these names" : $"{shown}: two dstdomain acls on one line"))
                        {
                            return null;
                        }
                    }
                    else
                    {
                        c.Domains = acl.Values.Distinct().ToList();
                    }

                    break;
                case AclKind.ProxyAuth:
                    _usesAuth = true;
                    if (negated)
                    {
                        if (!Inexpressible(line, allow, $"{shown}: Sluice rules cannot match anonymous clients only"))
                        {
                            return null;
                        }
                    }
                    else if (!acl.Values.Contains("REQUIRED"))
                    {
                        c.Users = Intersect(c.Users, acl.Values.Distinct().ToList());
                    }

                    // REQUIRED: auth.required is true in the converted file, so every request that reaches a rule has
                    // valid credentials: the condition always holds and needs no matcher.
                    break;
                default:
                    if (!Inexpressible(line, allow, $"{shown}: {acl.Why}"))
                    {
                        return null;
                    }

                    break;
            }
        }

        if (c.Domains is not null && c.Destinations is not null)
        {
            if (!Inexpressible(line, allow, "a dstdomain and a dst acl on one line (a name and its resolved address)"))
            {
                return null;
            }

            c.Destinations = null;
        }

        if (c.HttpOnly && c.Methods is not null)
        {
            c.Methods.Remove("CONNECT");
        }

        return c;
    }

    /// <summary>A condition Sluice cannot express: an allow line is dropped (false), a deny line goes on without it (true).</summary>
    private bool Inexpressible(int line, bool allow, string why)
    {
        if (allow)
        {
            Untranslated(line, "http_access", $"{why}; this allow line is left out, so the requests it allowed are decided by the lines after it");
            return false;
        }

        Untranslated(line, "http_access", $"{why}; this deny line is translated without that condition, so it denies more than in Squid");
        return true;
    }

    private static List<string> Intersect(List<string>? current, List<string> values) =>
        current is null ? values : current.Intersect(values, StringComparer.Ordinal).ToList();

    private void AddRule(int line, bool allow, Condition c, string text)
    {
        string action = allow ? "allow" : "deny";
        string baseName = $"{action}-{(c.Parts.Count == 0 ? "all" : string.Join("-", c.Parts))}";
        baseName = new string(baseName.Select(ch => char.IsWhiteSpace(ch) || ch == '"' || char.IsControl(ch) ? '_' : ch).ToArray());
        string name = _rules.Any(r => r.Parsed.Name == baseName) ? $"{baseName}-line{line}" : baseName;

        var map = new YamlMap().Add("name", name).Add("action", action);
        var parsed = new Rule { Name = name, Action = allow ? RuleAction.Allow : RuleAction.Deny, Line = line };
        if (c.Domains is not null)
        {
            map.Add("destinations", new YamlList(c.Domains));
            parsed = parsed with { Destinations = [.. c.Domains.Select(d => DestinationPattern.TryParse(d, out DestinationPattern p, out _) ? p : null!)] };
        }
        else if (c.Destinations is not null && !IsEverything(c.Destinations))
        {
            map.Add("destinations", new YamlList(c.Destinations.Select(n => (object)n.ToString())));
            parsed = parsed with { Destinations = [.. c.Destinations.Select(n => DestinationPattern.TryParse(n.ToString(), out DestinationPattern p, out _) ? p : null!)] };
        }

        if (c.Ports is not null && !(c.Ports is [{ First: 1, Last: 65535 }]))
        {
            map.Add("ports", new YamlList(c.Ports.Select(p => p.First == p.Last ? (object)p.First : p.ToString())));
            parsed = parsed with { Ports = [.. c.Ports] };
        }

        if (c.Methods is not null)
        {
            map.Add("methods", new YamlList(c.Methods));
            parsed = parsed with { Methods = [.. c.Methods] };
        }

        if (c.HttpOnly)
        {
            map.Add("schemes", new YamlList { "http" });
            parsed = parsed with { Schemes = [Sluice.Policy.Decisions.RequestScheme.Http] };
        }

        if (c.Clients is not null && !IsEverything(c.Clients))
        {
            map.Add("clients", new YamlList(c.Clients.Select(n => (object)n.ToString())));
            parsed = parsed with { Clients = [.. c.Clients] };
        }

        if (c.Users is not null)
        {
            map.Add("users", new YamlList(c.Users));
            parsed = parsed with { Users = [.. c.Users] };
        }

        if (_rules.FirstOrDefault(r => RuleShadowing.Covers(r.Parsed, parsed)) is { Rule: not null } earlier)
        {
            Remark(line, "http_access", $"never decides anything: the rule from line {earlier.Parsed.Line} ({earlier.Parsed.Name}) comes first and matches every request this one does; left out (Sluice refuses unreachable rules)");
            return;
        }

        _rules.Add((map, parsed, $"line {line}: {text}"));
    }

    private static bool IsCatchAll(Rule rule) =>
        rule.Destinations.IsEmpty && rule.Ports.IsEmpty && rule.Methods.IsEmpty && rule.Schemes.IsEmpty && rule.Clients.IsEmpty && rule.Users.IsEmpty;

    private static bool IsEverything(List<IPNetwork> networks) => SquidNetworks.Everything.All(networks.Contains);

    private string Render()
    {
        var root = new YamlMap();
        root.Add("name", _name);
        if (_listeners.Count == 0)
        {
            Remark(0, "http_port", "none given: Squid's default port 3128 on every address");
            _listeners.Add(new YamlMap().Add("address", "[::]:3128"));
        }

        root.Add("listeners", new YamlList(_listeners));
        if (_usesAuth)
        {
            if (_usersFile is null)
            {
                Untranslated(_access.FirstOrDefault().Line, "proxy_auth", "no auth_param basic program basic_ncsa_auth FILE: without a users file the converted rules cannot ask for credentials");
            }
            else
            {
                var basic = new YamlMap();
                if (_realm is not null && _realm.Length is > 0 and <= 128 && _realm.All(ch => ch >= ' ' && ch <= '~' && ch is not '"' and not '\\'))
                {
                    basic.Add("realm", _realm);
                }

                basic.Add("usersFile", _usersFile);
                root.Add("auth", new YamlMap().Add("basic", basic).Add("required", true),
                    "proxy_auth: every client authenticates (Squid asks only on reaching a proxy_auth acl; Sluice asks before any rule)");
                if (_access.TakeWhile(a => !a.Terms.Any(t => _acls.TryGetValue(t.Acl, out Acl? acl) && acl.Kind == AclKind.ProxyAuth)).Any(a => a.Allow))
                {
                    Remark(_usersLine, "auth_param", "allow lines before the first proxy_auth acl served clients without credentials in Squid; with auth.required: true Sluice asks them too");
                }
            }
        }
        else if (_usersFile is not null)
        {
            Remark(_usersLine, "auth_param", "no http_access line uses a proxy_auth acl, so no authentication is configured");
        }

        var rules = new YamlList();
        foreach ((YamlMap rule, _, string comment) in _rules)
        {
            rules.AddWithComment(rule, comment);
        }

        root.Add("rules", rules.Count > 0 ? rules : null);
        string defaultAction;
        string defaultWhy;
        if (_access.Count == 0)
        {
            defaultAction = "deny";
            defaultWhy = "no http_access lines: Squid denies every request";
        }
        else
        {
            var last = _access[^1];
            defaultAction = last.Allow ? "deny" : "allow";
            defaultWhy = $"Squid's implicit default is the opposite of the last http_access line (line {last.Line}: {last.Text})";
            if (_rules.Count > 0 && _rules[^1].Parsed.Line == last.Line && IsCatchAll(_rules[^1].Parsed))
            {
                // The last line matches every request, so Squid's default is never reached: say so rather than write
                // a default that only looks permissive.
                defaultAction = "deny";
                defaultWhy = $"never reached: the last http_access line (line {last.Line}: {last.Text}) matches every request (Squid's implicit default, the opposite of that line, is never reached either)";
            }
        }

        root.Add("default", defaultAction, defaultWhy);
        var timeouts = new YamlMap().Add("connect", _connectTimeout).Add("idle", _idleTimeout);
        root.Add("timeouts", timeouts.Count > 0 ? timeouts : null);
        if (_logAccess is not null)
        {
            root.Add("log", new YamlMap().Add("access", _logAccess).Add("format", "squid"));
        }

        return YamlOut.Write(root, [
            $"Converted by `sluice import-squid` from {_file}.",
            "Each rule comes from the http_access line named above it; first match wins, as in Squid.",
            "Squid has no address guard: Sluice refuses private, loopback and link-local destinations unless addresses.allow lists them.",
        ]);
    }
}
