using Sluice.Policy.Config;

namespace Sluice.Deploy.Squid;

/// <summary>An upstream, the cache_peer_access lines its parents share (none: every request), their Squid names and the first one's line.</summary>
internal sealed record PeerGroup(SquidUpstream Upstream, List<SquidAccess> Access, string Peers, int Line);

/// <summary>
/// The parents as upstreams. Parents with the same cache_peer_access lines, the same login and (for https:// ones) the same CA become
/// one upstream whose proxies are in the order of their cache_peer lines: Squid takes the first parent that is up,
/// which is Sluice's failover, unless the options balance them. Groups are in the order of their first parent, the
/// order Squid prefers them in. An upstream sends one set of credentials and trusts one CA, so a parent with the
/// same requests but another login or CA is an upstream of its own, after the first.
/// </summary>
internal static class PeerTranslation
{
    public static List<PeerGroup> Translate(PeerDirectives directives, SquidNotes notes)
    {
        var buckets = new List<(string Selection, List<CachePeer> Peers)>();
        foreach (CachePeer peer in directives.Parents)
        {
            string selection = Selection(directives.Access[peer.Name]);
            if (buckets.FirstOrDefault(b => b.Selection == selection && Fits(b.Peers, peer)).Peers is { } same)
            {
                if (same.FirstOrDefault(p => p.Url[p.Url.IndexOf(':')..] == peer.Url[peer.Url.IndexOf(':')..]) is { } twice)
                {
                    notes.Untranslated(peer.Line, "cache_peer", $"{peer.Name}: the same proxy as {twice.Name} (line {twice.Line}), which is already in its upstream");
                    continue;
                }

                same.Add(peer);
                continue;
            }

            if (buckets.FirstOrDefault(b => b.Selection == selection).Peers is [var first, ..])
            {
                notes.Remark(peer.Line, "cache_peer", $"{peer.Name}: the same requests as {first.Name} but another login= or CA; an upstream sends one set of credentials and trusts one CA, so it is an upstream of its own, which no rule uses: Squid falls back to it when {first.Name} is down, Sluice does not");
            }

            buckets.Add((selection, [peer]));
        }

        var names = new HashSet<string>(StringComparer.Ordinal) { RouteConfig.Direct };
        var variables = new HashSet<string>(StringComparer.Ordinal);
        return [.. buckets.Select(b => Group(b.Peers, directives.Access[b.Peers[0].Name], [.. b.Peers.SelectMany(p => directives.Access[p.Name]).Select(a => a.Line).Order()], names, variables, notes))];
    }

    // One login for all; one CA for the https:// proxies (a plain http:// proxy has no use for one).
    private static bool Fits(List<CachePeer> group, CachePeer peer) =>
        group[0].LoginDigest == peer.LoginDigest && (!peer.Tls || group.Where(p => p.Tls).All(p => p.Ca == peer.Ca));

    private static PeerGroup Group(List<CachePeer> peers, List<SquidAccess> access, List<int> accessLines, HashSet<string> names, HashSet<string> variables, SquidNotes notes)
    {
        CachePeer first = peers[0];
        string name = Unique(peers.Count > 1 && !names.Contains("parents") ? "parents" : ConfigName(first.Name), names, "-");
        Balance balance = BalanceOf(name, peers, notes);
        string? variable = null;
        if (first.LoginDigest is not null)
        {
            variable = Unique(new string([.. name.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]) + "_PROXY_PASSWORD", variables, "_");
            notes.Remark(first.Line, "cache_peer", $"{first.Name}: login= becomes credentials.user {first.User}; the password is not copied: Sluice reads it from the environment variable {variable} when it starts (set it from a secret store, or write passwordFile: with a file only Sluice can read instead)");
        }

        string comment = $"cache_peer {string.Join(", ", peers.Select(p => $"{p.Name} (line {p.Line})"))}"
            + (peers.Count > 1 && balance == Balance.Failover ? ": failover in this order, as Squid takes the first parent that is up" : "")
            + (accessLines.Count > 0 ? $"; cache_peer_access line{(accessLines.Count > 1 ? "s" : "")} {string.Join(", ", accessLines)}" : "");
        var upstream = new SquidUpstream(name, [.. peers.Select(p => p.Url)], balance, comment) { User = first.User, PasswordEnv = variable, Ca = peers.FirstOrDefault(p => p.Tls)?.Ca };
        return new PeerGroup(upstream, access, string.Join(", ", peers.Select(p => p.Name)), first.Line);
    }

