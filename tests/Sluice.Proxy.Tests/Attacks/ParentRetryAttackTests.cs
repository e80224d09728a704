using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Parents;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Parents that close or reset a new connection before any answer: only a request that can be sent again goes on to
/// the next parent (once to each); the rest get a 502 with Proxy-Status naming the parent, and go nowhere else.
/// </summary>
public sealed class ParentRetryAttackTests
{
    private const string HeadAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";

    private static string Request(string method, string path, string? body = null)
    {
        string framing = body is null ? "" : $"Content-Length: {body.Length}\r\n";
        return $"{method} http://dest.test/{path} HTTP/1.1\r\nHost: dest.test\r\n{framing}\r\n{body}";
    }

    /// <summary>A parent that dies at <paramref name="point"/> on every connection.</summary>
    private static HostileParent Dying(string point) => new(async line =>
    {
        switch (point)
        {
            case "accept-reset":
                line.Reset();
                return;
            case "accept-close":
                return; // disposed: a FIN (or a reset, with the request unread)
        }

        if (await line.ReadHeadAsync() is not { } head)
        {
            return;
        }

        await line.ReadBodyAsync(head);
        switch (point)
        {
            case "head-reset":
                line.Reset();
                return;
            case "head-close":
                line.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
                await line.DrainAsync();
                return;
            default:
                throw new ArgumentException(point);
        }
    });

    /// <summary>A parent that answers every request properly (HEAD without a body).</summary>
    private static HostileParent Stable() => new(async line =>
    {
        while (await line.ReadHeadAsync() is { } head)
        {
            await line.ReadBodyAsync(head);
            line.Parent.NextRequest();
            await line.SendAsync(head.StartsWith("HEAD ", StringComparison.Ordinal) ? HeadAnswer : HostileParent.FreshResponse);
        }
    });

