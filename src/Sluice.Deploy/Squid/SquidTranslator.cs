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
        SquidSettings settings = SquidSettings.Translate(conf.Directives, notes);
        (List<TranslatedRule> rules, bool usesAuth) = AccessRules.Translate(conf.Access, acls, notes);

        if (listeners.Count == 0)
        {
            notes.Remark(0, "http_port", "none given: Squid's default port 3128 on every address");
            listeners.Add(new SquidListener("[::]:3128"));
        }

        SquidAuth? auth = Auth(conf.Access, acls, settings, usesAuth, notes);
        (RuleAction defaultAction, string defaultWhy) = Default(conf.Access, rules);
        return new SquidTranslation
        {
            Name = settings.Name,
            Listeners = listeners,
            Auth = auth,
            Rules = rules,
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
