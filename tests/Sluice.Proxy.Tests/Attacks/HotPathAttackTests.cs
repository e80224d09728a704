using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Hostile input against the forwarding hot path: head strings reused between messages of one connection, list
/// fields read as spans (Connection, Transfer-Encoding, Content-Length), Via loop detection.
/// </summary>
public sealed class HotPathAttackTests
{
    /// <summary>Records each request head it receives, as bytes in Latin1, and answers with <paramref name="answer"/>(n).</summary>
    private static RawOrigin Recording(ConcurrentQueue<string> seen, Func<int, string>? answer = null)
    {
        int n = 0;
        return RawOrigin.Start(async (stream, _) =>
        {
            while (await StreamHeads.ReadHeadAsync(stream) is { } head)
            {
                seen.Enqueue(head);
                string response = answer?.Invoke(Interlocked.Increment(ref n) - 1) ?? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                await stream.WriteAsync(Encoding.Latin1.GetBytes(response));
            }
        });
    }

    private static async Task<string> ExchangeAsync(RawClient client, string request)
    {
        await client.SendAsync(request);
        string head = await client.ReadHeadAsync();
        string? length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (length is not null && int.Parse(length[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture) is int count and > 0)
        {
            await client.ReadExactlyAsync(count);
        }

        return head;
    }

    [Fact]
    public async Task Request_fields_that_differ_only_late_in_case_or_in_obs_text_on_one_keep_alive_connection_go_upstream_as_each_was_sent()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        // Same length, same first bytes; then case only; then obs-text (Latin1 é, É) against its ASCII neighbour.
        string[][] variants =
        [
            ["X-Token: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", "User-Agent: caf\u00e9", "accept: */*"],
            ["X-Token: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "User-Agent: cafe", "Accept: */*"],
            ["x-token: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA2", "User-Agent: caf\u00c9", "ACCEPT: */*"],
            ["X-Token: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA2", "User-Agent: caf\u00c9", "ACCEPT: */x"],
        ];
        for (int i = 0; i < variants.Length; i++)
        {
            string head = await ExchangeAsync(client, $"GET http://o.test:{origin.Port}/p{i}?Q=a HTTP/1.1\r\nHost: o.test:{origin.Port}\r\n{string.Join("\r\n", variants[i])}\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", head);
        }

        string[] heads = [.. seen];
        Assert.Equal(variants.Length, heads.Length);
        for (int i = 0; i < variants.Length; i++)
        {
            Assert.StartsWith($"GET /p{i}?Q=a HTTP/1.1\r\n", heads[i]);
            foreach (string line in variants[i])
            {
                Assert.Contains("\r\n" + line + "\r\n", heads[i], StringComparison.Ordinal);
            }
        }

    }

    [Fact]
    public async Task Response_heads_on_a_reused_upstream_connection_with_different_fields_at_the_same_index_reach_the_client_as_sent()
    {
        string[] extra =
        [
            "X-A: one\r\nSet-Cookie: s=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\r\nServer: caf\u00e9",
            "X-B: one\r\nSet-Cookie: s=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2\r\nServer: cafe",
            "x-b: One\r\nset-cookie: s=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA2\r\nServer: caf\u00c9",
        ];
        string[] reasons = ["OK", "Ok", "OK but different"];
        var seen = new ConcurrentQueue<string>();
        int accepted = 0;
        await using RawOrigin origin = Recording(seen, n =>
        {
            if (n == 0)
            {
                Interlocked.Increment(ref accepted);
            }

            return $"HTTP/1.1 200 {reasons[n % 3]}\r\n{extra[n % 3]}\r\nContent-Length: 2\r\n\r\nok";
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        for (int i = 0; i < extra.Length; i++)
        {
            string head = await ExchangeAsync(client, $"GET http://o.test:{origin.Port}/r{i} HTTP/1.1\r\nHost: o.test:{origin.Port}\r\n\r\n");
            Assert.StartsWith($"HTTP/1.1 200 {reasons[i]}\r\n", head);
            foreach (string line in extra[i].Split("\r\n"))
            {
                Assert.Contains("\r\n" + line + "\r\n", head, StringComparison.Ordinal);
            }
        }

        Assert.Equal(3, seen.Count);
    }

    [Theory]
    [InlineData("chunked\u00a0")] // NBSP after
    [InlineData("\u00a0chunked")] // NBSP before
    [InlineData("chunked\u0085")] // NEL (Latin1 0x85)
    [InlineData("chunked, \u00a0")] // an element that is only NBSP
    [InlineData("chunked,")] // a trailing empty element is fine to skip, but what is left must be exactly chunked: it is
    public async Task Transfer_encoding_with_unicode_whitespace_is_refused_and_nothing_reaches_the_origin(string coding)
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"POST http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nTransfer-Encoding: {coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        string head = await client.ReadHeadAsync();

        if (coding == "chunked,")
        {
            // Empty list elements are not codings (RFC 9110 §5.6.1): this one is plain chunked.
            Assert.StartsWith("HTTP/1.1 200", head);
            return;
        }

        Assert.StartsWith("HTTP/1.1 400", head);
        Assert.Empty(seen);
    }

    [Theory]
    [InlineData("5", "05")]
    [InlineData("5", "5, 05")]
    [InlineData("5", "+5")]
    [InlineData("5", "5\u00a0")]
    [InlineData("05", "5")]
    [InlineData("5", "5,,6")]
    public async Task Response_content_lengths_spelled_differently_are_a_502(string first, string second)
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await stream.WriteAsync(Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {first}\r\nContent-Length: {second}\r\n\r\nhelloGET /x HTTP/1.1\r\n\r\n"));
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 502", await client.ReadHeadAsync());
    }

    [Fact]
    public async Task Repeated_identical_response_content_lengths_in_one_list_are_accepted()
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await stream.WriteAsync(Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 5, ,5\r\nContent-Length:\t5\r\n\r\nhello"));
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Equal("hello", Encoding.ASCII.GetString(await client.ReadExactlyAsync(5)));
    }

    [Theory]
    [InlineData("5", "5")]
    [InlineData("5", "05")]
    public async Task Repeated_request_content_length_is_refused_whatever_the_spelling(string first, string second)
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"POST http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nContent-Length: {first}\r\nContent-Length: {second}\r\n\r\nhello");
        Assert.StartsWith("HTTP/1.1 400", await client.ReadHeadAsync());
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Connection_with_tabs_empty_elements_and_a_long_list_strips_every_named_field_but_never_host_or_content_length()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        string many = string.Join(",", Enumerable.Range(0, 600).Select(i => i % 10 != 1 ? "" : $"X-Gone-{i}"));
        string gone = string.Join("", Enumerable.Range(0, 600).Where(i => i % 10 == 1).Select(i => $"X-Gone-{i}: v\r\n"));
        string request = $"POST http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\n"
            + "Connection: ,,\tX-Secret\t, ,keep-alive,,\r\n"
            + $"Connection: {many}\r\n"
            + "connection: \tHost\t,Content-Length, x-other \r\n"
            + "X-Secret: s1\r\nX-Other: o1\r\nx-SECRET: s2\r\nX-Kept: k\r\n"
            + gone
            + "Content-Length: 5\r\n\r\nhello";
        string head = await ExchangeAsync(client, request);
        Assert.StartsWith("HTTP/1.1 200", head);

        string forwarded = Assert.Single(seen);
        Assert.DoesNotContain("secret", forwarded, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("X-Other", forwarded, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("X-Gone-", forwarded, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Kept: k\r\n", forwarded, StringComparison.Ordinal);
        Assert.Contains("\r\nHost: o.test:", forwarded, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Length: 5\r\n", forwarded, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.1\t" + TestProxy.Name)]
    [InlineData("1.0 a (comment, with, commas), 1.1 " + TestProxy.Name)]
    [InlineData("1.1 a ), 1.1 " + TestProxy.Name + " (x)")]
    [InlineData("1.1 a ((nested, ) still), 1.1 " + "SLUICE-TEST")]
    [InlineData(",,1.1 " + TestProxy.Name + "\t(comment")]
    [InlineData("HTTP/1.1 " + TestProxy.Name)]
    public async Task Via_naming_this_proxy_is_a_loop_however_it_is_spelled(string via)
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nVia: {via}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 508", await client.ReadHeadAsync());
        Assert.Empty(seen);
    }

    [Theory]
    [InlineData("1.1 " + TestProxy.Name + "-other")]
    [InlineData("1.1 other (via " + TestProxy.Name + ")")]
    [InlineData("1.1 other (" + TestProxy.Name + ", 1.1 " + TestProxy.Name + "x)")]
    [InlineData(TestProxy.Name)]
    public async Task Via_that_only_mentions_this_proxy_is_no_loop(string via)
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        Assert.StartsWith("HTTP/1.1 200", await ExchangeAsync(client, $"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nVia: {via}\r\n\r\n"));
        Assert.Single(seen);
    }

    [Theory]
    [InlineData("chunked\u00a0")]
    [InlineData("\u00a0chunked")]
    [InlineData("chunked, chunked")]
    [InlineData("gzip\u00a0, chunked")]
    public async Task A_response_transfer_encoding_that_is_not_exactly_chunked_is_a_502(string coding)
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await stream.WriteAsync(Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\nTransfer-Encoding: {coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 502", await client.ReadHeadAsync());
    }

    [Theory]
    [InlineData("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked")]
    [InlineData("Transfer-Encoding: ,")]
    [InlineData("Content-Length: 5\u00a0")]
    [InlineData("Content-Length: \u00a05")]
    [InlineData("Content-Length: 5,5")]
    [InlineData("Content-Length: 5\r\nTransfer-Encoding: ,")]
    public async Task Request_framing_fields_that_only_look_right_are_refused(string framing)
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"POST http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\n{framing}\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400", await client.ReadHeadAsync());
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Connection_close_spelled_with_tabs_and_empty_elements_still_closes_the_client_connection()
    {
        var seen = new ConcurrentQueue<string>();
        await using RawOrigin origin = Recording(seen);
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("o.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET http://o.test:{origin.Port}/ HTTP/1.1\r\nHost: o.test\r\nConnection: ,\t,keep-alive\r\nConnection: \tCLOSE\t,\r\n\r\n");
        string all = Encoding.Latin1.GetString(await client.ReadToEndAsync());
        Assert.StartsWith("HTTP/1.1 200", all);
        Assert.EndsWith("ok", all);
    }
}
