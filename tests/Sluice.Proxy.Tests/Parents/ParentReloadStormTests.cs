using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// Reloads that change the upstreams, their proxies and their credentials (the password file rotated each time)
/// while requests flow: every request is answered whole, and no request ever goes to one configuration's proxies
/// with another configuration's credentials.
/// </summary>
public sealed class ParentReloadStormTests
{
    private const string User = "storm-user";
    private const int Reloads = 200;

    [Fact]
    public async Task Two_hundred_reloads_while_requests_flow_never_mix_proxies_and_credentials()
    {
        using var secret = new SecretFile("pass-0");
        var violations = new ConcurrentQueue<string>();

        // Even generations: upstream a = [P1] with the credentials. Odd ones: a = [P2] with the credentials, and
        // b = [a closed port, P3] without any, for b.test. Each parent checks the generation of what it receives.
        HostileParent Checking(string name, Func<int?, bool> accepts) => new(async line =>
        {
            while (await line.ReadHeadAsync() is { } head)
            {
                await line.ReadBodyAsync(head);
                int? generation = GenerationOf(head);
                if (!accepts(generation))
                {
                    violations.Enqueue($"{name} received generation {generation?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}:\n{head}");
                    await line.SendAsync("HTTP/1.1 418 Wrong Generation\r\nContent-Length: 0\r\n\r\n");
                    continue;
                }

                if (!await line.AnswerFreshAsync(head))
                {
                    return;
                }
            }
        });
        await using HostileParent p1 = Checking("P1", g => g % 2 == 0);
        await using HostileParent p2 = Checking("P2", g => g % 2 == 1);
        await using HostileParent p3 = Checking("P3", g => g is null);
        var closed = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        Assert.True(DestinationPattern.TryParse("b.test", out DestinationPattern toB, out string problem), problem);

        SluiceConfig Generation(SluiceConfig c, int generation)
        {
            UpstreamCredentials credentials = secret.Credentials(User);
            return generation % 2 == 0
                ? c with
                {
                    Upstreams = [HostileParentTests.Upstream(credentials, p1.Endpoint) with { Name = "a" }],
                    Rules = [],
                    Route = new RouteConfig { Default = "a" },
                }
                : c with
                {
                    Upstreams =
                    [
                        HostileParentTests.Upstream(credentials, p2.Endpoint) with { Name = "a" },
                        HostileParentTests.Upstream(null, closed, p3.Endpoint) with { Name = "b" },
                    ],
                    Rules = [new Rule { Name = "to-b", Action = RuleAction.Allow, Destinations = [toB], Via = "b" }],
                    Route = new RouteConfig { Default = "a" },
                };
        }

        await using TestProxy child = await TestProxy.StartAsync(c => Generation(c with
        {
            Timeouts = c.Timeouts with { Connect = TimeSpan.FromSeconds(2), Idle = TimeSpan.FromSeconds(10) },
        }, 0));
        SluiceConfig start = child.Server.CurrentConfig;

        using var storming = new CancellationTokenSource();
        var statuses = new ConcurrentQueue<int>();
        var broken = new ConcurrentQueue<string>();
        Task[] clients = [.. Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            for (int round = 0; !storming.IsCancellationRequested || round < 2; round++)
            {
                string host = (i + round) % 2 == 0 ? "a.test" : "b.test";
                using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
                if (i % 4 == 0)
                {
                    await raw.SendAsync($"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n");
                    Outcome tunnel = await Outcome.ReadAsync(raw.Stream, "CONNECT");
                    statuses.Enqueue(tunnel.Status);
                    if (tunnel.Status != 200)
                    {
                        broken.Enqueue(tunnel.ToString());
                        continue;
                    }

                    await raw.SendAsync("tunnel");
                    if (Encoding.ASCII.GetString(await raw.ReadExactlyAsync(6)) != "tunnel")
                    {
                        broken.Enqueue("a tunnel that did not carry its bytes");
                    }

                    continue;
                }

                for (int r = 0; r < 4; r++) // keep-alive: each request of the connection takes the configuration of its time
                {
                    await raw.SendAsync($"GET http://{host}/{i}-{round}-{r} HTTP/1.1\r\nHost: {host}\r\n\r\n");
                    Outcome outcome = await Outcome.ReadAsync(raw.Stream);
                    statuses.Enqueue(outcome.Status);
                    if (outcome.Status != 200 || outcome.Body != HostileParent.FreshBody)
                    {
                        broken.Enqueue(outcome.ToString());
                        break;
                    }
                }
            }
        }))];

        for (int generation = 1; generation <= Reloads; generation++)
        {
            secret.Write($"pass-{generation}\n"); // rotated, as a Secret mount is, before the configuration is applied
            child.Server.Reload(Generation(start, generation));
            await Task.Delay(generation % 10 == 0 ? 20 : 2);
        }

        storming.Cancel();
        Task all = Task.WhenAll(clients);
        Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))) == all, "a client never got its answer");
        await all;

        Assert.Empty(violations);
        Assert.True(broken.IsEmpty, string.Join("\n", broken));
        Assert.True(statuses.Count > 100, $"only {statuses.Count} requests went through the storm");
        Assert.Equal(Reloads + 1, child.Server.ConfigGeneration);

        // Bounded: health state only for configured parents (the last configuration has P1 alone, never failed), and
        // every client connection gone once the clients are.
        Assert.Equal(0, child.Server.TrackedParents);
        Assert.Equal([p1.Endpoint.ToString()], child.Server.ParentStates.Select(s => s.Parent));
        for (int i = 0; i < 100 && child.OpenConnections > 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, child.OpenConnections);
    }

    [Fact]
    public async Task A_parent_that_fails_after_a_reload_removed_it_leaves_no_state_behind()
    {
        // A request holds the configuration it started with: its parent may fail after a reload dropped that parent.
        var closed = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using HostileParent stalling = new(async line =>
        {
            await line.ReadHeadAsync();
            await Task.Delay(Timeout.Infinite, line.Stopping); // answers nothing: the connect timeout ends it, after the reload
        });
        await using HostileParent replacement = HostileParent.Fresh();
        await using TestProxy child = await HostileParentTests.ChildAsync(HostileParentTests.Upstream(null, stalling.Endpoint, closed));
        SluiceConfig start = child.Server.CurrentConfig;

        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
        await raw.SendAsync("CONNECT dest.test:443 HTTP/1.1\r\nHost: dest.test:443\r\n\r\n");
        for (int i = 0; i < 100 && stalling.Heads.Count == 0; i++)
        {
            await Task.Delay(20);
        }

        child.Server.Reload(start with { Upstreams = [HostileParentTests.Upstream(null, replacement.Endpoint)] });
        string head = await raw.ReadHeadAsync(); // the old configuration's CONNECT: the stall ends it, then the closed port
        Assert.StartsWith("HTTP/1.1 50", head);

        Assert.Equal(0, child.Server.TrackedParents);
        Assert.Equal([replacement.Endpoint.ToString()], child.Server.ParentStates.Select(s => s.Parent));
        using HttpClient http = new(new HttpClientHandler { Proxy = new WebProxy(child.Uri), UseProxy = true });
        Assert.Equal(HostileParent.FreshBody, await http.GetStringAsync("http://dest.test/new"));
    }

    // The N of "pass-N" in the Basic credentials the parent received; null without any.
    private static int? GenerationOf(string head)
    {
        string? field = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Proxy-Authorization: Basic ", StringComparison.OrdinalIgnoreCase));
        if (field is null)
        {
            return null;
        }

        string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(field["Proxy-Authorization: Basic ".Length..]));
        return decoded.StartsWith($"{User}:pass-", StringComparison.Ordinal)
            && int.TryParse(decoded[$"{User}:pass-".Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int generation)
            ? generation
            : -1;
    }
}
