using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Resolution;

namespace Sluice.Proxy.Tests.Pipeline;

/// <summary>
/// The route a request takes through the upstreams and what the address guard does with its name: decided by
/// <see cref="RequestPipeline"/> alone, without a socket. The addresses are never connected to.
/// </summary>
public sealed class ParentRouteTests
{
    private const string Proxies = "[\"http://proxy-a.corp:3128\", \"http://proxy-b.corp:3128\", \"http://proxy-c.corp:3128\"]";

    private static readonly string Config = $$"""
        timeouts: { connect: 200ms }
        addresses: { allow: [192.0.2.0/24, 198.51.100.0/24] }   # documentation ranges stand for public addresses here
        upstreams:
          - { name: corp, proxies: {{Proxies}} }
          - { name: rr, proxies: {{Proxies}}, balance: round-robin }
          - { name: hash, proxies: {{Proxies}}, balance: hash-destination }
          - { name: trusting, proxies: ["https://proxy-t.corp:3129"], checkDestinations: parent }
        rules:
          - { name: blocked, action: deny, destinations: [.blocked.example] }
          - { name: saas, action: allow, destinations: [.saas.example], via: corp }
          - { name: rotating, action: allow, destinations: [.rr.example], via: rr }
          - { name: hashed, action: allow, destinations: [.hash.example], via: hash }
          - { name: out, action: allow, destinations: [.direct.example, 198.51.100.0/24], via: direct }
          - { name: trusted, action: allow, destinations: [.trusted.example, 172.16.0.0/12, 192.0.2.0/24], via: trusting }
          - { name: lan, action: allow, destinations: [10.0.0.0/8] }
          - { name: catchall, action: allow, destinations: [.example.org] }
        default: allow
        route: { default: corp }
        """;

    private static RequestPipeline Pipeline(string? yaml = null, IParentHealth? health = null) =>
        new(ConfigLoader.Parse(yaml ?? Config, "test.yaml"), OwnEndpoints.None, health);

    private static RequestFacts Connect(string host, int port = 443, string method = "CONNECT")
    {
        IPAddress? literal = IPAddress.TryParse(host, out IPAddress? a) ? a : null;
        return new RequestFacts(method, method == "CONNECT" ? RequestScheme.Tunnel : RequestScheme.Http, host, literal, port, IPAddress.Parse("10.20.0.5"));
    }

    private static Route RouteOf(RequestPipeline pipeline, string host, int port = 443)
    {
        Verdict verdict = pipeline.Decide(Connect(host, port), null);
        Assert.False(verdict.Refused, verdict.Detail);
        return verdict.Route;
    }

    private static string[] Order(Route route) => [.. route.Order.Select(p => p.Host)];

    // Which route

    [Theory]
    [InlineData("app.saas.example", "corp", "the rule's via:")]
    [InlineData("app.hash.example", "hash", "another rule's via:")]
    [InlineData("app.trusted.example", "trusting", "a via: to a one-proxy upstream")]
    [InlineData("www.example.org", "corp", "a rule without via: takes route.default")]
    [InlineData("unmatched.example.net", "corp", "the file's default: allow takes route.default")]
    public void A_request_goes_through_the_upstream_its_rule_or_the_route_default_names(string host, string upstream, string why)
    {
        Route route = RouteOf(Pipeline(), host);
        Assert.True(route.Kind == RouteKind.Parent && route.Upstream!.Name == upstream, $"{why}: got {route}");
    }

    [Fact]
    public void Via_direct_goes_direct_even_when_the_route_default_is_an_upstream()
    {
        Route route = RouteOf(Pipeline(), "app.direct.example");
        Assert.Same(Route.Direct, route);
        Assert.Empty(route.Order);
        Assert.Null(route.Upstream);
        Assert.Equal("direct", route.ToString());
    }

    [Fact]
    public void Without_a_route_default_a_rule_without_via_goes_direct()
    {
        RequestPipeline pipeline = Pipeline(Config.Replace("route: { default: corp }", ""));
        Assert.Same(Route.Direct, RouteOf(pipeline, "www.example.org"));
        Assert.Same(Route.Direct, RouteOf(pipeline, "unmatched.example.net"));
        Assert.Equal("corp", RouteOf(pipeline, "app.saas.example").Upstream!.Name);
    }

