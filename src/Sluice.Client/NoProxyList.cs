using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Names;

namespace Sluice.Client;

public enum NoProxyKind
{
    /// <summary><c>*</c>: every destination goes direct.</summary>
    All,

    /// <summary><c>example.com</c> or <c>.example.com</c>: the name and every subdomain (curl ≥ 7.87 semantics).</summary>
    Domain,

    /// <summary><c>*.example.com</c>: subdomains only.</summary>
    SubdomainsOnly,

    /// <summary>An IPv4/IPv6 address or CIDR: destinations written as such an address.</summary>
    Network,
}

/// <summary>One excluded-domains entry, parsed; <see cref="Text"/> is how it was written.</summary>
public sealed record NoProxyEntry(NoProxyKind Kind, string Name, IPNetwork? Network, int? Port, string Text)
{
    public bool Matches(string host, IPAddress? address, int port) => Matches(host, address, (int?)port);

    /// <summary>With a null <paramref name="port"/>, whether the entry covers this host on any port.</summary>
    internal bool Matches(string host, IPAddress? address, int? port)
    {
        if (Port is { } p && port is { } requested && p != requested)
        {
            return false;
        }

        return Kind switch
        {
            NoProxyKind.All => true,
            NoProxyKind.Network => address is not null && Network!.Value.Contains(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address),
            NoProxyKind.Domain => address is null && (host == Name || host.EndsWith("." + Name, StringComparison.Ordinal)),
            NoProxyKind.SubdomainsOnly => address is null && host.EndsWith("." + Name, StringComparison.Ordinal),
            _ => false,
        };
    }
}

/// <summary>
/// The destinations that bypass the proxy (NO_PROXY, excludedDomains), with one documented semantics:
/// curl ≥ 7.87 for names (<c>example.com</c> and <c>.example.com</c> both match the name and its subdomains,
/// <c>*</c> matches everything), plus <c>*.example.com</c> (subdomains only), IPv4/IPv6 addresses and CIDRs,
/// <c>host:port</c>; names compare case-insensitively, trailing dots ignored, IDNs as punycode. Hosts and entries are
/// read by the proxy's own rules (HostNames, HostPort, shared as source): a host in an odd IPv4 notation
/// (<c>127.1</c>, <c>2130706433</c>) is the address it denotes, as .NET's <see cref="Uri"/> and curl read it, and an
/// entry written that way is set aside. Entries are separated by commas (and, as in many runtimes, whitespace); a
/// list given as several items may have commas inside each item.
/// </summary>
public sealed class NoProxyList
{
    private NoProxyList(IReadOnlyList<NoProxyEntry> entries, IReadOnlyList<string> ignored, bool separatedByWhitespace)
    {
        Entries = entries;
        Ignored = ignored;
        SeparatedByWhitespace = separatedByWhitespace;
    }

    public static NoProxyList Empty { get; } = new([], [], false);

    /// <summary>Whether some entries were separated by whitespace rather than commas (which many runtimes do not read).</summary>
    public bool SeparatedByWhitespace { get; }

    public IReadOnlyList<NoProxyEntry> Entries { get; }

    /// <summary>Entries that could not be understood (kept out of the list, reported by lints).</summary>
    public IReadOnlyList<string> Ignored { get; }

    public bool IsEmpty => Entries.Count == 0;

    public static NoProxyList Parse(params string?[] items) => Parse((IEnumerable<string?>)items);

    public static NoProxyList Parse(IEnumerable<string?> items)
    {
        var entries = new List<NoProxyEntry>();
        var ignored = new List<string>();
        bool whitespace = false;
        foreach (string? item in items)
        {
            // Whitespace between two entries, not around a comma: "a b" is separated by it, "a, b" is not.
            whitespace |= (item ?? "").Split([',', ';']).Any(piece => piece.Trim().AsSpan().IndexOfAny(" \t\r\n") >= 0);
            foreach (string raw in (item ?? "").Split([',', ' ', '\t', '\n', '\r', ';'], StringSplitOptions.RemoveEmptyEntries))
            {
                if (TryParseEntry(raw, out NoProxyEntry? entry))
                {
                    if (!entries.Any(e => e.Kind == entry!.Kind && e.Name == entry.Name && e.Network == entry.Network && e.Port == entry.Port))
                    {
                        entries.Add(entry!);
                    }
                }
                else
                {
                    ignored.Add(raw);
                }
            }
        }

        return new NoProxyList(entries, ignored, whitespace);
    }

