using System.Collections.Immutable;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>
/// A small alphabet for rules with paths and <c>tls:</c>, and for the requests of both decisions: CONNECTs that may or
/// may not be inspected, requests inside inspected tunnels, forwarded http:// requests with paths.
/// </summary>
internal static class InspectionUniverse
{
    public static readonly string[] Hosts = ["github.com", "api.github.com", "gitlab.com", "storage.example.com", "x.bank.example", "10.0.0.1"];

    public static readonly string[] Patterns = ["github.com", ".github.com", "*.github.com", "*", "gitlab.com", ".example.com", "10.0.0.0/8", ".bank.example", "github.com:443", "*:443"];

    public static readonly string[] PathPatterns = ["/", "/*", "/our-org", "/our-org/", "/our-org/*", "/our-org*", "/our-org/x", "/other-org", "/a/*/b", "/our-org/*/y"];

    public static readonly string[] Targets = ["/", "/our-org", "/our-org/", "/our-org/x", "/our-org/x/y", "/our-orgs", "/other-org/x", "/a/q/b", "/our-org/%2e%2e/other-org"];

    public static readonly string[] PortRanges = ["443", "80", "1-1024", "8443"];

    public static readonly string[] Methods = ["GET", "POST", "CONNECT"];

    public static readonly string[] ClientNetworks = ["10.20.0.0/16", "192.168.0.0/16"];

    public static readonly string[] Clients = ["10.20.0.5", "192.168.1.9"];

    public static readonly string?[] Users = ["alice", null];

    public static readonly ImmutableArray<RequestFacts> AllRequests =
    [
        .. from host in Hosts
           from client in Clients
           from user in Users
           from request in RequestsFor(host, client, user)
           select request,
    ];

    private static IEnumerable<RequestFacts> RequestsFor(string host, string client, string? user)
    {
        foreach (int port in new[] { 443, 8443 })
        {
            foreach (bool mayInspect in new[] { true, false })
            {
                yield return RuleKit.Connect(host, mayInspect, port, client, user);
            }
        }

        foreach (string method in new[] { "GET", "POST" })
        {
            foreach (string target in Targets)
            {
                yield return RuleKit.Inside(host, method, target, client: client, user: user);
                yield return RuleKit.Forwarded(host, method, target, client: client, user: user);
            }
        }
    }

    public static Rule RandomRule(Random random, string name)
    {
        RuleAction action = random.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny;
        TlsMode tls = action == RuleAction.Allow && random.Next(3) == 0 ? TlsMode.Inspect : TlsMode.Tunnel;
        RequestScheme[] schemes = tls == TlsMode.Tunnel && random.NextDouble() < 0.2
            ? [.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => (RequestScheme)random.Next(3)).Distinct()]
            : [];
        return RuleKit.Rule(
            name,
            action,
            destinations: Universe.Some(random, Patterns, 0.8, 2),
            ports: Universe.Some(random, PortRanges, 0.2, 2),
            methods: Universe.Some(random, Methods, 0.3, 2),
            schemes: schemes,
            clients: Universe.Some(random, ClientNetworks, 0.15, 1),
            users: random.NextDouble() < 0.1 ? ["alice"] : [],
            paths: Universe.Some(random, PathPatterns, 0.4, 2),
            tls: tls);
    }

    public static string Show(Rule r) =>
        $"[{r.Action} tls {r.Tls}; dst {string.Join(' ', r.Destinations)}; ports {string.Join(' ', r.Ports)}; methods {string.Join(' ', r.Methods)}; schemes {string.Join(' ', r.Schemes)}; paths {string.Join(' ', r.Paths)}; clients {string.Join(' ', r.Clients)}; users {string.Join(' ', r.Users)}]";

    public static string Show(RequestFacts q) => $"{q.Method} {q.Scheme} {q.Host}:{q.Port} path {q.Path ?? "-"} mayInspect {q.MayInspect} client {q.Client} user {q.User ?? "-"}";
}
