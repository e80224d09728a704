using System.Collections.Concurrent;
using System.Net;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Many clients at once against an origin that fails in every way it can before its answer, or drops its connections
/// while they sit in the pool: every request gets a status, never a silent close, one access-log line, and a POST never
/// reaches the origin twice.
/// </summary>
public sealed class FlappingOriginAttackTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Host = "flap.test";
    private const int Clients = 20;
    private const int PerClient = 10;

    [Fact]
    public async Task Two_hundred_requests_against_a_flapping_origin_are_each_answered_once_and_logged_once()
    {
        int turn = 0;
        await using var origin = new ScriptedOrigin(async side =>
        {
            // Each connection's fate, in turn: what it does at its first failure point.
            int fate = Interlocked.Increment(ref turn) % 7;
            if (fate == 1)
            {
                side.Reset();
                return;
            }

            while (await side.ReadRequestAsync() is { } head)
            {
                switch (fate)
                {
                    case 2:
                        side.Reset();
                        return;
                    case 3:
                        side.Close();
                        return;
                    case 4 when side.Requests == 2:
                        await side.SendAsync("HTTP/1.1 200 OK\r\nContent-");
                        side.Reset();
                        return;
                    case 5:
                        await side.AnswerAsync(head);
                        side.Close(); // in the pool, or on its way there
                        return;
                    case 6:
                        await side.AnswerAsync(head, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned");
                        break;
                    default:
                        await side.AnswerAsync(head);
                        break;
                }
            }
        });
        var log = new LogLines();
        await using TestProxy proxy = await TestProxy.StartAsync(log: log);
        proxy.Resolver.Map(Host, IPAddress.Loopback);
        string authority = $"{Host}:{origin.Port}";

        var problems = new ConcurrentQueue<string>();
        var statuses = new ConcurrentQueue<int>();
        Task[] clients = [.. Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            RawClient? raw = null;
            try
            {
                for (int i = 0; i < PerClient; i++)
                {
                    raw ??= await RawClient.ConnectAsync(proxy.Endpoint);
                    bool post = i % 3 == 2;
                    string id = $"c{c}-r{i}";
                    await raw.SendAsync(post
                        ? $"POST http://{authority}/{id} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {id.Length}\r\n\r\n{id}"
                        : $"GET http://{authority}/{id} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
                    Outcome outcome = await Outcome.ReadAsync(raw.Stream);
                    statuses.Enqueue(outcome.Status);
                    if (outcome.Status == 0)
                    {
                        problems.Enqueue($"{id}: closed without an answer\n{outcome}");
                    }
                    else if (outcome.Status == 200 && outcome.Body != OriginSide.FreshBody)
                    {
                        problems.Enqueue($"{id}: 200 with the wrong body\n{outcome}");
                    }
                    else if (outcome.Status != 200 && outcome.HeadValue("Proxy-Status")?.Contains(TestProxy.Name, StringComparison.Ordinal) != true)
                    {
                        problems.Enqueue($"{id}: {outcome.Status} without Proxy-Status\n{outcome}");
                    }

                    if (outcome.Closed || outcome.Truncated)
                    {
                        raw.Dispose();
                        raw = null;
                    }
                }
            }
            finally
            {
                raw?.Dispose();
            }
        }))];

        Task all = Task.WhenAll(clients);
        Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60))) == all, "some client never got its answer");
        await all;

        string summary = string.Join(", ", statuses.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"));
        output.WriteLine($"statuses: {summary}; origin connections {origin.Connections}");
        Assert.True(problems.IsEmpty, $"{summary}\n{string.Join("\n\n", problems.Take(5))}");
        Assert.Contains(200, statuses);
        Assert.Contains(502, statuses);

        // Every request once in the access log; no POST twice at the origin (its body is its id).
        for (int c = 0; c < Clients; c++)
        {
            for (int i = 0; i < PerClient; i++)
            {
                string id = $"c{c}-r{i}";
                if (i % 3 == 2)
                {
                    Assert.True(origin.Arrivals("\r\n\r\n" + id) <= 1, $"POST {id} reached the origin {origin.Arrivals("\r\n\r\n" + id)} times");
                }
            }
        }

        await Task.Delay(200); // the log writer is behind the last answers
        for (int c = 0; c < Clients; c++)
        {
            for (int i = 0; i < PerClient; i++)
            {
                string id = $"/c{c}-r{i} ";
                int lines = proxy.AccessLog.Lines.Count(l => l.Contains(id, StringComparison.Ordinal));
                Assert.True(lines == 1, $"{lines} access-log lines for {id}");
            }
        }

        Assert.DoesNotContain(log.Lines, l => l.Contains("failed unexpectedly", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Clients_that_connect_and_reset_at_once_never_stop_the_listener()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        for (int i = 0; i < 100; i++)
        {
            using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
            raw.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            raw.Socket.Close();
        }

        await using var origin = new ScriptedOrigin(async side =>
        {
            while (await side.ReadRequestAsync() is { } head)
            {
                await side.AnswerAsync(head);
            }
        });
        proxy.Resolver.Map(Host, IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://{Host}:{origin.Port}/alive HTTP/1.1\r\nHost: {Host}:{origin.Port}\r\n\r\n");
        Assert.Equal(200, (await Outcome.ReadAsync(client.Stream)).Status);
    }
}
