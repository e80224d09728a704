using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Addresses;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Config;

/// <summary>
/// Risky but valid configurations, found by looking at the whole file: what <c>sluice check</c> warns about.
/// </summary>
public static class ConfigAdvisor
{
    public static IReadOnlyList<string> Warnings(SluiceConfig config)
    {
        var warnings = new List<string>();
        ImmutableRules(config, warnings);
        AddressRanges(config, warnings);
        OpenProxy(config, warnings);
        CleartextCredentials(config, warnings);
        Upstreams(config, warnings);
        Inspection(config, warnings);
        if (config.Default == RuleAction.Allow)
        {
            warnings.Add("default: allow lets every destination no rule denies through; an egress allowlist usually ends with default: deny");
        }

        ReportMode(config, warnings);
        return warnings;
    }

    private static void ReportMode(SluiceConfig config, List<string> warnings)
    {
        if (config.Mode == PolicyMode.Report)
        {
            warnings.Add("mode: report: nothing is refused by the rules: every deny is only recorded (would-denies in the access log, /api/rules and sluice_would_deny_total); set mode: enforce once they are what you expect");
            return;
        }

        // A report rule that only the default could follow: enforced as a deny it would change nothing (the default
        // denies what it matches already), while on trial it lets through what the default refuses today.
        if (config.Default != RuleAction.Deny)
        {
            return;
        }

        for (int i = 0; i < config.Rules.Length; i++)
        {
            Rule rule = config.Rules[i];
            if (rule.Action == RuleAction.Report && !config.Rules.Skip(i + 1).Any(later => later.Action == RuleAction.Allow && MayOverlap(later, rule)))
            {
                warnings.Add($"rule {rule.Name} (line {rule.Line}) is a report rule with no allow rule after it for its destinations: enforced, it would refuse only what the default refuses already, and on trial it lets that through; remove it, or move it before the allow rule it is meant to narrow");
            }
        }
    }

    private static bool MayOverlap(Rule rule, Rule other) =>
        rule.Destinations.IsEmpty || other.Destinations.IsEmpty || other.Destinations.Any(d => Overlaps(rule, d));

    private static void ImmutableRules(SluiceConfig config, List<string> warnings)
    {
        for (int i = 0; i < config.Rules.Length; i++)
        {
            Rule rule = config.Rules[i];
            bool anyName = rule.Destinations.IsEmpty || rule.Destinations.Any(d => d.Kind == PatternKind.AnyName && d.Port is null);
            if (rule.Action != RuleAction.Allow || !anyName || !rule.Clients.IsEmpty || !rule.Users.IsEmpty || !rule.Groups.IsEmpty)
            {
                continue;
            }

            string[] laterDenies = config.Rules.Skip(i + 1).Where(r => r.Action != RuleAction.Allow).Select(r => r.Name).ToArray();
            if (laterDenies.Length > 0)
            {
                warnings.Add($"rule {rule.Name} (line {rule.Line}) allows any destination before the deny rules {string.Join(", ", laterDenies)}: those denies only apply where {rule.Name}'s ports or methods do not; put denies first");
            }
        }
    }

    private static void AddressRanges(SluiceConfig config, List<string> warnings)
    {
        foreach (IPNetwork network in config.Addresses.Allow)
        {
            bool wide = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? network.PrefixLength <= 16 : network.PrefixLength <= 48;
            if (wide && !AddressClassifier.Classify(network.BaseAddress).IsPublic)
            {
                warnings.Add($"addresses.allow {network} makes a whole non-public range reachable through the proxy; allow the few addresses that need it (e.g. 10.1.2.3/32)");
            }
        }
    }

    private static void CleartextCredentials(SluiceConfig config, List<string> warnings)
    {
        if (config.Auth is null)
        {
            return;
        }

        foreach (ListenerConfig listener in config.Listeners.Where(l => l.Tls is null && !IPAddress.IsLoopback(l.Address.Address)))
        {
            warnings.Add($"Basic authentication on the plain listener {Endpoints.Format(listener.Address)}, which is reachable beyond this machine: passwords cross the network in clear text; add tls: to the listener");
        }
    }

    private static void OpenProxy(SluiceConfig config, List<string> warnings)
    {
        ListenerConfig[] exposed = config.Listeners.Where(l => !IPAddress.IsLoopback(l.Address.Address)).ToArray();
        if (exposed.Length == 0)
        {
            return;
        }

        if (config.Auth is { Required: true })
        {
            return; // every client must authenticate
        }

        Rule[] unrestricted = config.Rules.Where(r => r.Action == RuleAction.Allow && r.Clients.IsEmpty && r.Users.IsEmpty && r.Groups.IsEmpty).ToArray();
        if (unrestricted.Length > 0 || config.Default == RuleAction.Allow || config.Mode == PolicyMode.Report)
        {
            string who = unrestricted.Length > 0 ? $"rules {string.Join(", ", unrestricted.Select(r => r.Name))} allow any client"
                : config.Default == RuleAction.Allow ? "the default allows any client" : "mode: report lets any client through";
            warnings.Add($"listener {Endpoints.Format(exposed[0].Address)} is reachable beyond this machine and {who}: anyone who can reach it can use the proxy; restrict rules with clients: (source CIDRs) or require authentication");
        }
    }