    /// <summary>Does a request to this URI go direct?</summary>
    public bool Bypasses(Uri uri) => Bypasses(uri.IdnHost, uri.Port);

    public bool Bypasses(string host, int port) => Bypasses(host, (int?)port);

    /// <summary>Does any port of this host go direct? (A host excluded on one port only counts.)</summary>
    internal bool BypassesAnyPort(string host) => Bypasses(host, null);

    private bool Bypasses(string host, int? port)
    {
        if (Entries.Count == 0)
        {
            return false;
        }

        // A host as runtimes hand it over: IPv6 literals with or without brackets (Uri.IdnHost has none), perhaps with
        // the zone id of one of this machine's interfaces, which says nothing about which entry covers the address.
        string h = host.Trim();
        h = h.StartsWith('[') && h.EndsWith(']') ? h[1..^1] : h;
        if (h.Contains(':'))
        {
            h = $"[{(h.IndexOf('%') is var zone and >= 0 ? h[..zone] : h)}]";
        }

        // A host the proxy would refuse goes to the proxy, which says why; only "*" sends it direct.
        if (!HostNames.TryNormalize(h, out string name, out IPAddress? address, out _))
        {
            return Entries.Any(e => e.Kind == NoProxyKind.All);
        }

        foreach (NoProxyEntry entry in Entries)
        {
            if (entry.Matches(name, address, port))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The list as it would be written in NO_PROXY (the canonical spelling of every entry).</summary>
    public override string ToString() => string.Join(",", Entries.Select(e => e.Text));

    private static bool TryParseEntry(string raw, out NoProxyEntry? entry)
    {
        entry = null;
        string text = raw.Trim();
        if (text == "*")
        {
            entry = new NoProxyEntry(NoProxyKind.All, "", null, null, "*");
            return true;
        }

        int? port = null;
        (string host, string? portText) = HostPort.SplitPort(text);
        if (portText is not null)
        {
            if (!HostPort.TryParsePort(portText, out int p))
            {
                return false;
            }

            port = p;
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        // Addresses and CIDRs as a configuration writes them (HostNames.IsCanonicalLiteral): "010.0.0.1" is 8.0.0.1 to
        // inet_aton and 10.0.0.1 to a reader, so it is set aside rather than guessed at.
        int slash = host.IndexOf('/');
        string literal = slash < 0 ? host : host[..slash];
        if (slash >= 0 || host.Contains(':') || HostNames.IsCanonicalLiteral(host))
        {
            if (!HostNames.IsCanonicalLiteral(literal) || literal.Contains('%') || !IPAddress.TryParse(literal, out IPAddress? address)
                || !IPNetwork.TryParse(slash >= 0 ? host : $"{literal}/{(address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)}", out IPNetwork network))
            {
                return false;
            }

            entry = new NoProxyEntry(NoProxyKind.Network, "", network, port, text);
            return true;
        }

        NoProxyKind kind = NoProxyKind.Domain;
        if (host.StartsWith("*.", StringComparison.Ordinal))
        {
            kind = NoProxyKind.SubdomainsOnly;
            host = host[2..];
        }
        else if (host.StartsWith('.'))
        {
            host = host[1..];
        }

        // A name in an odd IPv4 notation ("127.1") is an address to every runtime's URL parser: no name entry matches it.
        if (!HostNames.TryNormalize(host, out string name, out IPAddress? odd, out _) || odd is not null)
        {
            return false;
        }

        entry = new NoProxyEntry(kind, name, null, port, text);
        return true;
    }
}
