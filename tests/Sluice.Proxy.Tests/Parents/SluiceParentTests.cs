using System.Collections.Immutable;
using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// A Sluice behind another Sluice: forwarding and CONNECT through the parent, its refusals named for the client,
/// failover past a parent that is not there, credentials for the parent, split-horizon names and loops.
/// </summary>
public sealed class SluiceParentTests
{
    private static UpstreamConfig Upstream(string name, params IPEndPoint[] parents) => new()
    {
        Name = name,
        Proxies = [.. parents.Select(p => new ParentProxyAddress("http", new HostPort(p.Address.ToString(), p.Address, p.Port)))],
    };

    private static Func<SluiceConfig, SluiceConfig> Via(UpstreamConfig upstream, ImmutableArray<Rule>? rules = null) => c => c with
    {
        Upstreams = [upstream],
        Route = new RouteConfig { Default = upstream.Name },
        Rules = rules ?? [],
    };

    private static Task<TestProxy> ParentAsync(Func<SluiceConfig, SluiceConfig>? configure = null) =>
        TestProxy.StartAsync(c => (configure?.Invoke(c) ?? c) with { Name = "parent-sluice" });

    private static async Task LinesAsync(TestProxy proxy, string text, int count)
    {
        for (int i = 0; i < 200 && proxy.AccessLog.Lines.Count(l => l.Contains(text)) < count; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(count, proxy.AccessLog.Lines.Count(l => l.Contains(text)));
    }

    private static HttpClient ClientOf(TestProxy proxy) =>
        new(new HttpClientHandler { Proxy = new WebProxy(proxy.Uri), UseProxy = true });

    [Fact]
    public async Task A_forwarded_get_goes_through_the_parent_and_is_logged_with_the_hierarchy_code()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy parent = await ParentAsync();
        parent.Resolver.Map("origin.test", IPAddress.Loopback);
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", parent.Endpoint)));
        child.Resolver.Map("origin.test", IPAddress.Loopback);
        using HttpClient client = ClientOf(child);

        using HttpResponseMessage response = await client.GetAsync($"http://origin.test:{origin.Port}/hello");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
        string via = string.Join(", ", response.Headers.Via.Select(v => v.ToString()));
        Assert.Contains("parent-sluice", via);
        Assert.Contains(TestProxy.Name, via);
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello"), "the child's log line");
        Assert.Contains($"DEFAULT_PARENT/127.0.0.1", line);
        await parent.AccessLog.WaitForAsync(l => l.Contains("/hello") && l.Contains("HIER_DIRECT/127.0.0.1"), "the parent's log line");
    }

    [Fact]
    public async Task Keep_alive_to_the_parent_serves_several_destinations_on_one_connection()
    {
        await using TestOrigin first = await TestOrigin.StartAsync();
        await using TestOrigin second = await TestOrigin.StartAsync();
        await using TestProxy parent = await ParentAsync();
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", parent.Endpoint)));
        using HttpClient client = ClientOf(child);

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://127.0.0.1:{first.Port}/hello"));
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://127.0.0.1:{second.Port}/hello"));
        }