    private static Balance BalanceOf(string upstream, List<CachePeer> peers, SquidNotes notes)
    {
        if (peers.Count == 1)
        {
            return Balance.Failover;
        }

        int line = peers[0].Line;
        List<PeerBalance> kinds = [.. peers.Select(p => p.Balance).Distinct()];
        switch (kinds)
        {
            case [PeerBalance.FirstUp]:
                return Balance.Failover;
            case var _ when kinds.All(k => k is PeerBalance.RoundRobin or PeerBalance.WeightedRoundRobin):
                if (kinds.Contains(PeerBalance.WeightedRoundRobin))
                {
                    notes.Remark(line, "cache_peer", $"{upstream}: weighted-round-robin becomes round-robin: Sluice takes the proxies in turn, without Squid's weighing by measured round-trip time");
                }

                return Balance.RoundRobin;
            case [PeerBalance.Carp]:
                notes.Remark(line, "cache_peer", $"{upstream}: carp becomes hash-destination: Squid hashes the URL, Sluice hashes host:port, so one destination (rather than one URL) keeps one parent");
                return Balance.HashDestination;
            case [PeerBalance.SourceHash or PeerBalance.UserHash]:
                notes.Untranslated(line, "cache_peer", $"{upstream}: {Option(kinds[0])} keeps each {(kinds[0] == PeerBalance.SourceHash ? "client" : "user")} on one parent; Sluice balances by destination or in turn only, so the upstream fails over in the order listed (everyone on the first parent that is up)");
                return Balance.Failover;
            default:
                notes.Untranslated(line, "cache_peer", $"{upstream}: its parents balance in different ways ({string.Join(", ", kinds.Select(Option))}); Squid balances among those that have an option and falls back to the rest; Sluice fails over in the order listed");
                return Balance.Failover;
        }
    }

    private static string Option(PeerBalance kind) => kind switch
    {
        PeerBalance.RoundRobin => "round-robin",
        PeerBalance.WeightedRoundRobin => "weighted-round-robin",
        PeerBalance.Carp => "carp",
        PeerBalance.SourceHash => "sourcehash",
        PeerBalance.UserHash => "userhash",
        _ => "no option (first up)",
    };

    /// <summary>The requests a peer's cache_peer_access lines select, as text that is equal for equal lines.</summary>
    private static string Selection(List<SquidAccess> access) =>
        string.Join("\n", access.Select(a => (a.Allow ? "allow" : "deny") + string.Concat(a.Terms.Select(t => $" {(t.Negated ? "!" : "")}{t.Acl}"))));

    /// <summary>A Squid peer name under the config-name rule: letters, digits, '.', '-', '_', starting with a letter, at most 64.</summary>
    public static string ConfigName(string squidName)
    {
        string text = new([.. squidName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-')]);
        text = text.Length > 0 && char.IsAsciiLetter(text[0]) ? text : "peer-" + text;
        return text.Length > 64 ? text[..64] : text;
    }

    private static string Unique(string name, HashSet<string> taken, string separator)
    {
        string candidate = name;
        for (int i = 2; !taken.Add(candidate); i++)
        {
            string suffix = $"{separator}{i}";
            candidate = (name.Length + suffix.Length > 64 ? name[..(64 - suffix.Length)] : name) + suffix;
        }

        return candidate;
    }
}