    [Fact]
    public void A_denied_request_has_no_parent_route()
    {
        Verdict verdict = Pipeline().Decide(Connect("x.blocked.example"), null);
        Assert.Equal(ProxyErrorKind.PolicyDenied, verdict.Refusal);
        Assert.Equal(RouteKind.Direct, verdict.Route.Kind);
    }

    [Theory]
    [InlineData("TRACE")]
    [InlineData("OPTIONS")]
    public void Max_forwards_zero_is_answered_by_the_proxy_itself_whatever_the_via(string method)
    {
        Verdict verdict = Pipeline().Decide(Connect("app.saas.example", 80, method) with { MaxForwards = 0 }, null);
        Assert.Same(Route.Self, verdict.Route);
    }

    [Fact]
    public void A_parent_route_prints_its_upstream_its_order_and_its_balance()
    {
        RequestPipeline pipeline = Pipeline();
        Assert.Equal("via corp: proxy-a.corp:3128, then proxy-b.corp:3128, then proxy-c.corp:3128 (failover)", RouteOf(pipeline, "app.saas.example").ToString());
        Assert.Equal("via rr: proxy-a.corp:3128, then proxy-b.corp:3128, then proxy-c.corp:3128 (round-robin)", RouteOf(pipeline, "app.rr.example").ToString());
        Assert.EndsWith(" (hash-destination)", RouteOf(pipeline, "app.hash.example").ToString());
        Assert.Equal("via trusting: proxy-t.corp:3129 (failover)", RouteOf(pipeline, "app.trusted.example").ToString());
    }

    [Fact]
    public void Parent_proxies_are_named_by_endpoint_host_and_a_key_unique_across_upstreams()
    {
        RequestPipeline pipeline = Pipeline();
        ParentProxy a = pipeline.Upstreams[0].Proxies[0];
        Assert.Equal(("corp", "proxy-a.corp:3128", "proxy-a.corp", "corp/http://proxy-a.corp:3128"), (a.Upstream, a.Endpoint, a.Host, a.Key));
        Assert.NotEqual(a.Key, pipeline.Upstreams[1].Proxies[0].Key);
        Assert.Equal(["corp", "rr", "hash", "trusting"], pipeline.Upstreams.Select(u => u.Name));
    }

    // The order the proxies are tried in