    [Theory]
    [InlineData("GET", null, true)]
    [InlineData("HEAD", null, true)]
    [InlineData("OPTIONS", null, true)]
    [InlineData("DELETE", null, true)]
    [InlineData("PUT", "", true)]
    [InlineData("PUT", "data", false)]
    [InlineData("POST", "data", false)]
    [InlineData("POST", "", false)]
    [InlineData("PATCH", "data", false)]
    [InlineData("GET", "data", false)]
    public async Task Only_a_request_that_can_be_sent_twice_goes_on_to_the_next_parent(string method, string? body, bool resent)
    {
        foreach (string point in new[] { "head-close", "head-reset" })
        {
            await using HostileParent dying = Dying(point);
            await using HostileParent stable = Stable();
            await using TestProxy child = await HostileParentTests.ChildAsync(HostileParentTests.Upstream(null, dying.Endpoint, stable.Endpoint));
            using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

            string path = $"retry-{point}-{method}";
            await raw.SendAsync(Request(method, path, body));
            Outcome outcome = await Outcome.ReadAsync(raw.Stream, method);

            Assert.Single(dying.Heads, h => h.Contains(path, StringComparison.Ordinal));
            if (resent)
            {
                Assert.True(outcome.Status == 200, $"{point}: {outcome}");
                Assert.Single(stable.Heads, h => h.Contains(path, StringComparison.Ordinal));
            }
            else
            {
                Assert.True(outcome.Status == 502, $"{point}: {outcome}");
                Assert.Contains($"next-hop=\"{dying.Endpoint}\"", outcome.HeadValue("Proxy-Status"));
                Assert.Empty(stable.Heads);
            }

            await child.AccessLog.WaitForAsync(l => l.Contains(path, StringComparison.Ordinal), $"for {path}");
            await Task.Delay(100);
            Assert.Single(child.AccessLog.Lines, l => l.Contains(path, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("accept-reset", "GET")]
    [InlineData("accept-close", "GET")]
    [InlineData("accept-reset", "POST")]
    [InlineData("accept-close", "POST")]
    public async Task A_parent_that_resets_as_it_accepts_is_a_retry_for_a_get_and_a_502_for_a_post(string point, string method)
    {
        await using HostileParent dying = Dying(point);
        await using HostileParent stable = Stable();
        await using TestProxy child = await HostileParentTests.ChildAsync(HostileParentTests.Upstream(null, dying.Endpoint, stable.Endpoint));

        // A few rounds: the reset lands before the write, during it or before the read, each a different path.
        for (int round = 0; round < 2; round++)
        {
            using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
            string path = $"accept-{point}-{method}-{round}";
            await raw.SendAsync(Request(method, path, method == "POST" ? "data" : null));
            Outcome outcome = await Outcome.ReadAsync(raw.Stream, method);
            if (method == "GET")
            {
                Assert.True(outcome.Status == 200, $"round {round}: {outcome}");
            }
            else if (outcome.Status == 200)
            {
                // The reset beat the connect's completion: the dial failed with nothing written, so the next parent
                // was a first attempt, not a resend. It got the request once.
                Assert.Single(stable.Heads, h => h.Contains(path, StringComparison.Ordinal));
            }
            else
            {
                Assert.True(outcome.Status == 502, $"round {round}: {outcome}");
                Assert.Contains($"next-hop=\"{dying.Endpoint}\"", outcome.HeadValue("Proxy-Status"));
                Assert.DoesNotContain(stable.Heads, h => h.Contains(path, StringComparison.Ordinal));
            }

            await child.AccessLog.WaitForAsync(l => l.Contains(path, StringComparison.Ordinal), $"for {path}");
        }
    }

    [Fact]
    public async Task Parents_that_all_die_at_different_points_give_every_client_a_named_error()
    {
        await using HostileParent first = Dying("accept-reset");
        await using HostileParent second = Dying("head-reset");
        await using HostileParent third = Dying("head-close");
        await using TestProxy child = await HostileParentTests.ChildAsync(HostileParentTests.Upstream(null, first.Endpoint, second.Endpoint, third.Endpoint));

        // Round after round: the parents' health goes down with the failures; the answers stay named errors.
        for (int round = 0; round < 8; round++)
        {
            using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);
            string path = $"all-die-{round}";
            await raw.SendAsync(Request("GET", path));
            Outcome outcome = await Outcome.ReadAsync(raw.Stream);

            Assert.True(outcome.Status is 502 or 503, $"round {round}: {outcome}");
            Assert.Contains(TestProxy.Name, outcome.HeadValue("Proxy-Status"));
            Assert.True(second.Heads.Count(h => h.Contains(path, StringComparison.Ordinal)) <= 1, $"round {round}: sent twice to one parent");
            Assert.True(third.Heads.Count(h => h.Contains(path, StringComparison.Ordinal)) <= 1, $"round {round}: sent twice to one parent");
            await child.AccessLog.WaitForAsync(l => l.Contains(path, StringComparison.Ordinal), $"for {path}");
        }
    }

    [Fact]
    public async Task A_pooled_connection_to_a_parent_that_dies_with_the_parent_goes_once_to_each_parent()
    {
        // The first parent answers one request per connection, then closes the connection at the next one (from the
        // pool), and closes every later new connection unanswered: the GET is tried on the pooled connection, on a new
        // one to the same parent, then the next parent, and the POST gets a 502 after the pooled connection.
        int connections = 0;
        await using var dying = new HostileParent(async line =>
        {
            bool answering = Interlocked.Increment(ref connections) == 1;
            while (await line.ReadHeadAsync() is { } head)
            {
                await line.ReadBodyAsync(head);
                if (!answering)
                {
                    line.Reset();
                    return;
                }

                answering = false;
                await line.SendAsync(HostileParent.FreshResponse);
            }
        });
        await using HostileParent stable = Stable();
        await using TestProxy child = await HostileParentTests.ChildAsync(HostileParentTests.Upstream(null, dying.Endpoint, stable.Endpoint));
        using RawClient raw = await RawClient.ConnectAsync(child.Endpoint);

        await raw.SendAsync(Request("GET", "warm"));
        Assert.Equal(200, (await Outcome.ReadAsync(raw.Stream)).Status);
        await raw.SendAsync(Request("GET", "pooled-get"));
        Outcome get = await Outcome.ReadAsync(raw.Stream);
        Assert.True(get.Status == 200, get.ToString());
        Assert.Equal(2, dying.Heads.Count(h => h.Contains("/pooled-get", StringComparison.Ordinal)));
        Assert.Single(stable.Heads, h => h.Contains("/pooled-get", StringComparison.Ordinal));
    }
}
