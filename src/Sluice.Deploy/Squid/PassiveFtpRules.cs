using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// Squid's idiom for FTP through CONNECT: an allow line for the FTP servers on port 21 and every high port
/// (<c>acl ftp_ports port 21 1024-65535</c>, or the <c>SSL_ports</c> list of many configs), the high ports being for
/// the passive data connections. Where the translation can tell (the line names its servers, goes direct, admits
/// CONNECT, and its ports are 21, 1024-65535 and ports below 1024), it becomes a rule with <c>ftp: passive</c> on port
/// 21 and the other low ports: data ports open per control connection instead of every high port for every client
/// of the rule. Anything else with that shape is kept as written, with a note saying why.
/// </summary>
internal static class PassiveFtpRules
{
    private static readonly PortRange HighPorts = new(1024, 65535);

    public static List<TranslatedRule> Apply(List<TranslatedRule> rules, SquidNotes notes)
    {
        var result = new List<TranslatedRule>(rules.Count);
        foreach (TranslatedRule translated in rules)
        {
            Rule rule = translated.Rule;
            if (rule.Action != RuleAction.Allow || !rule.Ports.Any(p => p.Contains(21)) || !rule.Ports.Any(p => p.First <= HighPorts.First && p.Last >= HighPorts.Last))
            {
                result.Add(translated);
                continue;
            }

            string? why = WhyNot(rule);
            if (why is not null)
            {
                notes.Remark(checked((int)rule.Line), "http_access", $"ports 21 and 1024-65535 look like FTP through CONNECT (control and passive data ports), but {why}: kept as written, every high port open; a rule per FTP server with ports [21] and ftp: passive opens only the data ports its server names");
                result.Add(translated);
                continue;
            }

            PortRange[] low = [.. rule.Ports.Where(p => p.Last < HighPorts.First)];
            result.Add(translated with { Rule = rule with { Ports = [.. low], Ftp = FtpMode.Passive } });
            notes.Remark(checked((int)rule.Line), "http_access", $"ports 21 and 1024-65535 to {string.Join(", ", rule.Destinations)}: Squid's idiom for FTP through CONNECT, translated to ports {string.Join(", ", low)} with ftp: passive: a data port opens only for the client whose control connection's server named it. Other CONNECTs to these hosts' high ports are now refused; add a rule for them if these hosts serve anything else there");
        }

        return result;
    }

    // Null when the rule can take ftp: passive without allowing anything Squid did not.
    private static string? WhyNot(Rule rule)
    {
        if (rule.Destinations.IsEmpty || rule.Destinations.Any(d => d.Kind == PatternKind.AnyName))
        {
            return "the line names no particular servers";
        }

        if (rule.Destinations.Any(d => d.Port is not null))
        {
            return "its destinations name ports of their own";
        }

        if (rule.Ports.Any(p => p.Last >= HighPorts.First && !(p.First <= HighPorts.First && p.Last >= HighPorts.Last)) || rule.Ports.Any(p => p.First < HighPorts.First && p.Last >= HighPorts.First))
        {
            return "its ports are not just 21, 1024-65535 and ports below 1024";
        }

        if (!rule.MatchesTunnels)
        {
            return "it allows no CONNECT";
        }

        if (rule.Tls == TlsMode.Inspect)
        {
            return "its tunnels are inspected";
        }

        return rule.Via is not null ? "it goes through a parent proxy (passive permits need a direct route)" : null;
    }
}