    [Fact]
    public void Failover_tries_the_proxies_in_the_configured_order_every_time()
    {
        RequestPipeline pipeline = Pipeline();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(["proxy-a.corp", "proxy-b.corp", "proxy-c.corp"], Order(RouteOf(pipeline, $"h{i}.saas.example")));
        }
    }

    [Fact]
    public void Round_robin_starts_each_request_at_the_next_proxy_and_keeps_the_rest_in_turn()
    {
        RequestPipeline pipeline = Pipeline();
        string[][] orders = [.. Enumerable.Range(0, 7).Select(_ => Order(RouteOf(pipeline, "app.rr.example")))];

        Assert.Equal(["proxy-a.corp", "proxy-b.corp", "proxy-c.corp"], orders[0]);
        Assert.Equal(["proxy-b.corp", "proxy-c.corp", "proxy-a.corp"], orders[1]);
        Assert.Equal(["proxy-c.corp", "proxy-a.corp", "proxy-b.corp"], orders[2]);
        Assert.Equal(orders[0], orders[3]);
        Assert.Equal(orders[1], orders[4]);
        Assert.Equal(orders[2], orders[5]);
        Assert.Equal(orders[0], orders[6]);
    }

    [Fact]
    public void Round_robin_turns_over_requests_not_destinations_and_each_upstream_turns_on_its_own()
    {
        RequestPipeline pipeline = Pipeline();
        Assert.Equal("proxy-a.corp", Order(RouteOf(pipeline, "one.rr.example"))[0]);
        Assert.Equal("proxy-a.corp", Order(RouteOf(pipeline, "x.saas.example"))[0]); // failover does not move the rotation
        Assert.Equal("proxy-b.corp", Order(RouteOf(pipeline, "two.rr.example"))[0]);
        Assert.Equal("proxy-c.corp", Order(RouteOf(pipeline, "one.rr.example"))[0]);
        Assert.Equal("proxy-a.corp", Order(Pipeline().Decide(Connect("one.rr.example"), null).Route)[0]); // a new snapshot starts again
    }

    [Fact]
    public void Hash_destination_keeps_one_destination_on_one_proxy()
    {
        RequestPipeline pipeline = Pipeline();
        string[] first = Order(RouteOf(pipeline, "app.hash.example"));
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(first, Order(RouteOf(pipeline, "app.hash.example")));
        }

        // The same in another snapshot, and for a plain-HTTP request to the same host and port: the hash is of host:port only.
        Assert.Equal(first, Order(RouteOf(Pipeline(), "app.hash.example")));
        Assert.Equal(first, Order(Pipeline().Decide(Connect("app.hash.example", 443, "GET"), null).Route));
        Assert.Equal(["proxy-a.corp", "proxy-b.corp", "proxy-c.corp"], first.Order());
    }

    [Fact]
    public void Hash_destination_spreads_destinations_over_every_proxy()
    {
        RequestPipeline pipeline = Pipeline();
        Dictionary<string, int> firsts = Enumerable.Range(0, 300)
            .Select(i => Order(RouteOf(pipeline, $"d{i}.hash.example"))[0])
            .GroupBy(p => p)
            .ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(["proxy-a.corp", "proxy-b.corp", "proxy-c.corp"], firsts.Keys.Order());
        Assert.All(firsts.Values, n => Assert.InRange(n, 60, 140)); // about 100 each

        // The port is part of the destination.
        int moved = Enumerable.Range(0, 300).Count(i => Order(RouteOf(pipeline, $"d{i}.hash.example", 443))[0] != Order(RouteOf(pipeline, $"d{i}.hash.example", 8443))[0]);
        Assert.InRange(moved, 100, 300);
    }

    [Fact]
    public void Hash_destination_moves_only_the_destinations_of_a_proxy_that_leaves()
    {
        RequestPipeline three = Pipeline();
        RequestPipeline two = Pipeline(Config.Replace("{ name: hash, proxies: " + Proxies, "{ name: hash, proxies: [\"http://proxy-a.corp:3128\", \"http://proxy-b.corp:3128\"]"));
        int movedFromC = 0;
        for (int i = 0; i < 300; i++)
        {
            string[] before = Order(RouteOf(three, $"d{i}.hash.example"));
            string[] after = Order(RouteOf(two, $"d{i}.hash.example"));

            // Rendezvous: removing proxy-c changes nothing about how a and b rank against each other.
            Assert.Equal(before.Where(p => p != "proxy-c.corp"), after);
            if (before[0] == "proxy-c.corp")
            {
                movedFromC++;
            }
        }

        Assert.InRange(movedFromC, 60, 140);
    }

    private sealed class DownHealth(params string[] down) : IParentHealth
    {
        public int Asked;

        public bool IsUp(ParentProxy parent)
        {
            Interlocked.Increment(ref Asked);
            return !down.Contains(parent.Host);
        }
    }

    [Fact]
    public void Failover_moves_a_proxy_marked_down_to_the_end()
    {
        RequestPipeline pipeline = Pipeline(health: new DownHealth("proxy-a.corp"));
        Assert.Equal(["proxy-b.corp", "proxy-c.corp", "proxy-a.corp"], Order(RouteOf(pipeline, "app.saas.example")));
        Assert.Equal(["proxy-a.corp", "proxy-c.corp", "proxy-b.corp"], Order(RouteOf(Pipeline(health: new DownHealth("proxy-b.corp")), "app.saas.example")));
        Assert.Equal(["proxy-c.corp", "proxy-a.corp", "proxy-b.corp"], Order(RouteOf(Pipeline(health: new DownHealth("proxy-a.corp", "proxy-b.corp")), "app.saas.example")));
    }

    [Fact]
    public void Round_robin_moves_a_proxy_marked_down_to_the_end_of_every_turn()
    {
        RequestPipeline pipeline = Pipeline(health: new DownHealth("proxy-b.corp"));
        string[][] orders = [.. Enumerable.Range(0, 6).Select(_ => Order(RouteOf(pipeline, "app.rr.example")))];

        Assert.Equal(["proxy-a.corp", "proxy-c.corp", "proxy-b.corp"], orders[0]); // turn a, b, c
        Assert.Equal(["proxy-c.corp", "proxy-a.corp", "proxy-b.corp"], orders[1]); // turn b, c, a
        Assert.Equal(["proxy-c.corp", "proxy-a.corp", "proxy-b.corp"], orders[2]); // turn c, a, b
        Assert.All(orders, o => Assert.Equal("proxy-b.corp", o[^1]));
    }

    [Fact]
    public void Hash_destination_moves_a_proxy_marked_down_to_the_end_and_keeps_the_others_ranked()
    {
        RequestPipeline up = Pipeline();
        RequestPipeline cDown = Pipeline(health: new DownHealth("proxy-c.corp"));
        for (int i = 0; i < 100; i++)
        {
            string[] usual = Order(RouteOf(up, $"d{i}.hash.example"));
            string[] now = Order(RouteOf(cDown, $"d{i}.hash.example"));
            Assert.Equal([.. usual.Where(p => p != "proxy-c.corp"), "proxy-c.corp"], now);
        }
    }

    [Fact]
    public void With_every_proxy_down_every_proxy_is_still_tried_in_the_usual_order()
    {
        var allDown = new DownHealth("proxy-a.corp", "proxy-b.corp", "proxy-c.corp", "proxy-t.corp");
        RequestPipeline down = Pipeline(health: allDown);
        RequestPipeline up = Pipeline();

        Assert.Equal(["proxy-a.corp", "proxy-b.corp", "proxy-c.corp"], Order(RouteOf(down, "app.saas.example")));
        Assert.Equal(Order(RouteOf(up, "app.rr.example")), Order(RouteOf(down, "app.rr.example")));
        Assert.Equal(Order(RouteOf(up, "app.rr.example")), Order(RouteOf(down, "app.rr.example")));
        Assert.Equal(Order(RouteOf(up, "app.hash.example")), Order(RouteOf(down, "app.hash.example")));
        Assert.Equal(["proxy-t.corp"], Order(RouteOf(down, "app.trusted.example")));
        Assert.True(allDown.Asked > 0);
    }

    /// <summary>The live view changing while an order is made: every answer the opposite of the one before.</summary>
    private sealed class FlappingHealth : IParentHealth
    {
        private int _calls;

        public bool IsUp(ParentProxy parent) => Interlocked.Increment(ref _calls) % 2 == 0;
    }

    [Theory]
    [InlineData("app.saas.example")]
    [InlineData("app.rr.example")]
    [InlineData("app.hash.example")]
    public void A_proxy_changing_health_while_the_order_is_made_is_listed_once(string host)
    {
        RequestPipeline pipeline = Pipeline(health: new FlappingHealth());
        for (int i = 0; i < 12; i++)
        {
            Assert.Equal(["proxy-a.corp", "proxy-b.corp", "proxy-c.corp"], Order(RouteOf(pipeline, host)).Order());
        }
    }

    // Resolution and the address guard through a parent

    /// <summary>Names to addresses from a table; an unknown name is NXDOMAIN; a slow name never answers. Counts lookups.</summary>
    private sealed class TableResolver : IResolver
    {
        private readonly Dictionary<string, IPAddress[]> _names = new(StringComparer.OrdinalIgnoreCase);
        private readonly HashSet<string> _slow = new(StringComparer.OrdinalIgnoreCase);

        public int Lookups;

        public TableResolver Map(string name, params string[] addresses)
        {
            _names[name] = [.. addresses.Select(IPAddress.Parse)];
            return this;
        }

        public TableResolver Slow(string name)
        {
            _slow.Add(name);
            return this;
        }

        public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Lookups);
            if (_slow.Contains(host))
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            }

            return _names.TryGetValue(host, out IPAddress[]? addresses)
                ? addresses
                : throw new ResolveException(host, notFound: true, $"{host} does not exist");
        }
    }

    private static async Task<Verdict> Resolve(RequestPipeline pipeline, string host, IResolver resolver, int port = 443)
    {
        Verdict allowed = pipeline.Decide(Connect(host, port), null);
        Assert.False(allowed.Refused, allowed.Detail);
        return await pipeline.ResolveAsync(allowed, resolver, CancellationToken.None);
    }

    [Fact]
    public async Task Local_check_refuses_a_name_that_resolves_to_a_denied_address_as_direct_would()
    {
        var resolver = new TableResolver().Map("intranet.saas.example", "10.1.2.3");
        Verdict verdict = await Resolve(Pipeline(), "intranet.saas.example", resolver);

        Assert.Equal(ProxyErrorKind.DestinationProhibited, verdict.Refusal);
        Assert.Equal(VerdictStep.AddressGuard, verdict.Step);
        Assert.Equal(403, verdict.Error!.Status);
        Assert.Contains("intranet.saas.example:443 refused: 10.1.2.3 is", verdict.Detail);
        Assert.False(verdict.ResolvedByParent);
        Assert.Equal(1, resolver.Lookups);
    }

    [Fact]
    public async Task Local_check_lets_a_name_with_a_permitted_address_through_checked()
    {
        var resolver = new TableResolver().Map("app.saas.example", "192.0.2.10");
        Verdict verdict = await Resolve(Pipeline(), "app.saas.example", resolver);

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.False(verdict.ResolvedByParent);
        Assert.Equal([IPAddress.Parse("192.0.2.10")], verdict.Permitted);
        Assert.Equal("corp", verdict.Route.Upstream!.Name);
        Assert.Equal(3, verdict.Route.Order.Count);
    }

    // The parent resolves the name again and dials whichever address it gets: one public address among private ones
    // must not carry the request to the private ones (direct, Sluice dials only the permitted ones itself).
    [Fact]
    public async Task Local_check_refuses_a_name_with_any_denied_address_because_the_parent_chooses_the_address()
    {
        var resolver = new TableResolver().Map("mixed.saas.example", "192.0.2.10", "10.1.2.3");
        Verdict verdict = await Resolve(Pipeline(), "mixed.saas.example", resolver);

        Assert.Equal(ProxyErrorKind.DestinationProhibited, verdict.Refusal);
        Assert.Equal(403, verdict.Error!.Status);
    }

    [Fact]
    public async Task A_direct_route_with_a_partly_refused_answer_dials_only_the_permitted_addresses()
    {
        var resolver = new TableResolver().Map("mixed.direct.example", "10.1.2.3", "198.51.100.4");
        Verdict verdict = await Resolve(Pipeline(), "mixed.direct.example", resolver);

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.Equal([IPAddress.Parse("198.51.100.4")], verdict.Permitted);
        Assert.Equal(2, verdict.Addresses.Length);
    }

    [Fact]
    public async Task Local_check_sends_a_name_unknown_here_to_the_parent()
    {
        var resolver = new TableResolver();
        Verdict verdict = await Resolve(Pipeline(), "split-horizon.saas.example", resolver);

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.Null(verdict.Refusal);
        Assert.True(verdict.ResolvedByParent);
        Assert.Empty(verdict.Permitted);
        Assert.Empty(verdict.Addresses);
        Assert.Equal("corp", verdict.Route.Upstream!.Name);
        Assert.Equal(1, resolver.Lookups);
    }

    [Fact]
    public async Task Local_check_sends_a_name_without_a_local_answer_in_time_to_the_parent()
    {
        var resolver = new TableResolver().Slow("slow.saas.example");
        Verdict verdict = await Resolve(Pipeline(), "slow.saas.example", resolver);

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.True(verdict.ResolvedByParent);
        Assert.Empty(verdict.Permitted);
    }

    [Fact]
    public async Task The_route_default_through_an_upstream_checks_locally_too()
    {
        var resolver = new TableResolver().Map("www.example.org", "10.1.2.3");
        Verdict verdict = await Resolve(Pipeline(), "www.example.org", resolver);
        Assert.Equal(ProxyErrorKind.DestinationProhibited, verdict.Refusal);

        Verdict unknown = await Resolve(Pipeline(), "unknown.example.org", resolver);
        Assert.True(unknown.ResolvedByParent && unknown.Step == VerdictStep.Ready);
    }

    [Fact]
    public async Task Parent_check_sends_a_name_up_without_asking_the_resolver()
    {
        var resolver = new TableResolver().Map("db.trusted.example", "10.1.2.3");
        Verdict verdict = await Resolve(Pipeline(), "db.trusted.example", resolver);

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.True(verdict.ResolvedByParent);
        Assert.Empty(verdict.Permitted);
        Assert.Empty(verdict.Addresses);
        Assert.Equal("trusting", verdict.Route.Upstream!.Name);
        Assert.Equal(0, resolver.Lookups);
    }

    [Theory]
    [InlineData("10.1.2.3", "corp", "a private literal through a checking upstream")]
    [InlineData("172.16.0.9", "trusting", "a private literal through a trusting upstream")]
    [InlineData("127.0.0.1", "corp", "loopback through a checking upstream")]
    public async Task An_ip_literal_is_checked_here_in_both_modes(string literal, string upstream, string why)
    {
        var resolver = new TableResolver();
        RequestPipeline pipeline = Pipeline();
        Assert.Equal(upstream, RouteOf(pipeline, literal).Upstream!.Name);

        Verdict verdict = await Resolve(pipeline, literal, resolver);

        Assert.True(verdict.Refusal == ProxyErrorKind.DestinationProhibited, $"{why}: got {verdict.Step} {verdict.Detail}");
        Assert.Equal(403, verdict.Error!.Status);
        Assert.False(verdict.ResolvedByParent);
        Assert.Equal(0, resolver.Lookups);
    }

    [Fact]
    public async Task A_permitted_ip_literal_through_a_trusting_upstream_is_ready_and_checked()
    {
        Verdict verdict = await Resolve(Pipeline(), "192.0.2.7", new TableResolver());

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.Equal("trusting", verdict.Route.Upstream!.Name);
        Assert.Equal([IPAddress.Parse("192.0.2.7")], verdict.Permitted);
        Assert.False(verdict.ResolvedByParent);
    }

    [Fact]
    public async Task A_direct_route_still_answers_a_name_unknown_here_with_502()
    {
        Verdict verdict = await Resolve(Pipeline(), "nowhere.direct.example", new TableResolver());

        Assert.Equal(ProxyErrorKind.DnsError, verdict.Refusal);
        Assert.Equal(VerdictStep.Resolution, verdict.Step);
        Assert.Equal(502, verdict.Error!.Status);
        Assert.Equal("nowhere.direct.example not found (DNS)", verdict.Detail);
        Assert.False(verdict.ResolvedByParent);
    }

    [Fact]
    public async Task A_direct_route_still_answers_a_slow_name_with_504()
    {
        Verdict verdict = await Resolve(Pipeline(), "slow.direct.example", new TableResolver().Slow("slow.direct.example"));

        Assert.Equal(ProxyErrorKind.DnsTimeout, verdict.Refusal);
        Assert.Equal(504, verdict.Error!.Status);
        Assert.False(verdict.ResolvedByParent);
    }

    [Fact]
    public async Task A_direct_route_with_a_permitted_address_is_not_resolved_by_a_parent()
    {
        Verdict verdict = await Resolve(Pipeline(), "www.direct.example", new TableResolver().Map("www.direct.example", "198.51.100.4"));

        Assert.Equal(VerdictStep.Ready, verdict.Step);
        Assert.Same(Route.Direct, verdict.Route);
        Assert.False(verdict.ResolvedByParent);
        Assert.Equal([IPAddress.Parse("198.51.100.4")], verdict.Permitted);
    }

    [Fact]
    public async Task A_client_giving_up_is_not_taken_for_a_name_unknown_here()
    {
        RequestPipeline pipeline = Pipeline();
        Verdict allowed = pipeline.Decide(Connect("slow.saas.example"), null);
        using var gone = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pipeline.ResolveAsync(allowed, new TableResolver().Slow("slow.saas.example"), gone.Token));
    }

    [Theory]
    [InlineData("", false, "a parent on a private address is refused like any destination")]
    [InlineData("10.0.0.0/24, ", true, "addresses.allow lets it be reached")]
    public async Task A_parent_proxys_own_address_is_checked_like_any_destination(string allow, bool permitted, string why)
    {
        RequestPipeline pipeline = Pipeline(Config.Replace("allow: [", "allow: [" + allow));
        ParentProxy parent = pipeline.Upstreams[0].Proxies[0];
        var resolver = new TableResolver().Map(parent.Host, "10.0.0.5");

        AddressLookup lookup = await pipeline.LookUpAsync(parent.Host, null, parent.Address.Address.Port, resolver, CancellationToken.None);

        IPAddress[] expected = permitted ? [IPAddress.Parse("10.0.0.5")] : [];
        Assert.True(permitted == (lookup.Refusal is null), $"{why}: got {lookup.Refusal} {lookup.Detail}");
        Assert.Equal(expected, lookup.Permitted);
    }
}
