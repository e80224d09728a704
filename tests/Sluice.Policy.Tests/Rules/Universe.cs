using System.Collections.Immutable;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>
/// A small alphabet of names, addresses, ports, methods, clients and identities. Small on purpose: random rules and
/// requests built from it collide often, so first-match order, overlaps and shadowing are exercised, not dodged.
/// </summary>
internal static class Universe
{
    public static readonly string[] Hosts =
    [
        "test", "a.test", "b.a.test", "c.b.a.test", "x.test", "ab.test", "a.other", "b.a.other", "other",
        "10.0.0.1", "10.1.0.1", "192.0.2.1", "[2001:db8::1]", "[::ffff:10.0.0.1]", "[fd00::1]",
    ];

    public static readonly string[] Patterns =
    [
        "a.test", ".a.test", "*.a.test", "test", ".test", "*.test", "x.test", "b.a.test", "*.b.a.test",
        "a.other", ".other", "*.other", "b.a.other", "*", "*:443", "a.test:443", ".a.test:80", "*.test:8080",
        "10.0.0.0/8", "10.0.0.1", "10.0.0.1:443", "0.0.0.0/0", "192.0.2.0/24", "2001:db8::/32", "[2001:db8::1]:443", "fd00::/8", "::/0",
    ];

    public static readonly int[] RequestPorts = [22, 80, 443, 8080];

    public static readonly string[] PortRanges = ["80", "443", "1-1024", "8000-9000", "22-443", "1-65535"];

    public static readonly string[] Methods = ["GET", "CONNECT", "POST"];

    public static readonly string[] Clients = ["10.20.0.5", "192.168.1.9", "::ffff:10.20.0.6", "2001:db8:9::1"];

    public static readonly string[] ClientNetworks = ["10.20.0.0/16", "10.0.0.0/8", "192.168.0.0/16", "10.20.0.5", "2001:db8::/32", "0.0.0.0/0"];

    public static readonly string?[] Users = ["alice", "bob", null];

    public static readonly string[] UserNames = ["alice", "bob", "carol"];

    public static readonly string[] GroupNames = ["dev", "ops"];

    public static readonly string[][] GroupSets = [[], ["dev"], ["ops"], ["dev", "ops"]];

    /// <summary>Every request the alphabet can spell: the whole space, for exhaustive checks.</summary>
    public static readonly ImmutableArray<RequestFacts> AllRequests =
    [
        .. from host in Hosts
           from port in RequestPorts
           from method in Methods
           from client in Clients
           from user in Users
           from groups in user is null ? [[]] : GroupSets
           select RuleKit.Request(host, port, method, client: client, user: user, groups: groups),
    ];

    public static T Pick<T>(Random random, IReadOnlyList<T> from) => from[random.Next(from.Count)];

    public static string[] Some(Random random, IReadOnlyList<string> from, double presence, int max)
    {
        if (random.NextDouble() >= presence)
        {
            return [];
        }

        return [.. Enumerable.Range(0, random.Next(1, max + 1)).Select(_ => Pick(random, from)).Distinct()];
    }

    public static Rule RandomRule(Random random, string name) => RuleKit.Rule(
        name,
        random.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny,
        destinations: Some(random, Patterns, 0.85, 3),
        ports: Some(random, PortRanges, 0.3, 2),
        methods: Some(random, Methods, 0.3, 2),
        schemes: random.NextDouble() < 0.15 ? [random.Next(2) == 0 ? RequestScheme.Http : RequestScheme.Tunnel] : [],
        clients: Some(random, ClientNetworks, 0.2, 2),
        users: Some(random, UserNames, 0.15, 2),
        groups: Some(random, GroupNames, 0.1, 1));

    public static RequestFacts RandomRequest(Random random)
    {
        string? user = Pick(random, Users);
        return RuleKit.Request(
            Pick(random, Hosts),
            Pick(random, RequestPorts),
            Pick(random, Methods),
            client: Pick(random, Clients),
            user: user,
            groups: user is null ? [] : Pick(random, GroupSets));
    }
}
