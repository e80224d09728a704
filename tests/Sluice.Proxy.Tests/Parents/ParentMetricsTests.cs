using System.Net;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>The per-parent metrics after known traffic through a parent that is not there and a real Squid.</summary>
public sealed class ParentMetricsTests
{
    [Fact]
    public async Task Parent_requests_are_counted_by_outcome_and_connect_times_observed()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidAsync(hosts: Hosts("origin.test", "blocked.test"), name: "squid-metrics.test", deny: ["blocked.test"]);
        var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using TestProxy child = await ChildAsync(Corp([$"http://{gone}", squid.Url]), admin: true);
        child.Resolver.Map("blocked.test", IPAddress.Loopback);
        using HttpClient client = Client(child);

        // Three requests: each tries the missing parent first (refused) until the third failure marks it down.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{origin.Port}/hello?m{i}"));
        }

        // Two more go straight to Squid; one tunnel; one tunnel Squid refuses; one forwarded request Squid refuses.
        for (int i = 3; i < 5; i++)
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{origin.Port}/hello?m{i}"));
        }

        Assert.EndsWith("hello from origin", await TunnelGetAsync(child.Endpoint, $"origin.test:{origin.Port}"));
        (string denied, _) = await ConnectAsync(child.Endpoint, $"blocked.test:{origin.Port}");
        Assert.StartsWith("HTTP/1.1 403 ", denied);
        using (HttpResponseMessage relayed = await client.GetAsync($"http://blocked.test:{origin.Port}/hello"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, relayed.StatusCode);
        }

        string Series(IPEndPoint parent, string outcome) => $"sluice_parent_requests_total{{upstream=\"corp\",parent=\"{parent}\",outcome=\"{outcome}\"}}";
        string metrics = "";
        await EventuallyAsync(async () =>
        {
            metrics = await ScrapeAsync(child);
            return Value(metrics, Series(squid.Endpoint, "ok")) == 7; // the tunnel is counted when it ends
        }, "Squid's seven ok requests in /metrics");

        // The relayed 403 is Squid's answer, passed on: an ok exchange with the parent. The refused CONNECT is named by its error.
        Assert.Equal(1d, Value(metrics, Series(squid.Endpoint, "http_request_denied")));
        Assert.Equal(3d, Value(metrics, Series(gone, "connection_refused")));
        Assert.Null(Value(metrics, Series(gone, "ok")));
        Assert.Equal(0d, Value(metrics, $"sluice_parent_up{{upstream=\"corp\",parent=\"{gone}\"}}"));
        Assert.Equal(1d, Value(metrics, $"sluice_parent_up{{upstream=\"corp\",parent=\"{squid.Endpoint}\"}}"));
        Assert.True(Value(metrics, $"sluice_parent_connect_seconds_count{{upstream=\"corp\",parent=\"{squid.Endpoint}\"}}") > 0, "no connect time observed for Squid");
    }

    [Fact]
    public async Task A_parent_a_reload_removes_leaves_no_up_gauge_behind()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidAsync(hosts: Hosts("origin.test"), name: "squid-kept.test");
        var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using TestProxy child = await ChildAsync(Corp([$"http://{gone}", squid.Url]), admin: true);
        using HttpClient client = Client(child);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{origin.Port}/hello?r{i}"));
        }

        string goneUp = $"sluice_parent_up{{upstream=\"corp\",parent=\"{gone}\"}}";
        Assert.Equal(0d, Value(await ScrapeAsync(child), goneUp));

        // The parent that is down is taken out of the configuration: nothing is left to alert on.
        Policy.Config.UpstreamConfig corp = child.Server.CurrentConfig.Upstreams[0];
        child.Server.Reload(child.Server.CurrentConfig with { Upstreams = [corp with { Proxies = [corp.Proxies[1]] }] });

        string metrics = await ScrapeAsync(child);
        Assert.Null(Value(metrics, goneUp));
        Assert.Equal(1d, Value(metrics, $"sluice_parent_up{{upstream=\"corp\",parent=\"{squid.Endpoint}\"}}"));
        Assert.DoesNotContain(child.Server.ParentStates, s => s.Parent == gone.ToString());
    }
}
