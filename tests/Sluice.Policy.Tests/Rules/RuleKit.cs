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
        string[]? groups = null,
        string[]? paths = null,
        TlsMode tls = TlsMode.Tunnel) => new()
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
            Paths = [.. (paths ?? []).Select(PathPatternTests.Parse)],
            Tls = tls,
        };

    /// <summary>A CONNECT, as the proxy decides it: <paramref name="mayInspect"/> when inspection is configured and the host is not in neverInspect.</summary>
    public static RequestFacts Connect(string host, bool mayInspect, int port = 443, string? client = null, string? user = null) =>
        Request(host, port, "CONNECT", RequestScheme.Tunnel, client, user) with { MayInspect = mayInspect };

    /// <summary>A request inside an inspected tunnel: scheme https, its target read by <see cref="RequestPath"/> as the proxy would.</summary>
    public static RequestFacts Inside(string host, string method, string target, int port = 443, string? client = null, string? user = null) =>
        Request(host, port, method, RequestScheme.Https, client, user) with { Path = NormalisedPath(target) };

    /// <summary>A forwarded http:// request, its target read by <see cref="RequestPath"/>.</summary>
    public static RequestFacts Forwarded(string host, string method, string target, int port = 80, string? client = null, string? user = null) =>
        Request(host, port, method, RequestScheme.Http, client, user) with { Path = NormalisedPath(target) };

    public static string NormalisedPath(string target) => RequestPath.TryNormalise(target, out string path, out string problem)
        ? path
        : throw new ArgumentException($"test target '{target}' does not normalise: {problem}");

    public static PortRange Port(string text) => PortRange.TryParse(text, out PortRange range, out string problem)
        ? range
        : throw new ArgumentException($"test port '{text}' does not parse: {problem}");

    public static RulePolicy Policy(RuleAction defaultAction, params Rule[] rules) => new(ImmutableArray.Create(rules), defaultAction);
}
