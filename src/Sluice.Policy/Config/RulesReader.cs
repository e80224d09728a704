using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Sluice.Policy.Addresses;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>Reads <c>rules:</c> and <c>default:</c>, and refuses rules that could never take effect.</summary>
internal static class RulesReader
{
    private static readonly string[] KnownMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"];

    public static RuleAction ReadDefault(YamlSection top) =>
        top.Parse("default", RuleAction.Deny, TryParseDefault, "allow or deny");

    /// <summary><c>mode: enforce | report</c>: whether denials are enforced or only recorded as would-denies.</summary>
    public static PolicyMode ReadMode(YamlSection top) =>
        top.Parse("mode", PolicyMode.Enforce, TryParseMode, "enforce or report");

    public static ImmutableArray<Rule> ReadRules(YamlSection top, ImmutableArray<UpstreamConfig> upstreams, InspectionConfig? inspection = null)
    {
        IReadOnlyList<YamlNode> items = top.List("rules");
        var rules = ImmutableArray.CreateBuilder<Rule>(items.Count);
        var names = new Dictionary<string, Rule>(StringComparer.Ordinal);
        var shadows = new ShadowIndex();
        for (int i = 0; i < items.Count; i++)
        {
            YamlSection item = top.Item(items[i], i, "rules");
            Rule rule = ReadRule(item, items[i], i, top, upstreams, inspection);
            if (names.TryGetValue(rule.Name, out Rule? same))
            {
                throw top.Error(items[i], $"rules[{i}]: the name '{rule.Name}' is already used by the rule on line {same.Line}");
            }

            if (shadows.FindCovering(rule) is { } earlier)
            {
                throw top.Error(items[i], $"rules[{i}] '{rule.Name}' can never match: rule '{earlier.Name}' (line {earlier.Line}) comes first and matches everything it matches");
            }

            shadows.Add(rule);

            names[rule.Name] = rule;
            rules.Add(rule);
        }

        return rules.ToImmutable();
    }

    private static Rule ReadRule(YamlSection item, YamlNode node, int index, YamlSection top, ImmutableArray<UpstreamConfig> upstreams, InspectionConfig? inspection)
    {
        string where = $"rules[{index}]";
        string name = item.String("name") ?? throw top.Error(node, $"{where}: 'name' is required (it appears in logs, 403 responses and sluice explain)");
        if (name.Length == 0 || name.Any(c => char.IsWhiteSpace(c) || c == '"' || char.IsControl(c)))
        {
            throw top.Error(item.Get("name")!, $"{where}: the name '{name}' must be non-empty without spaces or quotes");
        }

        RuleAction action = item.Get("action") is null
            ? throw top.Error(node, $"{where} '{name}': 'action' is required: allow, deny or report")
            : item.Parse("action", RuleAction.Deny, TryParseAction, "allow, deny or report");

        var rule = new Rule
        {
            Name = name,
            Action = action,
            Line = node.Start.Line,
            Destinations = ReadList(item, "destinations", where, (string text, out DestinationPattern p, out string problem) => DestinationPattern.TryParse(text, out p, out problem)),
            Ports = ReadList(item, "ports", where, (string text, out PortRange p, out string problem) => PortRange.TryParse(text, out p, out problem)),
            Methods = ReadList<string>(item, "methods", where, TryParseMethod),
            Schemes = ReadList<RequestScheme>(item, "schemes", where, TryParseScheme),
            Paths = ReadList(item, "paths", where, (string text, out PathPattern p, out string problem) => PathPattern.TryParse(text, out p, out problem)),
            Tls = item.Parse("tls", TlsMode.Tunnel, TryParseTls, "tunnel or inspect"),
            Ftp = item.Parse("ftp", FtpMode.Off, TryParseFtp, "passive or off"),
            Clients = ReadList<IPNetwork>(item, "clients", where, TryParseClient),
            Users = ReadList<string>(item, "users", where, TryParseIdentity),
            Groups = ReadList<string>(item, "groups", where, TryParseIdentity),
            Via = UpstreamsReader.CheckRoute(item, "via", $"{where}.via", upstreams),
        };
        if (rule.Via is not null && action != RuleAction.Allow)
        {
            throw top.Error(item.Get("via")!, $"{where} '{name}': {Refuses(rule)} sends nothing anywhere, so via: has no meaning here");
        }

        CheckTls(rule, item, where, top, inspection);
        CheckFtp(rule, item, where, top);
        CheckPaths(rule, item, where, top);
        item.RejectUnknownKeys();
        return rule;
    }

