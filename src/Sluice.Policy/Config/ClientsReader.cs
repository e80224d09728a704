using System.Collections.Immutable;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>
/// Reads <c>clients:</c>, <c>{ proxyUrl: http://proxy.corp.example:3128, excluded: [".corp.example", "10.0.0.0/8"] }</c>:
/// what the PAC file at the admin endpoint's <c>/proxy.pac</c> tells clients.
/// </summary>
internal static class ClientsReader
{
    private const string Expected = "a NO_PROXY entry: name, .name, *.name, *, an address or CIDR, optionally :port";

    public static ClientsConfig Read(YamlSection top)
    {
        if (top.Section("clients") is not { } section)
        {
            return new ClientsConfig();
        }

        HostPort? address = null;
        bool tls = false;
        if (section.Get("proxyUrl") is { } urlNode)
        {
            (address, tls) = ReadProxyUrl(section, urlNode);
        }

        ImmutableArray<DestinationPattern> excluded = ReadExcluded(section);
        section.RejectUnknownKeys();
        return new ClientsConfig { ProxyAddress = address, ProxyTls = tls, Excluded = excluded };
    }

    private const string NoCredentials = "credentials do not belong here: the PAC file is served to anyone who asks, and clients answer the proxy's 407 themselves";

    private static (HostPort Address, bool Tls) ReadProxyUrl(YamlSection section, YamlNode node)
    {
        const string example = "http://proxy.corp.example:3128 or https://proxy.corp.example:3129";
        if (node is not YamlScalarNode { Value: { Length: > 0 } text })
        {
            throw section.Error(node, $"clients.proxyUrl: expected a proxy URL such as {example}, got {YamlSection.Show(node)}");
        }

        // Any '@' is refused before the text is parsed, as for parents: a password holding '/' or '?' would otherwise
        // end the authority early, and the parser's complaint (an invalid port) would quote part of it. A proxy URL has
        // no path, so everything up to the last '@' is hidden (HostPort.Redact stops at the first '/', as it must for
        // request targets whose path may hold an '@').
        int at = text.LastIndexOf('@');
        if (at >= 0)
        {
            int scheme = text.IndexOf("://", StringComparison.Ordinal);
            string shown = $"{(scheme < 0 || scheme > at ? "" : text[..(scheme + 3)])}***{text[at..]}";
            throw section.Error(node, $"clients.proxyUrl: '{shown}': {NoCredentials}");
        }

        if (!HostPort.TryParseUri(text, out UriTarget url, out string problem))
        {
            throw section.Error(node, $"clients.proxyUrl: {(url.Scheme is null ? $"expected a proxy URL such as {example}" : problem)}");
        }

        // The PAC file is served to anyone who asks and names no credentials (clients answer the proxy's 407 themselves).
        string? why = url.Scheme is not ("http" or "https") ? $"the scheme must be http or https (TLS to the proxy), not {url.Scheme}"
            : url.HasUserInfo ? NoCredentials
            : url.HasFragment || url.PathAndQuery != "/" ? "a proxy URL has no path, query or fragment"
            : null;
        return why is null ? (url.Authority, url.Scheme == "https") : throw section.Error(node, $"clients.proxyUrl: '{HostPort.Redact(text)}': {why}");
    }

    private static ImmutableArray<DestinationPattern> ReadExcluded(YamlSection section)
    {
        var entries = ImmutableArray.CreateBuilder<DestinationPattern>();
        var seen = new HashSet<DestinationPattern>();
        foreach (YamlNode node in section.List("excluded"))
        {
            if (node is not YamlScalarNode { Value: { } text })
            {
                throw section.Error(node, $"clients.excluded: expected {Expected}, got {YamlSection.Show(node)}");
            }

            if (!DestinationPattern.TryParse(text, out DestinationPattern entry, out string problem))
            {
                throw section.Error(node, $"clients.excluded: {problem}");
            }

            string? why = entry.Kind == PatternKind.AnyName && entry.Port is not null ? $"'{text}': * excludes every destination and takes no port"
                : text.Contains('%') ? $"'{text}': an IPv6 zone id (%...) names an interface of one machine; write the address without it"
                : null;
            if (why is not null)
            {
                throw section.Error(node, $"clients.excluded: {why}");
            }

            // Compared as NO_PROXY reads them: "example.com" and ".example.com" are the same entry.
            DestinationPattern key = entry with { Kind = entry.Kind == PatternKind.ExactName ? PatternKind.NameAndSubdomains : entry.Kind, Text = "" };
            if (!seen.Add(key))
            {
                throw section.Error(node, $"clients.excluded: '{text}' is listed twice");
            }

            entries.Add(entry);
        }

        return entries.ToImmutable();
    }
}
