namespace Sluice.Deploy.Squid;

/// <summary>
/// The directives that decide where Squid sends a request it allowed: the parents (<c>cache_peer</c>), the requests
/// each may take (<c>cache_peer_access</c>), and when it must or must not go direct (<c>always_direct</c>,
/// <c>never_direct</c>, <c>prefer_direct</c>, <c>nonhierarchical_direct</c>). Access lines keep the shape of
/// http_access lines, so their acls translate the same way.
/// </summary>
internal sealed class PeerDirectives
{
    private static readonly string[] Names = ["cache_peer", "cache_peer_access", "never_direct", "always_direct", "prefer_direct", "nonhierarchical_direct"];

    private PeerDirectives()
    {
    }

    /// <summary>The parents Sluice can use, in file order (Squid's order of preference).</summary>
    public List<CachePeer> Parents { get; } = [];

    /// <summary>The cache_peer_access lines of each parent, by Squid's peer name (compared as Squid does, ignoring case).</summary>
    public Dictionary<string, List<SquidAccess>> Access { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<SquidAccess> AlwaysDirect { get; } = [];

    public List<SquidAccess> NeverDirect { get; } = [];

    /// <summary>The line of <c>prefer_direct on</c>; 0 when it is off, Squid's default.</summary>
    public int PreferDirect { get; private set; }

    /// <summary>The line of <c>nonhierarchical_direct off</c>; 0 when it is on, Squid's default.</summary>
    public int NonhierarchicalToParents { get; private set; }

    public static bool Handles(string directive) => Names.Contains(directive);

    public static PeerDirectives Read(IEnumerable<SquidDirective> directives, SquidNotes notes)
    {
        var result = new PeerDirectives();
        var named = new HashSet<string>(StringComparer.OrdinalIgnoreCase); // every peer, translated or not
        var access = new List<(string Peer, SquidAccess Line)>();
        foreach (SquidDirective directive in directives.Where(d => Handles(d.Name)))
        {
            (int line, string name, IReadOnlyList<string> args) = (directive.Line, directive.Name, directive.Arguments);
            switch (name)
            {
                case "cache_peer":
                    CachePeer? peer = CachePeer.Read(directive, notes, out string? peerName);
                    if (peerName is not null && !named.Add(peerName))
                    {
                        notes.Untranslated(line, name, $"{peerName}: a second peer of that name (Squid refuses such a file)");
                    }
                    else if (peer is not null)
                    {
                        result.Parents.Add(peer);
                        result.Access[peer.Name] = [];
                    }

                    break;
                case "cache_peer_access" when args.Count > 0 && AccessLine(directive, 1) is { } line2:
                    access.Add((args[0], line2));
                    break;
                case "always_direct" or "never_direct" when AccessLine(directive, 0) is { } line3:
                    (name == "always_direct" ? result.AlwaysDirect : result.NeverDirect).Add(line3);
                    break;
                case "prefer_direct" or "nonhierarchical_direct" when args is ["on" or "off"]:
                    bool on = args[0] == "on";
                    if (name == "prefer_direct")
                    {
                        result.PreferDirect = on ? line : 0;
                    }
                    else
                    {
                        result.NonhierarchicalToParents = on ? 0 : line;
                    }

                    break;
                case "prefer_direct" or "nonhierarchical_direct":
                    notes.Untranslated(line, name, "expected on or off");
                    break;
                default:
                    notes.Untranslated(line, name, $"expected {name}{(name == "cache_peer_access" ? " PEER" : "")} allow|deny ACL...");
                    break;
            }
        }

        foreach ((string peer, SquidAccess line) in access)
        {
            if (result.Access.TryGetValue(peer, out List<SquidAccess>? lines))
            {
                lines.Add(line);
            }
            else if (!named.Contains(peer))
            {
                notes.Untranslated(line.Line, "cache_peer_access", $"no cache_peer is named {peer} (Squid refuses such a file)");
            }

            // A peer that is not translated has said so on its cache_peer line.
        }

        return result;
    }

    // NAME [PEER] allow|deny ACL...; null when the line is not that shape (the caller reports it).
    private static SquidAccess? AccessLine(SquidDirective directive, int skip)
    {
        IReadOnlyList<string> args = directive.Arguments;
        if (args.Count <= skip || args[skip] is not ("allow" or "deny"))
        {
            return null;
        }

        AclTerm[] terms = [.. args.Skip(skip + 1).Select(t => t.StartsWith('!') ? new AclTerm(t[1..], true) : new AclTerm(t, false))];
        return new SquidAccess(directive.Line, args[skip] == "allow", terms, $"{directive.Name} {string.Join(' ', args)}");
    }
}
