using Sluice.Deploy.Yaml;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// Writes a <see cref="SquidTranslation"/> as a Sluice configuration file: each rule under a comment naming the
/// http_access line it comes from, the default with the reason for it.
/// </summary>
public static class SquidWriter
{
    /// <param name="source">The squid.conf's name, for the header.</param>
    public static string Write(SquidTranslation translation, string source)
    {
        var root = new YamlMap();
        root.Add("name", translation.Name);
        root.Add("listeners", new YamlList(translation.Listeners.Select(Listener)));
        if (translation.Auth is { } auth)
        {
            var basic = new YamlMap().Add("realm", auth.Realm).Add("usersFile", auth.UsersFile);
            root.Add("auth", new YamlMap().Add("basic", basic).Add("required", true),
                "proxy_auth: every client authenticates (Squid asks only on reaching a proxy_auth acl; Sluice asks before any rule)");
        }

        var upstreams = new YamlList();
        foreach (SquidUpstream upstream in translation.Upstreams)
        {
            upstreams.AddWithComment(Upstream(upstream), upstream.Comment);
        }

        root.Add("upstreams", upstreams.Count > 0 ? upstreams : null,
            "Parents from cache_peer lines. checkDestinations is local (the default): Sluice resolves a name and refuses private addresses\nbefore sending it up; a name that does not resolve here goes up for the parent to resolve.");
        if (translation.Inspection is { } inspection)
        {
            var map = new YamlMap()
                .Add("ca", inspection.Ca)
                .Add("key", inspection.Key)
                .Add("upstreamCa", inspection.UpstreamCa)
                .Add("neverInspect", List(inspection.NeverInspect));
            root.Add("tls", new YamlMap().Add("inspection", map), inspection.Comment);
        }

        var rules = new YamlList();
        foreach (TranslatedRule rule in translation.Rules)
        {
            rules.AddWithComment(Rule(rule.Rule), $"line {rule.Rule.Line}: {rule.AccessLine}" + (rule.Route is null ? "" : $"\n{rule.Route}") + (rule.Tls is null ? "" : $"\n{rule.Tls}"));
        }

        root.Add("rules", rules.Count > 0 ? rules : null);
        if (translation.RouteDefault is { } route)
        {
            root.Add("route", new YamlMap().Add("default", route), "Where allowed requests go when their rule has no via:");
        }

        root.Add("default", translation.Default == RuleAction.Allow ? "allow" : "deny", translation.DefaultWhy);
        var timeouts = new YamlMap()
            .Add("connect", translation.ConnectTimeout is { } connect ? Durations.Format(connect) : null)
            .Add("idle", translation.IdleTimeout is { } idle ? Durations.Format(idle) : null);
        root.Add("timeouts", timeouts.Count > 0 ? timeouts : null);
        if (translation.AccessLog is { } access)
        {
            root.Add("log", new YamlMap().Add("access", access).Add("format", "squid"));
        }

        return YamlWriter.Write(root, [
            $"Converted by `sluice import-squid` from {source}.",
            "Each rule comes from the http_access line named above it; first match wins, as in Squid.",
            "Squid has no address guard: Sluice refuses private, loopback and link-local destinations unless addresses.allow lists them.",
        ]);
    }

    private static YamlMap Listener(SquidListener listener)
    {
        var map = new YamlMap().Add("address", listener.Address);
        if (listener.Tls is { } tls)
        {
            map.Add("tls", new YamlMap().Add("certificate", tls.Certificate).Add("key", tls.Key).Add("clientCa", tls.ClientCa));
        }

        return map;
    }

    /// <summary>An upstream in the configuration's own keys: the password is named (an environment variable), never written.</summary>
    private static YamlMap Upstream(SquidUpstream upstream)
    {
        var map = new YamlMap()
            .Add("name", upstream.Name)
            .Add("proxies", new YamlList(upstream.Proxies))
            .Add("balance", upstream.Balance switch
            {
                Balance.RoundRobin => "round-robin",
                Balance.HashDestination => "hash-destination",
                _ => null,
            });
        if (upstream.User is { } user)
        {
            map.Add("credentials", new YamlMap().Add("user", user).Add("passwordEnv", upstream.PasswordEnv));
        }

        return map.Add("ca", upstream.Ca);
    }

    /// <summary>A rule in the configuration's own keys; a matcher the rule does not have is not written.</summary>
    private static YamlMap Rule(Rule rule) => new YamlMap()
        .Add("name", rule.Name)
        .Add("action", rule.Action == RuleAction.Allow ? "allow" : "deny")
        .Add("destinations", List(rule.Destinations.Select(d => d.Text)))
        .Add("ports", List(rule.Ports.Select(p => p.First == p.Last ? (object)p.First : p.ToString())))
        .Add("tls", rule.Tls == TlsMode.Inspect ? "inspect" : null)
        .Add("ftp", rule.Ftp == FtpMode.Passive ? "passive" : null)
        .Add("methods", List(rule.Methods))
        .Add("paths", List(rule.Paths.Select(p => p.Text)))
        .Add("schemes", List(rule.Schemes.Select(s => s.ToString().ToLowerInvariant())))
        .Add("clients", List(rule.Clients.Select(n => n.ToString())))
        .Add("users", List(rule.Users))
        .Add("via", rule.Via);

    private static YamlList? List<T>(IEnumerable<T> items) where T : notnull
    {
        var list = new YamlList(items.Cast<object>());
        return list.Count > 0 ? list : null;
    }
}
