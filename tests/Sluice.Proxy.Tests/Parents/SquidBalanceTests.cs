using System.Net;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Upstream;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// Two real Squids behind one upstream: failover while the first is killed mid-run and brought back (health, probes,
/// sluice_parent_up), every parent down, round-robin spreading requests, hash-destination keeping each destination on
/// one parent.
/// </summary>
public sealed class SquidBalanceTests : IAsyncLifetime
{
    private static readonly string[] Names = ["origin.test", "secure.test", "ws.test"];

    private TestOrigin _origin = null!;
    private SquidParent _first = null!;
    private SquidParent _second = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        Task<SquidParent> first = SquidAsync(hosts: Hosts(Names), name: "squid-1.test");
        Task<SquidParent> second = SquidAsync(hosts: Hosts(Names), name: "squid-2.test");
        _first = await first;
        _second = await second;
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _origin.DisposeAsync();
    }

    /// <summary>GET /hello on <paramref name="host"/>: which Squid carried it (from Via), failing on anything but the origin's 200.</summary>
    private async Task<string> GetAsync(HttpClient client, string marker, string host = "origin.test")
    {
        using HttpResponseMessage response = await client.GetAsync($"http://{host}:{_origin.Port}/hello?{marker}");
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK && body == "hello from origin",
            $"request {marker}: {(int)response.StatusCode} {string.Join(" ", response.Headers.TryGetValues("Proxy-Status", out var s) ? s : [])}\n{body}");
        string via = string.Join(", ", response.Headers.Via);
        return via.Contains("squid-1.test", StringComparison.Ordinal) ? "squid-1.test"
            : via.Contains("squid-2.test", StringComparison.Ordinal) ? "squid-2.test"
            : throw new Xunit.Sdk.XunitException($"request {marker} came through no Squid: Via {via}");
    }

    private static ParentState StateOf(TestProxy child, SquidParent squid) =>
        Assert.Single(child.Server.ParentStates, s => s.Parent == squid.Endpoint.ToString());

    private static string UpSeries(SquidParent squid) => $"sluice_parent_up{{upstream=\"corp\",parent=\"{squid.Endpoint}\"}}";

    [Fact]
    public async Task A_squid_killed_mid_run_loses_no_request_is_marked_down_and_is_up_again_after_its_restart()
    {
        await using TestProxy child = await ChildAsync(Corp([_first.Url, _second.Url]), admin: true);
        using HttpClient client = Client(child);

        var carriers = new List<string>();
        for (int i = 0; i < 24; i++)
        {
            if (i == 8)
            {
                // Mid-run: the keep-alive connection Sluice pools to it dies with it.
                await _first.StopAsync();
            }

            carriers.Add(await GetAsync(client, $"run-{i}"));
        }

        Assert.All(carriers.Take(8), c => Assert.Equal("squid-1.test", c));
        Assert.All(carriers.Skip(8), c => Assert.Equal("squid-2.test", c));
        ParentState down = StateOf(child, _first);
        Assert.False(down.Up);
        Assert.Contains("refused the connection", down.LastError);
        Assert.True(StateOf(child, _second).Up);
        Assert.Equal(0d, Value(await ScrapeAsync(child), UpSeries(_first)));
        Assert.Equal(1d, Value(await ScrapeAsync(child), UpSeries(_second)));
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello?run-23"), "Sluice's last line");
        Assert.Contains($" FIRSTUP_PARENT/127.0.0.1 ", line);

        await _first.RestartAsync();

        // Probed after 1 s, then after twice as long each time it failed: back within a few probes.
        await EventuallyAsync(() => StateOf(child, _first).Up, "the restarted Squid being marked up", TimeSpan.FromSeconds(30));
        Assert.Equal(1d, Value(await ScrapeAsync(child), UpSeries(_first)));
        Assert.Equal("squid-1.test", await GetAsync(client, "back"));
        await _first.WaitForAccessLogAsync(l => l.Contains("/hello?back", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_get_waiting_on_a_pooled_connection_when_its_squid_dies_is_sent_again_through_the_next_squid()
    {
        int requests = 0;
        var firstArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin slow = RawOrigin.Start(async (stream, socket) =>
        {
            await ReadHeadAsync(stream);
            if (Interlocked.Increment(ref requests) == 1)
            {
                firstArrived.TrySetResult();
                _ = await stream.ReadAsync(new byte[1]); // no answer: held until the Squid carrying it is gone
                return;
            }

            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"u8.ToArray());
            _ = await stream.ReadAsync(new byte[1]);
        });
        await using TestProxy child = await ChildAsync(Corp([_first.Url, _second.Url]));
        using HttpClient client = Client(child);
        Assert.Equal("squid-1.test", await GetAsync(client, "warm")); // leaves a keep-alive connection to Squid 1 in the pool

        Task<HttpResponseMessage> pending = client.GetAsync($"http://origin.test:{slow.Port}/slow");
        await Within(firstArrived.Task, TimeSpan.FromSeconds(20), "the request did not reach the origin through Squid 1");
        await _first.StopAsync();

        using HttpResponseMessage response = await Within(pending, TimeSpan.FromSeconds(30), "no answer after Squid 1 died");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("again", await response.Content.ReadAsStringAsync());
        Assert.Contains("squid-2.test", string.Join(", ", response.Headers.Via));
        Assert.Equal(2, Volatile.Read(ref requests));
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/slow"), "Sluice's line");
        Assert.Contains(" TCP_MISS/200 ", line);
    }

    [Fact]
    public async Task A_squid_that_dies_before_answering_is_named_as_the_next_hop_of_the_502()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin silent = RawOrigin.Start(async (stream, socket) =>
        {
            await ReadHeadAsync(stream);
            arrived.TrySetResult();
            _ = await stream.ReadAsync(new byte[1]); // never answers
        });
        await using TestProxy child = await ChildAsync(Corp([_first.Url]));
        using HttpClient client = Client(child);

        Task<HttpResponseMessage> pending = client.GetAsync($"http://origin.test:{silent.Port}/never");
        await Within(arrived.Task, TimeSpan.FromSeconds(20), "the request did not reach the origin through Squid");
        await _first.StopAsync();
        using HttpResponseMessage response = await Within(pending, TimeSpan.FromSeconds(30), "no answer after Squid died");

        // Not the origin's doing: the parent it went to is the one that closed, and the client is told which.
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        string status = response.Headers.GetValues("Proxy-Status").Single();
        Assert.StartsWith($"{TestProxy.Name}; error=http_response_incomplete; next-hop=\"{_first.Endpoint}\"", status);
        Assert.Contains($"parent proxy {_first.Endpoint} closed the connection without a response", await response.Content.ReadAsStringAsync());
    }

    private static async Task ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return;
            }

            head.Add(one[0]);
        }
    }

    [Fact]
    public async Task With_every_squid_down_the_client_gets_502_saying_every_proxy_of_the_upstream_is_down()
    {
        await using TestProxy child = await ChildAsync(Corp([_first.Url, _second.Url]));
        using HttpClient client = Client(child);
        Assert.Equal("squid-1.test", await GetAsync(client, "before"));
        await _first.StopAsync();
        await _second.StopAsync();

        using HttpResponseMessage failed = await client.GetAsync($"http://origin.test:{_origin.Port}/hello?both-refuse");
        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        string status = failed.Headers.GetValues("Proxy-Status").Single();
        Assert.StartsWith($"{TestProxy.Name}; error=connection_refused; next-hop=\"{_second.Endpoint}\"", status);
        Assert.Contains("every proxy of upstream corp failed", await failed.Content.ReadAsStringAsync());

        string? downBody = null;
        for (int i = 0; i < 5 && downBody is null; i++)
        {
            using HttpResponseMessage response = await client.GetAsync($"http://origin.test:{_origin.Port}/hello?down-{i}");
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            string body = await response.Content.ReadAsStringAsync();
            if (body.Contains("is down", StringComparison.Ordinal))
            {
                downBody = body;
                Assert.StartsWith($"{TestProxy.Name}; error=destination_unavailable", response.Headers.GetValues("Proxy-Status").Single());
            }
        }

        Assert.NotNull(downBody);
        Assert.Contains("every proxy of upstream corp is down", downBody);
        Assert.Contains(_first.Endpoint.ToString(), downBody);
        Assert.Contains(_second.Endpoint.ToString(), downBody);
        Assert.All(child.Server.ParentStates, s => Assert.False(s.Up));
    }

    [Fact]
    public async Task Round_robin_spreads_requests_over_both_squids()
    {
        await using TestProxy child = await ChildAsync(Corp([_first.Url, _second.Url], balance: "round-robin"));
        using HttpClient client = Client(child);

        var carriers = new List<string>();
        for (int i = 0; i < 10; i++)
        {
            carriers.Add(await GetAsync(client, $"rr-{i}"));
        }

        int first = carriers.Count(c => c == "squid-1.test");
        Assert.InRange(first, 1, 9);
        await _first.WaitForAccessLogAsync(l => l.Contains("/hello?rr-", StringComparison.Ordinal));
        await _second.WaitForAccessLogAsync(l => l.Contains("/hello?rr-", StringComparison.Ordinal));
        await EventuallyAsync(() => _first.AccessLogLines().Count(l => l.Contains("/hello?rr-", StringComparison.Ordinal)) == first
            && _second.AccessLogLines().Count(l => l.Contains("/hello?rr-", StringComparison.Ordinal)) == 10 - first, "each Squid logging the requests it carried");
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello?rr-9"), "Sluice's line");
        Assert.Contains(" ROUNDROBIN_PARENT/127.0.0.1 ", line);
    }

    [Fact]
    public async Task Hash_destination_keeps_each_destination_on_one_squid()
    {
        await using TestProxy child = await ChildAsync(Corp([_first.Url, _second.Url], balance: "hash-destination"));
        using HttpClient client = Client(child);

        foreach (string host in Names)
        {
            var carriers = new HashSet<string>();
            for (int i = 0; i < 4; i++)
            {
                carriers.Add(await GetAsync(client, $"hash-{host}-{i}", host));
            }

            Assert.Single(carriers);
            SquidParent carrier = carriers.Single() == "squid-1.test" ? _first : _second;
            SquidParent other = carrier == _first ? _second : _first;
            await EventuallyAsync(() => carrier.AccessLogLines().Count(l => l.Contains($"/hello?hash-{host}-", StringComparison.Ordinal)) == 4, $"{host}'s four requests in its Squid's log");
            Assert.DoesNotContain(other.AccessLogLines(), l => l.Contains($"/hello?hash-{host}-", StringComparison.Ordinal));
        }

        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello?hash-"), "Sluice's line");
        Assert.Contains(" CARP/127.0.0.1 ", line);
    }
}
