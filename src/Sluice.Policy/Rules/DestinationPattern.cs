using System.Net;
using Sluice.Policy.Addresses;
using Sluice.Policy.Names;

namespace Sluice.Policy.Rules;

public enum PatternKind
{
    /// <summary><c>example.com</c>: exactly that name.</summary>
    ExactName,

    /// <summary><c>.example.com</c>: the name and every subdomain (Squid's dstdomain).</summary>
    NameAndSubdomains,

    /// <summary><c>*.example.com</c>: subdomains only.</summary>
    SubdomainsOnly,

    /// <summary><c>*</c>: any name. Never an IP literal: only address patterns match those.</summary>
    AnyName,

    /// <summary><c>10.0.0.0/8</c>, <c>2001:db8::1</c>: destination addresses.</summary>
    Address,
}

/// <summary>
/// One entry of a rule's <c>destinations</c>, parsed once. Names are normalised exactly as request hosts are, so
/// comparison is ordinal. An optional port (<c>host:port</c>) narrows the entry to that port.
/// </summary>
public sealed record DestinationPattern(PatternKind Kind, string Name, IPNetwork? Network, int? Port, string Text)
{
    public static bool TryParse(string text, out DestinationPattern pattern, out string problem)
    {
        pattern = null!;
        problem = "";
        string body = text.Trim();
        int? port = null;
        (string hostPart, string? portText) = HostPort.SplitPort(body);
        if (portText is not null)
        {
            if (!HostPort.TryParsePort(portText, out int parsedPort))
            {
                problem = $"'{body}': '{portText}' is not a port from 1 to 65535";
                return false;
            }

            body = hostPart;
            port = parsedPort;
        }

        if (body == "*")
        {
            pattern = new DestinationPattern(PatternKind.AnyName, "", null, port, text);
            return true;
        }

        string unbracketed = body.StartsWith('[') && body.EndsWith(']') ? body[1..^1] : body;
        if (unbracketed.Contains('/') || unbracketed.Contains(':') || IsDottedQuad(unbracketed))
        {
            if (!Networks.TryParse(unbracketed, out IPNetwork network))
            {
                problem = $"'{text}' is not a valid address or CIDR (host bits must be zero, e.g. 10.0.0.0/8)";
                return false;
            }

            pattern = new DestinationPattern(PatternKind.Address, "", AsRequestsAreCompared(network), port, text);
            return true;
        }

        PatternKind kind = PatternKind.ExactName;
        string name = body;
        if (body.StartsWith("*.", StringComparison.Ordinal))
        {
            kind = PatternKind.SubdomainsOnly;
            name = body[2..];
        }
        else if (body.StartsWith('.'))
        {
            kind = PatternKind.NameAndSubdomains;
            name = body[1..];
        }

        if (name.Contains('*'))
        {
            problem = $"'{text}': '*' is allowed only as the whole pattern or as a leading '*.' label";
            return false;
        }

        if (!HostNames.TryNormalize(name, out string normalized, out IPAddress? address, out string why) || address is not null)
        {
            problem = address is not null
                ? $"'{text}' is an IP address in an unusual notation; write it as {address}"
                : $"'{text}' can never match a host name: {why}";
            return false;
        }

        pattern = new DestinationPattern(kind, normalized, null, port, text);
        return true;
    }

    /// <summary>Does this entry cover the destination? <paramref name="host"/> is normalised; <paramref name="address"/> is set for IP literals.</summary>
    public bool Matches(string host, IPAddress? address, int port)
    {
        if (Port is { } p && p != port)
        {
            return false;
        }

        return Kind switch
        {
            PatternKind.Address => address is not null && Network!.Value.Contains(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address),
            _ when address is not null => false, // writing the IP never bypasses a domain allowlist
            PatternKind.AnyName => true,
            PatternKind.ExactName => host == Name,
            PatternKind.NameAndSubdomains => host == Name || IsSubdomain(host, Name),
            PatternKind.SubdomainsOnly => IsSubdomain(host, Name),
            _ => false,
        };
    }

    public override string ToString() => Text;

    /// <summary>
    /// Requests and clients written as IPv4-mapped IPv6 (<c>::ffff:10.1.2.3</c>) are compared in their IPv4 form, so an
    /// IPv4-mapped network (<c>::ffff:10.0.0.0/104</c>) is kept in that form too: left as IPv6 it could never match
    /// anything, and a deny rule written that way would silently deny nothing.
    /// </summary>
    internal static IPNetwork AsRequestsAreCompared(IPNetwork network) =>
        network.BaseAddress.IsIPv4MappedToIPv6 && network.PrefixLength >= 96
            ? new IPNetwork(network.BaseAddress.MapToIPv4(), network.PrefixLength - 96)
            : network;

    internal static bool IsSubdomain(string host, string parent) =>
        host.Length > parent.Length + 1 && host.EndsWith(parent, StringComparison.Ordinal) && host[host.Length - parent.Length - 1] == '.';

    private static bool IsDottedQuad(string text) => text.Length > 0 && text.All(c => char.IsAsciiDigit(c) || c == '.');
}
