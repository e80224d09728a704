using System.Net;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Bytes an origin sends after a complete response answer nothing: they must never be read as the response to a
/// later request on the same pooled connection, whichever client sends it.
/// </summary>
public sealed class PoolPoisoningTests
{
    private const string Poison = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned";

    [Theory]
    [InlineData(20, 60)]
    [InlineData(20, 200)]
    [InlineData(5, 30)]
    public async Task Late_bytes_on_an_idle_upstream_connection_never_answer_the_next_request(int lateMs, int nextMs)
    {
        await using var origin = new HostileOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + HostileOrigin.Pause + Poison, TimeSpan.FromMilliseconds(lateMs));
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        string request = $"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test:{origin.Port}\r\n\r\n";
        await client.SendAsync(request);
        Outcome first = await Outcome.ReadAsync(client.Stream);
        Assert.Equal("ok", first.Body);

        await Task.Delay(nextMs);
        await client.SendAsync(request);
        Outcome second = await Outcome.ReadAsync(client.Stream);
        Assert.True(second.Body == HostileOrigin.FreshBody, $"the second request got '{second.Body}' instead of its own response\n{second}");
    }

    [Fact]
    public async Task An_idle_upstream_connection_that_receives_bytes_is_closed_at_once()
    {
        await using var origin = new HostileOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + HostileOrigin.Pause + Poison, TimeSpan.FromMilliseconds(20));
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test:{origin.Port}\r\n\r\n");
        Assert.Equal("ok", (await Outcome.ReadAsync(client.Stream)).Body);

        // Nothing else is sent: only the idle connection's own watch can notice the unsolicited bytes. (The pool's
        // periodic sweep runs every 5 s, after this wait has given up.)
        Task closed = origin.FirstConnectionClosed.Task;
        Assert.True(await Task.WhenAny(closed, Task.Delay(TimeSpan.FromSeconds(4))) == closed,
            "the proxy kept an upstream connection that had received bytes no request asked for");
    }
}