    // Paths are seen in http:// requests and inside inspected tunnels; a rule that admits CONNECTs only sees none.
    private static void CheckPaths(Rule rule, YamlSection item, string where, YamlSection top)
    {
        if (rule.Paths.IsEmpty)
        {
            return;
        }

        if (!rule.Schemes.IsEmpty && rule.Schemes.All(s => s == RequestScheme.Tunnel))
        {
            throw top.Error(item.Get("paths")!, $"{where} '{rule.Name}': schemes: [tunnel] admits only CONNECTs, which show no path, so a rule with paths: could never match; paths are seen in http:// requests and inside inspected tunnels");
        }

        if (!rule.Methods.IsEmpty && rule.Methods.All(m => m == "CONNECT"))
        {
            throw top.Error(item.Get("paths")!, $"{where} '{rule.Name}': methods: [CONNECT] admits only CONNECTs, which show no path, so a rule with paths: could never match; paths are seen in http:// requests and inside inspected tunnels");
        }
    }

    private static void CheckTls(Rule rule, YamlSection item, string where, YamlSection top, InspectionConfig? inspection)
    {
        if (item.Get("tls") is not { } tls)
        {
            return;
        }

        if (rule.Action != RuleAction.Allow)
        {
            throw top.Error(tls, $"{where} '{rule.Name}': {Refuses(rule)} opens no tunnel, so tls: has no meaning here");
        }

        if (rule.Tls == TlsMode.Inspect && inspection is null)
        {
            throw top.Error(tls, $"{where} '{rule.Name}': tls: inspect needs tls.inspection (a CA to sign the certificates clients are shown): create one with sluice ca init");
        }

        if (rule.Tls == TlsMode.Inspect && !rule.Schemes.IsEmpty)
        {
            throw top.Error(item.Get("schemes")!, $"{where} '{rule.Name}': an inspecting rule decides the CONNECT and the https requests inside it, so schemes: has no meaning here");
        }

        // tls: inspect with methods: [CONNECT] is allowed on purpose: it inspects the tunnel and leaves every request
        // inside to the other rules (Squid's "http_access allow CONNECT x" with "ssl_bump bump x").
    }

    // Permits come from the server's replies inside a relayed CONNECT: the rule must be able to allow one and leave its
    // bytes readable.
    private static void CheckFtp(Rule rule, YamlSection item, string where, YamlSection top)
    {
        if (item.Get("ftp") is not { } ftp || rule.Ftp == FtpMode.Off)
        {
            return;
        }

        if (rule.Action != RuleAction.Allow)
        {
            throw top.Error(ftp, $"{where} '{rule.Name}': {Refuses(rule)} opens no control connection, so ftp: has no meaning here");
        }

        if (rule.Tls == TlsMode.Inspect)
        {
            throw top.Error(ftp, $"{where} '{rule.Name}': ftp: passive reads an FTP control connection relayed as it is; an inspected tunnel carries TLS, not FTP");
        }

        if (!rule.MatchesTunnels)
        {
            throw top.Error(ftp, $"{where} '{rule.Name}': ftp: passive reads the control connection of a CONNECT (curl -p, ftp_proxy with tunnelling), and this rule's methods, schemes or paths admit no CONNECT");
        }
    }

    private static bool TryParseFtp(string text, out FtpMode mode)
    {
        (bool ok, mode) = text switch
        {
            "passive" => (true, FtpMode.Passive),
            "off" => (true, FtpMode.Off),
            _ => (false, FtpMode.Off),
        };
        return ok;
    }

    private static bool TryParseTls(string text, out TlsMode mode)
    {
        (bool ok, mode) = text switch
        {
            "tunnel" => (true, TlsMode.Tunnel),
            "inspect" => (true, TlsMode.Inspect),
            _ => (false, TlsMode.Tunnel),
        };
        return ok;
    }

    private delegate bool EntryParser<T>(string text, out T value, out string problem);

