using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Addresses;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>Builds patterns, rules and requests for the rule tests, the way the proxy would: hosts go through <see cref="HostNames"/>.</summary>
internal static class RuleKit
{
    public static readonly IPAddress DefaultClient = IPAddress.Parse("10.20.0.5");

    public static DestinationPattern Pattern(string text) => DestinationPattern.TryParse(text, out DestinationPattern p, out string problem)
        ? p
        : throw new ArgumentException($"test pattern '{text}' does not parse: {problem}");

    /// <summary>A request for <paramref name="host"/> as a client would write it (any case, trailing dot, Unicode, odd IPv4, [v6]).</summary>
    public static RequestFacts Request(
        string host,
        int port = 443,
        string method = "CONNECT",
        RequestScheme? scheme = null,
        string? client = null,
        string? user = null,
        params string[] groups)
    {
        if (!HostNames.TryNormalize(host, out string normalized, out IPAddress? address, out string problem))
        {
            throw new ArgumentException($"test host '{host}' does not normalise: {problem}");
        }

        return new RequestFacts(
            method,
            scheme ?? (method == "CONNECT" ? RequestScheme.Tunnel : RequestScheme.Http),
            normalized,
            address,
            port,
            client is null ? DefaultClient : IPAddress.Parse(client))
        {
            User = user,
            Groups = groups,
        };
    }

    public static Rule Rule(
        string name,
        RuleAction action,
        string[]? destinations = null,
        string[]? ports = null,
        string[]? methods = null,
        RequestScheme[]? schemes = null,
        string[]? clients = null,
        string[]? users = null,
        string[]? groups = null) => new()
        {
            Name = name,
            Action = action,
            Destinations = [.. (destinations ?? []).Select(Pattern)],
            Ports = [.. (ports ?? []).Select(Port)],
            Methods = [.. methods ?? []],
            Schemes = [.. schemes ?? []],
            Clients = [.. (clients ?? []).Select(Networks.Parse)],
            Users = [.. users ?? []],
            Groups = [.. groups ?? []],
        };

    public static PortRange Port(string text) => PortRange.TryParse(text, out PortRange range, out string problem)
        ? range
        : throw new ArgumentException($"test port '{text}' does not parse: {problem}");

    public static RulePolicy Policy(RuleAction defaultAction, params Rule[] rules) => new(ImmutableArray.Create(rules), defaultAction);
}