        // The parent saw one client connection from the child for all six requests.
        await LinesAsync(parent, "/hello", 6);
        Assert.Equal(1, parent.OpenConnections);
        Assert.Equal(1, first.Connections);
        Assert.Equal(1, second.Connections);
    }

    [Fact]
    public async Task A_connect_goes_through_the_parent_and_carries_bytes_both_ways()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy parent = await ParentAsync();
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", parent.Endpoint)));
        string answer;
        using (RawClient raw = await RawClient.ConnectAsync(child.Endpoint))
        {
            await raw.SendAsync($"CONNECT 127.0.0.1:{origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await raw.ReadHeadAsync());
            await raw.SendAsync($"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            answer = Encoding.ASCII.GetString(await raw.ReadToEndAsync());
        } // the tunnels end, and are logged, when the client has gone too

        Assert.StartsWith("HTTP/1.1 200", answer);
        Assert.EndsWith("hello from origin", answer);
        await child.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("DEFAULT_PARENT/127.0.0.1"), "the child's tunnel line");
        await parent.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("HIER_DIRECT/127.0.0.1"), "the parent's tunnel line");
    }

    [Fact]
    public async Task The_parents_refusal_of_a_connect_reaches_the_client_with_next_hop_and_received_status()
    {
        await using TestProxy parent = await ParentAsync(c => c with { Default = RuleAction.Deny });
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", parent.Endpoint)));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync("CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n");
        string head = await raw.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 403", head);
        Assert.Contains($"Proxy-Status: {TestProxy.Name}; error=http_request_denied; next-hop=\"{parent.Endpoint}\"; received-status=403", head);
        Assert.Contains("it says: parent-sluice; error=http_request_denied", head); // the parent's own Proxy-Status, quoted
    }

    [Fact]
    public async Task A_forwarded_refusal_by_the_parent_is_relayed_with_a_proxy_status_naming_it()
    {
        await using TestProxy parent = await ParentAsync(c => c with { Default = RuleAction.Deny });
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", parent.Endpoint)));
        using HttpClient client = ClientOf(child);

        using HttpResponseMessage response = await client.GetAsync("http://127.0.0.1:9/denied-upstairs");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        string[] status = [.. response.Headers.GetValues("Proxy-Status")];
        Assert.StartsWith("parent-sluice; error=http_request_denied", status[0]); // the parent's member first (closest to the origin)
        Assert.Equal($"{TestProxy.Name}; next-hop=\"{parent.Endpoint}\"; received-status=403", status[^1]);
    }

    [Fact]
    public async Task A_parent_that_is_not_there_fails_over_to_the_next_and_is_marked_down_after_three_failures()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy parent = await ParentAsync();
        var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", gone, parent.Endpoint)));
        using HttpClient client = ClientOf(child);

        for (int i = 0; i < 4; i++)
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://127.0.0.1:{origin.Port}/hello?{i}"));
        }

        Upstream.ParentState down = Assert.Single(child.Server.ParentStates, s => s.Parent == gone.ToString());
        Assert.False(down.Up);
        Assert.Contains("refused the connection", down.LastError);
        Assert.True(Assert.Single(child.Server.ParentStates, s => s.Parent == parent.Endpoint.ToString()).Up);
        await LinesAsync(parent, "/hello", 4);
    }

    [Fact]
    public async Task When_every_parent_is_down_the_client_gets_502_naming_the_upstream()
    {
        var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", gone)));
        using HttpClient client = ClientOf(child);

        using HttpResponseMessage first = await client.GetAsync("http://127.0.0.1:9/x");
        Assert.Equal(HttpStatusCode.BadGateway, first.StatusCode);
        Assert.Contains($"error=connection_refused; next-hop=\"{gone}\"", first.Headers.GetValues("Proxy-Status").Single());
        for (int i = 0; i < 2; i++)
        {
            (await client.GetAsync("http://127.0.0.1:9/x")).Dispose();
        }

        using HttpResponseMessage down = await client.GetAsync("http://127.0.0.1:9/x");
        Assert.Equal(HttpStatusCode.BadGateway, down.StatusCode);
        Assert.Contains("every proxy of upstream corp is down", await down.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_request_sent_back_by_the_parent_is_caught_as_a_loop()
    {
        // Two proxies, each the other's parent: the request comes back to the first one, which sees itself in Via.
        int firstPort = Ports.Free();
        var first = new IPEndPoint(IPAddress.Loopback, firstPort);
        await using TestProxy second = await ParentAsync(Via(Upstream("back", first)));
        await using TestProxy looping = await TestProxy.StartAsync(c => Via(Upstream("corp", second.Endpoint))(c) with
        {
            Listeners = [new ListenerConfig { Address = first }],
        });
        using HttpClient client = ClientOf(looping);

        using HttpResponseMessage response = await client.GetAsync("http://127.0.0.1:9/round");

        Assert.Equal((HttpStatusCode)508, response.StatusCode);
        using RawClient raw = await RawClient.ConnectAsync(looping.Endpoint);
        await raw.SendAsync("CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n");
        string head = await raw.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 502", head); // the parent's 508 for the returned CONNECT, named as the parent's answer
        Assert.Contains("received-status=508", head);
    }

    [Fact]
    public async Task A_name_only_the_parent_can_resolve_goes_up_by_name()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy parent = await ParentAsync();
        parent.Resolver.Map("inside.corp.test", IPAddress.Loopback);
        await using TestProxy child = await TestProxy.StartAsync(Via(Upstream("corp", parent.Endpoint)), format: AccessLogFormat.Json);
        using HttpClient client = ClientOf(child);

        Assert.Equal("hello from origin", await client.GetStringAsync($"http://inside.corp.test:{origin.Port}/hello"));
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello"), "the child's line");
        Assert.Contains("\"resolved\":\"parent\"", line);
        Assert.Contains("\"upstream\":\"corp\"", line);
        Assert.Contains($"\"parent\":\"{parent.Endpoint}\"", line);
    }

    [Fact]
    public async Task A_name_that_resolves_here_to_a_refused_address_is_refused_before_it_goes_up()
    {
        await using TestProxy parent = await ParentAsync();
        await using TestProxy child = await TestProxy.StartAsync(c => Via(Upstream("corp", parent.Endpoint))(c) with
        {
            Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.1/32")] }, // the parent, not 127.0.0.2
        });
        child.Resolver.Map("sneaky.test", IPAddress.Parse("127.0.0.2"));
        using HttpClient client = ClientOf(child);

        using HttpResponseMessage response = await client.GetAsync("http://sneaky.test/x");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("error=destination_ip_prohibited", response.Headers.GetValues("Proxy-Status").Single());
        Assert.DoesNotContain(parent.AccessLog.Lines, l => l.Contains("sneaky"));
    }
}
