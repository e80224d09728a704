using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// Translates a read squid.conf into a Sluice configuration. The translation never lets through a request Squid
/// would refuse: where Sluice cannot say exactly what a line says, a deny line is widened (the condition it cannot
/// express is left out, so it denies more) and an allow line is left out or narrowed (it allows less). Every such
/// place, and every directive without an equivalent, is reported with its line number.
/// </summary>
public static class SquidTranslator
{
    public static SquidTranslation Translate(SquidConf conf)
    {
        var notes = new SquidNotes();
        notes.AddRange(conf.Problems);
        List<SquidListener> listeners = SquidListeners.Translate(conf.Ports, notes);
        AclTable acls = AclTable.Build(conf.Acls, notes);
        SquidSettings settings = SquidSettings.Translate(conf.Directives.Where(d => !PeerDirectives.Handles(d.Name) && !BumpDirectives.Handles(d.Name)), notes);
        PeerDirectives peers = PeerDirectives.Read(conf.Directives, notes);
        BumpDirectives bump = BumpDirectives.Read(conf.Ports, conf.Directives, notes);
        List<PeerGroup> groups = PeerTranslation.Translate(peers, notes);
        SquidRoutes routes = SquidRoutes.Build(peers, groups, acls, notes);
        (List<TranslatedRule> access, bool usesAuth) = AccessRules.Translate(conf.Access, acls, routes, notes);
        (List<TranslatedRule> inspected, SquidInspection? inspection) = InspectedRules.Apply(access, BumpPlan.Build(bump.Lines, acls, notes), bump, notes);
        List<TranslatedRule> rules = PassiveFtpRules.Apply(inspected, notes);

        if (listeners.Count == 0)
        {
            notes.Remark(0, "http_port", "none given: Squid's default port 3128 on every address");
            listeners.Add(new SquidListener("[::]:3128"));
        }

        SquidAuth? auth = Auth(conf.Access, acls, settings, usesAuth, notes);
        (RuleAction defaultAction, string defaultWhy) = RoutedDefault(Default(conf.Access, rules), routes, notes);
        UnusedUpstreams(groups, rules, routes, notes);
        return new SquidTranslation
        {
            Name = settings.Name,
            Listeners = listeners,
            Auth = auth,
            Upstreams = [.. groups.Select(g => g.Upstream)],
            Inspection = inspection,
            Rules = rules,
            RouteDefault = routes.Default == RouteConfig.Direct ? null : routes.Default,
            Default = defaultAction,
            DefaultWhy = defaultWhy,
            ConnectTimeout = settings.ConnectTimeout,
            IdleTimeout = settings.IdleTimeout,
            AccessLog = settings.AccessLog,
            Notes = notes.ByLine(),
        };
    }

    private static SquidAuth? Auth(IReadOnlyList<SquidAccess> access, AclTable acls, SquidSettings settings, bool usesAuth, SquidNotes notes)
    {
        if (!usesAuth)
        {
            if (settings.UsersFile is not null)
            {
                notes.Remark(settings.UsersLine, "auth_param", "no http_access line uses a proxy_auth acl, so no authentication is configured");
            }

            return null;
        }

        if (settings.UsersFile is null)
        {
            notes.Untranslated(access.Count > 0 ? access[0].Line : 0, "proxy_auth", "no auth_param basic program basic_ncsa_auth FILE: without a users file the converted rules cannot ask for credentials");
            return null;
        }

        if (access.TakeWhile(a => !a.Terms.Any(t => acls.IsProxyAuth(t.Acl))).Any(a => a.Allow))
        {
            notes.Remark(settings.UsersLine, "auth_param", "allow lines before the first proxy_auth acl served clients without credentials in Squid; with auth.required: true Sluice asks them too");
        }

        string? realm = settings.Realm;
        bool realmFits = realm is not null && realm.Length is > 0 and <= 128 && realm.All(ch => ch >= ' ' && ch <= '~' && ch is not '"' and not '\\');
        return new SquidAuth(realmFits ? realm : null, settings.UsersFile);
    }

    /// <summary>The requests no rule matches leave by route.default; where Squid routes them otherwise, the note says so.</summary>
    private static (RuleAction Action, string Why) RoutedDefault((RuleAction Action, string Why) squid, SquidRoutes routes, SquidNotes notes)
    {
        if (squid.Action == RuleAction.Deny)
        {
            return squid;
        }

        if (routes.Entries[^1].Route == SquidRoutes.Nowhere)
        {
            notes.Untranslated(0, "never_direct", "the requests no http_access line matches are allowed in Squid but, where no parent takes them, cannot be forwarded: the default is deny (it also refuses those a parent would have taken)");
            return (RuleAction.Deny, $"{squid.Why}; never_direct: without a parent for them, Squid cannot forward these requests");
        }

        if (routes.Conditional)
        {
            notes.Untranslated(0, "never_direct", $"the requests no http_access line matches leave {SquidRoutes.Describe(routes.Default)} (route.default); Squid routes them by always_direct, never_direct and cache_peer_access; end the squid.conf with an explicit http_access allow line to route them the same way");
        }

        return squid;
    }

    private static void UnusedUpstreams(List<PeerGroup> groups, List<TranslatedRule> rules, SquidRoutes routes, SquidNotes notes)
    {
        foreach (PeerGroup group in groups.Where(g => g.Upstream.Name != routes.Default && !rules.Any(r => r.Rule.Via == g.Upstream.Name)))
        {
            notes.Remark(group.Line, "cache_peer", $"no rule sends requests through the upstream {group.Upstream.Name} ({group.Peers}): no allowed request reaches it first in Squid's order; it is written for rules to name with via:");
        }
    }

    private static (RuleAction Action, string Why) Default(IReadOnlyList<SquidAccess> access, List<TranslatedRule> rules)
    {
        if (access.Count == 0)
        {
            return (RuleAction.Deny, "no http_access lines: Squid denies every request");
        }

        SquidAccess last = access[^1];
        if (rules.Count > 0 && rules[^1].Rule.Line == last.Line && AccessRules.IsCatchAll(rules[^1].Rule))
        {
            // The last line matches every request, so Squid's default is never reached: say so rather than write
            // a default that only looks permissive.
            return (RuleAction.Deny, $"never reached: the last http_access line (line {last.Line}: {last.Text}) matches every request (Squid's implicit default, the opposite of that line, is never reached either)");
        }

        return (last.Allow ? RuleAction.Deny : RuleAction.Allow, $"Squid's implicit default is the opposite of the last http_access line (line {last.Line}: {last.Text})");
    }
}
