using System.Net;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Faults found by attacking the proxy with hostile origins and clients: each test is the regression test of one.
/// </summary>
public sealed class HostileTrafficTests
{
    [Fact]
    public async Task Trailer_fields_that_are_not_passed_on_still_count_toward_the_trailer_limit()
    {
        // 216 KB of hop-by-hop trailer lines, all of them dropped by the trailer filter, behind a valid body: the
        // trailer section is over limits.maxHeaderBytes (64 KiB) whether or not its fields are passed on.
        string trailers = string.Concat(Enumerable.Repeat("Proxy-Authorization: x\r\n", 9000));
        await using var origin = new HostileOrigin("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + trailers + "\r\n");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test:{origin.Port}\r\n\r\n");

        Outcome outcome = await Outcome.ReadAsync(client.Stream, "GET", new Outcome());

        Assert.True(outcome.Status == 200 && outcome.Truncated, $"a trailer section over the limit was relayed as a clean end of the body\n{outcome}");
    }
}
