using System.Globalization;
using System.Net;

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
    public bool Matches(string host, IPAddress? address, int port)
    {
        if (Port is { } p && p != port)
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
/// <c>host:port</c>; names compare case-insensitively, trailing dots ignored, IDNs as punycode. Entries are
/// separated by commas (and, as in many runtimes, whitespace); a list given as several items may have commas
/// inside each item.
/// </summary>
public sealed class NoProxyList
{
    private static readonly IdnMapping Idn = new();

    private NoProxyList(IReadOnlyList<NoProxyEntry> entries, IReadOnlyList<string> ignored)
    {
        Entries = entries;
        Ignored = ignored;
    }

    public static NoProxyList Empty { get; } = new([], []);

    public IReadOnlyList<NoProxyEntry> Entries { get; }

    /// <summary>Entries that could not be understood (kept out of the list, reported by lints).</summary>
    public IReadOnlyList<string> Ignored { get; }

    public bool IsEmpty => Entries.Count == 0;

    public static NoProxyList Parse(params string?[] items) => Parse((IEnumerable<string?>)items);

    public static NoProxyList Parse(IEnumerable<string?> items)
    {
        var entries = new List<NoProxyEntry>();
        var ignored = new List<string>();
        foreach (string? item in items)
        {
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

        return new NoProxyList(entries, ignored);
    }

    /// <summary>Does a request to this URI go direct?</summary>
    public bool Bypasses(Uri uri) => Bypasses(uri.IdnHost, uri.Port);

    public bool Bypasses(string host, int port)
    {
        if (Entries.Count == 0)
        {
            return false;
        }

        (string name, IPAddress? address) = NormalizeHost(host);
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

    internal static (string Name, IPAddress? Address) NormalizeHost(string host)
    {
        string h = host.Trim();
        if (h.StartsWith('[') && h.EndsWith(']'))
        {
            h = h[1..^1];
        }

        if (IPAddress.TryParse(h, out IPAddress? address) && (h.Contains(':') || h.Count(c => c == '.') == 3))
        {
            return (address.ToString(), address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
        }

        h = h.TrimEnd('.').ToLowerInvariant();
        if (h.Any(c => c > 127))
        {
            try
            {
                h = Idn.GetAscii(h);
            }
            catch (ArgumentException)
            {
            }
        }

        return (h, null);
    }

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
        string host = text;
        int colon = text.LastIndexOf(':');
        bool bracketed = text.StartsWith('[');
        if (colon > 0 && (bracketed ? text[..colon].EndsWith(']') : text.IndexOf(':') == colon))
        {
            if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
            {
                return false;
            }

            port = p;
            host = text[..colon];
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (host.Contains('/') || IPAddress.TryParse(host, out _) && (host.Contains(':') || host.Count(c => c == '.') == 3))
        {
            if (!IPNetwork.TryParse(host.Contains('/') ? host : host + (host.Contains(':') ? "/128" : "/32"), out IPNetwork network))
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

        (string name, IPAddress? literal) = NormalizeHost(host);
        if (literal is not null || name.Length == 0 || name.Contains('*') || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            return false;
        }

        entry = new NoProxyEntry(kind, name, null, port, text);
        return true;
    }
}