    private static void Upstreams(SluiceConfig config, List<string> warnings)
    {
        foreach (UpstreamConfig upstream in config.Upstreams)
        {
            if (config.Route.Default != upstream.Name && !config.Rules.Any(r => r.Via == upstream.Name))
            {
                warnings.Add($"upstream {upstream.Name} (line {upstream.Line}) is not used: no rule names it with via: and route.default is {config.Route.Default}");
            }

            if (upstream.Credentials is not null && upstream.Proxies.FirstOrDefault(p => !p.Tls && !IsLoopback(p)) is { } plain)
            {
                warnings.Add($"upstream {upstream.Name} sends its credentials to {plain} in clear text (Basic over http://); use https:// for that proxy if it offers TLS");
            }

            if (upstream.CheckDestinations == DestinationCheck.Parent)
            {
                warnings.Add($"upstream {upstream.Name} has checkDestinations: parent: names sent through it are not checked by the address guard here (only IP literals are), so the parent's own policy must refuse internal addresses");
            }
        }
    }

    private static void Inspection(SluiceConfig config, List<string> warnings)
    {
        Rule[] inspecting = config.Rules.Where(r => r.Tls == TlsMode.Inspect).ToArray();
        InspectionConfig? inspection = config.Inspection;
        if (inspection is not null)
        {
            if (inspecting.Length == 0)
            {
                warnings.Add($"tls.inspection (line {inspection.Line}) is configured but no rule says tls: inspect: nothing is inspected");
            }
            else if (inspection.NeverInspect.IsEmpty)
            {
                warnings.Add($"rules {string.Join(", ", inspecting.Select(r => r.Name))} inspect TLS and tls.inspection.neverInspect is empty: list the destinations that must never be inspected (certificate-pinned apps, banking, health) so no rule can inspect them");
            }

            foreach (Rule rule in inspecting.Where(r => !r.Destinations.IsEmpty && r.Destinations.All(d => NeverInspected(inspection, d))))
            {
                warnings.Add($"rule {rule.Name} (line {rule.Line}) says tls: inspect, but every destination it names is in tls.inspection.neverInspect: {(rule.MatchesTunnels ? "it only ever allows untouched tunnels" : "its paths or methods match no CONNECT there, so it allows no HTTPS at all")}");
            }
        }

        foreach (Rule rule in config.Rules.Where(r => !r.Paths.IsEmpty))
        {
            if (PathsUnseenInHttps(config, rule, inspecting) is { } why)
            {
                warnings.Add($"rule {rule.Name} (line {rule.Line}) names paths, {why}: they are seen in http:// requests only, so its {(rule.Action == RuleAction.Deny ? "denies" : "allows")} never apply to HTTPS");
            }
        }
    }

    // Where does an HTTPS request to the rule's destinations get decided? By the first allow rule that can take a
    // CONNECT there: the paths are seen only if that rule inspects and the destination may be inspected.
    private static string? PathsUnseenInHttps(SluiceConfig config, Rule rule, Rule[] inspecting)
    {
        if (rule.Destinations.IsEmpty)
        {
            return inspecting.Length == 0 ? "but no rule inspects HTTPS (tls: inspect)" : null; // any destination: no one rule decides
        }

        foreach (DestinationPattern destination in rule.Destinations)
        {
            if (config.Inspection is { } inspection && NeverInspected(inspection, destination))
            {
                return $"but {destination} is in tls.inspection.neverInspect";
            }

            Rule? first = config.Rules.FirstOrDefault(x => x.Action == RuleAction.Allow && (x.Tls == TlsMode.Inspect || x.MatchesTunnels) && Overlaps(x, destination));
            if (first is { Tls: TlsMode.Tunnel })
            {
                return $"but a CONNECT to {destination} is decided first by rule {first.Name} (line {first.Line}), which tunnels it without inspecting";
            }

            // No allow rule takes it (inspecting rules always allow): the default decides the CONNECT, as a tunnel. A
            // deny's paths lose nothing when that default is deny too.
            if (first is null && (rule.Action == RuleAction.Allow || config.Default == RuleAction.Allow))
            {
                return $"but no rule inspects HTTPS to {destination} (tls: inspect)";
            }
        }

        return null;
    }

    private static bool Overlaps(Rule rule, DestinationPattern destination) =>
        rule.Destinations.IsEmpty || rule.Destinations.Any(d => RuleShadowing.Covers(d, destination) || RuleShadowing.Covers(destination, d));

    private static bool NeverInspected(InspectionConfig inspection, DestinationPattern destination) =>
        inspection.NeverInspect.Any(n => RuleShadowing.Covers(n, destination));

    private static bool IsLoopback(ParentProxyAddress proxy) =>
        proxy.Address.Address is { } ip ? IPAddress.IsLoopback(ip) : proxy.Address.Host == "localhost";
}
