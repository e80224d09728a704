using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Malformed requests sent as raw bytes to the real proxy. Each must get the right status, an RFC 9209 Proxy-Status
/// naming http_request_error, a NONE_NONE access-log line, and a closed connection: after a framing error the next
/// request's first byte is unknown, so the only safe thing is to stop reading.
/// </summary>
public sealed class MalformedRequestTests : IAsyncLifetime
{
    private const string Get = "GET http://x.test/ HTTP/1.1\r\nHost: x.test\r\n";
    private const string Post = "POST http://x.test/ HTTP/1.1\r\nHost: x.test\r\n";

    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _proxy = await TestProxy.StartAsync();
        // Only for the case where a malformed request were forwarded by mistake: then it fails at a closed port, not in DNS.
        _proxy.Resolver.Map("x.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Theory]
    // framing
    [InlineData("both Content-Length and Transfer-Encoding", Post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both Content-Length and Transfer-Encoding")]
    [InlineData("Transfer-Encoding before Content-Length", Post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "both Content-Length and Transfer-Encoding")]
    [InlineData("duplicate Content-Length, same value", Post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, "more than one Content-Length")]
    [InlineData("duplicate Content-Length, different values", Post + "Content-Length: 5\r\nContent-Length: 50\r\n\r\n", 400, "more than one Content-Length")]
    [InlineData("Content-Length abc", Post + "Content-Length: abc\r\n\r\n", 400, "is not a number")]
    [InlineData("Content-Length -1", Post + "Content-Length: -1\r\n\r\n", 400, "is not a number")]
    [InlineData("Content-Length list", Post + "Content-Length: 5, 5\r\n\r\n", 400, "is not a number")]
    [InlineData("Transfer-Encoding gzip", Post + "Transfer-Encoding: gzip\r\n\r\n", 400, "not exactly 'chunked'")]
    [InlineData("Transfer-Encoding chunked, chunked", Post + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, "not exactly 'chunked'")]
    [InlineData("Transfer-Encoding gzip, chunked: a coding Sluice does not pass on", Post + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "not exactly 'chunked'")]
    [InlineData("two Transfer-Encoding fields", Post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "not exactly 'chunked'")]
    // field lines
    [InlineData("obs-fold", Get + "X-A: 1\r\n folded\r\n\r\n", 400, "folding")]
    [InlineData("obs-fold hiding a Transfer-Encoding", Post + "X-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n", 400, "folding")]
    [InlineData("space before the colon", Get + "Transfer-Encoding : chunked\r\n\r\n", 400, "whitespace between a header field name and the colon")]
    [InlineData("NUL in a value", Get + "X-A: a\0b\r\n\r\n", 400, "NUL")]
    [InlineData("control byte in a value", Get + "X-A: a\u0001b\r\n\r\n", 400, "control character")]
    [InlineData("bare CR in a value", Get + "X-A: a\rb\r\n\r\n", 400, "bare CR")]
    [InlineData("field line without a colon", Get + "X-A\r\n\r\n", 400, "colon")]
    // line endings
    [InlineData("bare LF after the request line", "GET http://x.test/ HTTP/1.1\nHost: x.test\r\n\r\n", 400, "bare LF")]
    [InlineData("bare LF after a field line", Get + "X-A: 1\n\r\n", 400, "bare LF")]
    [InlineData("bare LF everywhere", "GET http://x.test/ HTTP/1.1\nHost: x.test\n\n", 400, "bare LF")]
    [InlineData("bare LF before the request line", "\nGET http://x.test/ HTTP/1.1\r\n\r\n", 400, "before the request line")]
    // request line
    [InlineData("two spaces after the method", "GET  http://x.test/ HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("two spaces before the version", "GET http://x.test/  HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("space after the version", "GET http://x.test/ HTTP/1.1 \r\nHost: x.test\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("missing version", "GET http://x.test/\r\nHost: x.test\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("lower-case http/1.1", "GET http://x.test/ http/1.1\r\nHost: x.test\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("HTTP/0.9 simple request", "GET /\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("space inside the target", "GET http://x.test/a b HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "METHOD target HTTP/1.x")]
    [InlineData("non-token method", "G(T http://x.test/ HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "not a token")]
    // targets the forwarder refuses
    [InlineData("origin-form: the client thinks Sluice is a web server", "GET /path HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "Sluice is a forward proxy")]
    [InlineData("asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "Sluice is a forward proxy")]
    [InlineData("https:// absolute form belongs in a CONNECT tunnel", "GET https://x.test/ HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "CONNECT")]
    [InlineData("other schemes are not forwarded", "GET gopher://x.test/ HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "only http://")]
    // versions
    [InlineData("HTTP/2.0 request line", "GET http://x.test/ HTTP/2.0\r\nHost: x.test\r\n\r\n", 505, "HTTP/2.0 is not supported")]
    [InlineData("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/2.0 is not supported")]
    public async Task Malformed_request_is_refused_logged_and_the_connection_closed(string because, string request, int status, string detail)
    {
        Response response = await SendAndReadUntilCloseAsync(_proxy, request);

        AssertRefused(response, status, because);
        Assert.True(response.Body.Contains(detail, StringComparison.Ordinal), $"{because}: the body should mention '{detail}', was: {response.Body}");
        await _proxy.AccessLog.WaitForAsync(l => l.Contains($" NONE_NONE/{status} ", StringComparison.Ordinal), $"with NONE_NONE/{status} ({because})");
    }

    [Fact]
    public async Task Malformed_head_is_logged_as_NONE_NONE_400_with_no_url()
    {
        Response response = await SendAndReadUntilCloseAsync(_proxy, Get + "X-A: 1\r\n folded\r\n\r\n");
        AssertRefused(response, 400, "obs-fold");

        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains("NONE_NONE/400", StringComparison.Ordinal), "for the folded head");
        Assert.Matches(@"^\d+\.\d{3} +\d+ 127\.0\.0\.1 NONE_NONE/400 \d+ NONE - - HIER_NONE/- text/plain$", line);
    }

    [Fact]
    public async Task Refused_framing_is_logged_as_NONE_NONE_400_with_the_url()
    {
        Response response = await SendAndReadUntilCloseAsync(_proxy, Post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        AssertRefused(response, 400, "CL + TE");

        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains("NONE_NONE/400", StringComparison.Ordinal), "for the CL+TE request");
        Assert.Contains(" POST http://x.test/ ", line, StringComparison.Ordinal);
        Assert.Equal(0, _proxy.Resolver.Lookups);
    }

    [Fact]
    public async Task Smuggled_second_request_after_a_refused_one_is_never_read()
    {
        // The classic CL.TE shape: if the proxy trusted Content-Length, "GET http://x.test/smuggled" would be a second request.
        const string smuggle = Post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://x.test/smuggled HTTP/1.1\r\nHost: x.test\r\n\r\n";

        Response response = await SendAndReadUntilCloseAsync(_proxy, smuggle);

        AssertRefused(response, 400, "CL.TE smuggling attempt");
        Assert.Equal(1, CountOccurrences(response.Raw, "HTTP/1.1 "));
        await _proxy.AccessLog.WaitForAsync(l => l.Contains("NONE_NONE/400", StringComparison.Ordinal), "for the smuggling attempt");
        Assert.DoesNotContain(_proxy.AccessLog.Lines, l => l.Contains("smuggled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Request_line_over_the_limit_is_414()
    {
        string request = $"GET http://x.test/{new string('a', 9000)} HTTP/1.1\r\nHost: x.test\r\n\r\n";

        Response response = await SendAndReadUntilCloseAsync(_proxy, request);

        AssertRefused(response, 414, "9 KB request line against the 8 KiB default");
        Assert.Contains("request line longer than 8192 bytes", response.Body, StringComparison.Ordinal);
        await _proxy.AccessLog.WaitForAsync(l => l.Contains(" NONE_NONE/414 ", StringComparison.Ordinal), "with NONE_NONE/414");
    }

    [Fact]
    public async Task Header_section_over_the_limit_is_431()
    {
        string request = $"{Get}X-Big: {new string('b', 70_000)}\r\n\r\n";

        Response response = await SendAndReadUntilCloseAsync(_proxy, request);

        AssertRefused(response, 431, "70 KB field against the 64 KiB default");
        Assert.Contains("header section larger than 65536 bytes", response.Body, StringComparison.Ordinal);
        await _proxy.AccessLog.WaitForAsync(l => l.Contains(" NONE_NONE/431 ", StringComparison.Ordinal), "with NONE_NONE/431");
    }

    [Fact]
    public async Task Too_many_fields_is_431()
    {
        var request = new StringBuilder(Get);
        for (int i = 0; i < 101; i++)
        {
            request.Append("X-Field-").Append(i).Append(": 1\r\n");
        }

        Response response = await SendAndReadUntilCloseAsync(_proxy, request.Append("\r\n").ToString());

        AssertRefused(response, 431, "101 fields against the default of 100");
        Assert.Contains("more than 100 header fields", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exactly_the_field_limit_is_still_accepted()
    {
        // Host + 99 more = 100 fields: the head is fine and goes on to the forwarder, which finds the port closed.
        var request = new StringBuilder($"GET http://x.test:{Ports.Free()}/ HTTP/1.1\r\nHost: x.test\r\n");
        for (int i = 0; i < 99; i++)
        {
            request.Append("X-Field-").Append(i).Append(": 1\r\n");
        }

        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync(request.Append("\r\n").ToString());
        string head = await client.ReadHeadAsync(15_000);

        Assert.StartsWith("HTTP/1.1 502 ", head, StringComparison.Ordinal);
        Assert.Contains($"Proxy-Status: {TestProxy.Name}; error=connection_refused", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Connection: close", "HTTP/1.1", "Connection: close\r\n")]
    [InlineData("an HTTP/1.0 request without keep-alive", "HTTP/1.0", "")]
    public async Task Error_answer_to_a_client_that_will_not_send_another_request_closes_the_connection(string because, string version, string connection)
    {
        // RFC 9112 §9.6: after "close" (or an HTTP/1.0 request) the server MUST close once the final response is sent;
        // that holds for the proxy's own error responses as much as for forwarded ones.
        string request = $"GET http://x.test:{Ports.Free()}/ {version}\r\nHost: x.test\r\n{connection}\r\n";

        Response response = await SendAndReadUntilCloseAsync(_proxy, request);

        Assert.True(response.Status == 502, $"{because}: expected 502, got {response.StatusLine}");
        Assert.True(response.Header("Connection") == "close", $"{because}: the final response should say Connection: close");
    }

    [Fact]
    public async Task Request_line_limit_above_the_header_limit_still_gets_an_answer()
    {
        // maxRequestLineBytes may be configured above maxHeaderBytes; the head buffer must still stop at the header limit.
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Limits = c.Limits with { MaxRequestLineBytes = 64 * 1024, MaxHeaderBytes = 8 * 1024 } });
        string request = $"GET http://x.test/{new string('a', 20_000)} HTTP/1.1\r\nHost: x.test\r\n\r\n";

        Response response = await SendAndReadUntilCloseAsync(proxy, request);

        AssertRefused(response, 431, "20 KB request line, 64 KiB line limit, 8 KiB header limit");
    }

    [Fact]
    public async Task Connection_ending_inside_the_head_is_400()
    {
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync("GET http://x.test/ HTTP/1.1\r\nHost: x.te");
        client.ShutdownSend();

        Response response = Parse(await client.ReadToEndAsync(15_000));

        AssertRefused(response, 400, "half-closed inside the head");
        Assert.Contains("ended inside the request head", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_chunk_is_400_and_never_reaches_the_origin()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        string head = $"POST http://origin.test:{origin.Port}/sha256 HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n";

        Response response = await SendAndReadUntilCloseAsync(_proxy, head + "zz\r\nhello\r\n0\r\n\r\n");

        AssertRefused(response, 400, "invalid chunk size");
        Assert.Contains("request body: invalid chunk size line", response.Body, StringComparison.Ordinal);
        await _proxy.AccessLog.WaitForAsync(l => l.Contains(" NONE_NONE/400 ", StringComparison.Ordinal) && l.Contains("/sha256", StringComparison.Ordinal), "with NONE_NONE/400 for the bad chunk");

        // The origin is untouched by it: the same request with a valid body goes through on a new connection.
        Response valid = await SendAndReadUntilCloseAsync(_proxy, head.Replace("chunked\r\n", "chunked\r\nConnection: close\r\n", StringComparison.Ordinal) + "5\r\nhello\r\n0\r\n\r\n");
        Assert.Equal(200, valid.Status);
        Assert.Contains($"5 {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("hello"u8))}", valid.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_chunk_after_valid_ones_is_cut_off_before_the_origin_sees_it()
    {
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, _) =>
        {
            using var all = new MemoryStream();
            byte[] buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await stream.ReadAsync(buffer)) > 0)
                {
                    all.Write(buffer, 0, n);
                }
            }
            catch (IOException)
            {
                // the proxy aborting the upstream connection is the expected end
            }
            finally
            {
                received.TrySetResult(Encoding.Latin1.GetString(all.ToArray()));
            }
        });
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        string request = $"POST http://origin.test:{origin.Port}/upload HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\nzz;evil\r\nworld\r\n0\r\n\r\n";

        Response response = await SendAndReadUntilCloseAsync(_proxy, request);
        string atOrigin = await received.Task.WaitAsync(TimeSpan.FromSeconds(15));

        AssertRefused(response, 400, "invalid chunk size after a valid chunk");
        Assert.StartsWith("POST /upload HTTP/1.1\r\n", atOrigin, StringComparison.Ordinal);
        Assert.DoesNotContain("zz", atOrigin, StringComparison.Ordinal);
        Assert.DoesNotContain("evil", atOrigin, StringComparison.Ordinal);
        Assert.DoesNotContain("world", atOrigin, StringComparison.Ordinal);
        Assert.False(atOrigin.EndsWith("0\r\n\r\n", StringComparison.Ordinal), $"the origin must not see a complete body, got: {atOrigin}");
    }

    [Fact]
    public async Task Slowloris_partial_head_gets_408_and_is_closed()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { RequestHeaders = TimeSpan.FromSeconds(1) } });
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync("GET http://x.test/ HTTP/1.1\r\nHost: x.te");

        Response response = Parse(await client.ReadToEndAsync(20_000));

        AssertRefused(response, 408, "partial head then silence");
        Assert.Contains("no complete request header section within", response.Body, StringComparison.Ordinal);
        await proxy.AccessLog.WaitForAsync(l => l.Contains(" NONE_NONE/408 ", StringComparison.Ordinal), "with NONE_NONE/408");
    }

    [Fact]
    public async Task Slowloris_trickling_bytes_does_not_extend_the_deadline()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { RequestHeaders = TimeSpan.FromSeconds(1) } });
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync("GET http://x.test/ HTTP/1.1\r\nX-Slow: ");
        Task<byte[]> reading = client.ReadToEndAsync(20_000);

        // One byte every 100 ms: each read succeeds, but the head as a whole never completes.
        while (!reading.IsCompleted)
        {
            try
            {
                await client.SendAsync("a");
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                break;
            }

            await Task.WhenAny(reading, Task.Delay(100));
        }

        Response response = Parse(await reading);
        AssertRefused(response, 408, "a byte every 100 ms");
    }

    [Fact]
    public async Task Idle_connection_without_any_byte_is_closed_silently_after_the_header_timeout()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { RequestHeaders = TimeSpan.FromSeconds(1) } });
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        byte[] received = await client.ReadToEndAsync(20_000);

        // Nothing was asked, so there is nothing to answer; but the connection must not be held open forever either.
        Assert.True(received.Length == 0 || Encoding.Latin1.GetString(received).StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), $"unexpected bytes: {Encoding.Latin1.GetString(received)}");
    }

    // ---------------------------------------------------------------- helpers

    private sealed record Response(string Raw, string StatusLine, int Status, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
    {
        public string? Header(string name) => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
    }

    private static async Task<Response> SendAndReadUntilCloseAsync(TestProxy proxy, string request)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(request);
        return Parse(await client.ReadToEndAsync(15_000));
    }

    private static Response Parse(byte[] bytes)
    {
        string raw = Encoding.Latin1.GetString(bytes);
        int end = raw.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, $"the proxy closed the connection without a complete response head; received: '{raw}'");
        string[] lines = raw[..end].Split("\r\n");
        string[] status = lines[0].Split(' ', 3);
        Assert.True(status.Length >= 2 && status[0] == "HTTP/1.1" && int.TryParse(status[1], out _), $"not an HTTP/1.1 status line: '{lines[0]}'");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Select(p => new KeyValuePair<string, string>(p[0], p[1].Trim())).ToList();
        return new Response(raw, lines[0], int.Parse(status[1], System.Globalization.CultureInfo.InvariantCulture), headers, raw[(end + 4)..]);
    }

    private static void AssertRefused(Response response, int status, string because)
    {
        Assert.True(response.Status == status, $"{because}: expected {status}, got '{response.StatusLine}'\n{response.Raw}");
        string? proxyStatus = response.Header("Proxy-Status");
        Assert.True(
            proxyStatus is not null && proxyStatus.StartsWith($"{TestProxy.Name}; error=http_request_error", StringComparison.Ordinal),
            $"{because}: expected 'Proxy-Status: {TestProxy.Name}; error=http_request_error...', got '{proxyStatus}'");
        Assert.True(response.Header("Connection") == "close", $"{because}: the refusal must announce Connection: close, got '{response.Header("Connection")}'");
        Assert.True(
            response.Header("Content-Length") == response.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
            $"{because}: Content-Length {response.Header("Content-Length")} does not match the {response.Body.Length}-byte body (or bytes followed the response)");
        Assert.StartsWith($"{status} ", response.Body, StringComparison.Ordinal);
    }

    private static int CountOccurrences(string text, string value)
    {
        int count = 0;
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