    private static ImmutableArray<T> ReadList<T>(YamlSection item, string key, string where, EntryParser<T> parse)
    {
        YamlNode? node = item.Get(key);
        if (node is null)
        {
            return [];
        }

        IReadOnlyList<YamlNode> entries = item.List(key);
        if (entries.Count == 0)
        {
            throw item.Error(node, $"{where}.{key} is empty, so the rule could never match; remove the key to match any {key[..^1]}");
        }

        var values = ImmutableArray.CreateBuilder<T>(entries.Count);
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (YamlNode entry in entries)
        {
            if (entry is not YamlScalarNode { Value: { } text } || !parse(text, out T value, out string problem))
            {
                string why = entry is YamlScalarNode { Value: { } t } && !parse(t, out _, out string p) ? p : $"expected a single value, got {YamlSection.Show(entry)}";
                throw item.Error(entry, $"{where}.{key}: {why}");
            }

            // Duplicates are found by parsed value, not by text: "a.test" and "A.test." or "443" and "443-443" are the
            // same entry, while users "alice" and "Alice" are two users (they are matched case-sensitively).
            if (!seen.TryAdd(DuplicateKey(value), text))
            {
                string first = seen[DuplicateKey(value)];
                throw item.Error(entry, first == text
                    ? $"{where}.{key}: '{text}' is listed twice"
                    : $"{where}.{key}: '{text}' is listed twice (the same as '{first}')");
            }

            values.Add(value);
        }

        return values.ToImmutable();
    }

    private static string DuplicateKey<T>(T value) => value switch
    {
        DestinationPattern d => $"{d.Kind} {d.Name} {d.Network} {d.Port}", // Text is the spelling, not the meaning
        PathPattern p => $"{p.IsGlob} {p.Text}",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    // A report rule is a deny on trial: what it lets through goes by route.default, untouched, as if no rule had matched.
    private static string Refuses(Rule rule) => rule.Action == RuleAction.Report ? "a report rule (a deny on trial)" : "a deny rule";

    private static bool TryParseAction(string text, out RuleAction action)
    {
        (bool ok, action) = text switch
        {
            "allow" => (true, RuleAction.Allow),
            "deny" => (true, RuleAction.Deny),
            "report" => (true, RuleAction.Report),
            _ => (false, RuleAction.Deny),
        };
        return ok;
    }

    // The default is allow or deny; a policy on trial says mode: report rather than default: report.
    private static bool TryParseDefault(string text, out RuleAction action) =>
        TryParseAction(text, out action) && action != RuleAction.Report;

    private static bool TryParseMode(string text, out PolicyMode mode)
    {
        (bool ok, mode) = text switch
        {
            "enforce" => (true, PolicyMode.Enforce),
            "report" => (true, PolicyMode.Report),
            _ => (false, PolicyMode.Enforce),
        };
        return ok;
    }

    private static bool TryParseMethod(string text, out string method, out string problem)
    {
        method = text.Trim().ToUpperInvariant();
        problem = "";
        if (method.Length == 0 || !method.All(c => char.IsAsciiLetterUpper(c) || c == '-'))
        {
            problem = $"'{text}' is not an HTTP method";
            return false;
        }

        if (!KnownMethods.Contains(method) && text.Trim() != method)
        {
            problem = $"'{text}' is not a standard method; write extension methods in upper case as clients send them";
            return false;
        }

        return true;
    }

    private static bool TryParseScheme(string text, out RequestScheme scheme, out string problem)
    {
        problem = "";
        (bool ok, scheme) = text.Trim() switch
        {
            "http" => (true, RequestScheme.Http),
            "tunnel" => (true, RequestScheme.Tunnel),
            "https" => (true, RequestScheme.Https),
            "ftp" => (true, RequestScheme.Ftp),
            _ => (false, RequestScheme.Http),
        };
        if (!ok)
        {
            problem = $"'{text}' is not a scheme: use http (forwarded requests), tunnel (CONNECT), https (requests inside an inspected tunnel) or ftp (ftp:// URLs, fetched over FTP by the proxy)";
        }

        return ok;
    }

    private static bool TryParseClient(string text, out IPNetwork network, out string problem)
    {
        problem = "";
        if (Networks.TryParse(text, out network))
        {
            network = DestinationPattern.AsRequestsAreCompared(network); // clients are compared in IPv4 form too
            return true;
        }

        problem = $"'{text}' is not a client address or CIDR such as 10.20.0.0/16 (host bits must be zero)";
        return false;
    }

    private static bool TryParseIdentity(string text, out string identity, out string problem)
    {
        identity = text.Trim();
        problem = identity.Length == 0 || identity.Any(char.IsWhiteSpace) ? $"'{text}' is not a user or group name" : "";
        return problem.Length == 0;
    }
}
