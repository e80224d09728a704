using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Forwarding;

/// <summary>
/// The forwarding path reuses the strings of a connection's previous head and reads list fields without splitting
/// them into strings: what it passes on must still be exactly what each message said.
/// </summary>
public sealed class HeadReuseTests
{
    /// <summary>An origin that records each request head and answers with the fields <paramref name="answer"/> gives.</summary>
    private static RawOrigin Recording(ConcurrentQueue<string> seen, Func<int, string> answer) => RawOrigin.Start(async (stream, _) =>
    {
        int n = 0;
        while (await StreamHeads.ReadHeadAsync(stream) is { } head)
        {
            seen.Enqueue(head);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\n{answer(n++)}Content-Length: 2\r\n\r\nok"));
        }
    });

    [Fact]
    public async Task A_value_that_changes_between_requests_on_one_connection_is_forwarded_as_sent()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen, _ => "");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        // Same names in the same places, values of the same length that differ in one byte, then a field more.
        string[] agents = ["agent-a", "agent-b", "agent-b", "agent-a"];
        for (int i = 0; i < agents.Length; i++)
        {
            string extra = i == 3 ? "X-Extra: 3\r\n" : "";
            await client.SendAsync($"GET http://o.test:{origin.Port}/r{i} HTTP/1.1\r\nHost: o.test\r\nUser-Agent: {agents[i]}\r\n{extra}\r\n");
            string head = await client.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 200", head);
            await client.ReadExactlyAsync(StreamHeads.ContentLength(head));
        }

        string[] heads = [.. seen];
        Assert.Equal(4, heads.Length);
        for (int i = 0; i < agents.Length; i++)
        {
            Assert.StartsWith($"GET /r{i} HTTP/1.1\r\n", heads[i]);
            Assert.Contains($"\r\nUser-Agent: {agents[i]}\r\n", heads[i]);
        }

        Assert.Contains("\r\nX-Extra: 3\r\n", heads[3]);
        Assert.DoesNotContain("X-Extra", heads[2]);
    }

    [Fact]
    public async Task A_response_field_that_changes_on_a_kept_upstream_connection_reaches_the_client_as_sent()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen, n => $"ETag: \"v{n % 2}\"\r\nX-N: {n}\r\n");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        for (int i = 0; i < 4; i++)
        {
            await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\n\r\n");
            string head = await client.ReadHeadAsync();
            Assert.Contains($"\r\nETag: \"v{i % 2}\"\r\n", head);
            Assert.Contains($"\r\nX-N: {i}\r\n", head);
            await client.ReadExactlyAsync(StreamHeads.ContentLength(head));
        }

        Assert.Equal(4, seen.Count); // one upstream connection carried them all: the recording origin counts per connection
    }

    [Theory]
    [InlineData("chunked\u00A0")] // NO-BREAK SPACE is whitespace to .NET's trimming, not to HTTP's (OWS is SP and HTAB only)
    [InlineData("\u00A0chunked")]
    [InlineData("chunked\u0085")]
    public async Task Transfer_encoding_with_other_whitespace_is_not_read_as_chunked(string coding)
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen, _ => "");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        byte[] request = Encoding.Latin1.GetBytes($"POST http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nTransfer-Encoding: {coding}\r\n\r\n0\r\n\r\n");
        await client.SendAsync(request);
        string head = await client.ReadHeadAsync();
        Assert.Matches("^HTTP/1.1 (400|501) ", head);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Fields_named_in_connection_among_usual_tokens_are_removed_and_the_rest_kept()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen, _ => "");
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nConnection: keep-alive, ,X-Hop ,\tx-other\r\nX-Hop: 1\r\nX-Other: 2\r\nX-Kept: 3\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head);
        string up = Assert.Single(seen);
        Assert.DoesNotContain("X-Hop", up);
        Assert.DoesNotContain("X-Other", up);
        Assert.Contains("\r\nX-Kept: 3\r\n", up);
    }
}
