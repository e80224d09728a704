using System.Net;
using System.Net.Http.Headers;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>Forwarded (absolute-form) requests from .NET's HttpClient through the real proxy to a Kestrel origin.</summary>
public sealed class ForwardingTests : IAsyncLifetime
{
    private TestOrigin _origin = null!;
    private TestProxy _proxy = null!;

    private string Base => $"http://origin.test:{_origin.Port}";

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        _proxy = await TestProxy.StartAsync();
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    private HttpClient Client(Action<SocketsHttpHandler>? configure = null)
    {
        var handler = new SocketsHttpHandler { Proxy = new WebProxy(_proxy.Uri), UseProxy = true, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        configure?.Invoke(handler);
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    [Fact]
    public async Task Get_is_forwarded_with_via_and_logged()
    {
        using HttpClient client = Client();
        using HttpResponseMessage response = await client.GetAsync($"{Base}/hello");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
        Assert.Contains(response.Headers.Via, v => v.ReceivedBy == TestProxy.Name);

        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains("/hello"), "for GET /hello");
        Assert.Matches(@"^\d+\.\d{3} +\d+ 127\.0\.0\.1 TCP_MISS/200 \d+ GET http://origin\.test:\d+/hello - HIER_DIRECT/127\.0\.0\.1 text/plain", line);
    }

    [Fact]
    public async Task Origin_sees_origin_form_host_from_uri_via_and_no_hop_by_hop_fields()
    {
        using HttpClient client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Base}/headers?q=1&r=%20");
        request.Headers.Host = "spoofed.example";
        request.Headers.Add("Keep-Alive", "timeout=5");
        request.Headers.Add("X-Private", "secret");
        request.Headers.Connection.Add("X-Private");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        request.Headers.Add("X-End-To-End", "kept");
        using HttpResponseMessage response = await client.SendAsync(request);
        string seen = await response.Content.ReadAsStringAsync();

        string[] lines = seen.Split('\n');
        Assert.Equal("GET /headers?q=1&r=%20 HTTP/1.1", lines[0]);
        Assert.Contains($"Host: origin.test:{_origin.Port}", lines);
        Assert.Contains($"Via: 1.1 {TestProxy.Name}", lines);
        Assert.Contains("X-End-To-End: kept", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("X-Private", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(lines, l => l.StartsWith("Keep-Alive", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(lines, l => l.StartsWith("TE:", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(lines, l => l.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Post_with_content_length_and_with_chunked_body_reach_the_origin_whole()
    {
        using HttpClient client = Client();
        byte[] body = new byte[300_000];
        TestData.Fill(body, 0);

        using (var content = new ByteArrayContent(body))
        {
            using HttpResponseMessage response = await client.PostAsync($"{Base}/sha256", content);
            Assert.Equal($"{body.Length} {TestData.Sha256(body.Length)}", await response.Content.ReadAsStringAsync());
        }

        using (var chunked = new StreamContent(new MemoryStream(body)))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{Base}/sha256") { Content = chunked };
            request.Headers.TransferEncodingChunked = true;
            using HttpResponseMessage response = await client.SendAsync(request);
            Assert.Equal($"{body.Length} {TestData.Sha256(body.Length)}", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Expect_100_continue_gets_the_body_through()
    {
        using HttpClient client = Client(h => h.Expect100ContinueTimeout = TimeSpan.FromSeconds(20));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{Base}/echo") { Content = new StringContent("after continue") };
        request.Headers.ExpectContinue = true;
        var started = DateTime.UtcNow;
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal("after continue", await response.Content.ReadAsStringAsync());
        // With a 20 s expect timeout, getting here quickly proves the 100 Continue was relayed.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "the client waited for its Expect timeout: 100 Continue never arrived");
    }

    [Fact]
    public async Task Head_204_and_304_have_no_body_and_the_connection_stays_usable()
    {
        using HttpClient client = Client();
        using (var head = new HttpRequestMessage(HttpMethod.Head, $"{Base}/bytes/5000"))
        using (HttpResponseMessage response = await client.SendAsync(head))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(5000, response.Content.Headers.ContentLength);
        }

        foreach (int code in new[] { 204, 304 })
        {
            using HttpResponseMessage response = await client.GetAsync($"{Base}/status/{code}");
            Assert.Equal(code, (int)response.StatusCode);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        }

        using HttpResponseMessage after = await client.GetAsync($"{Base}/hello");
        Assert.Equal("hello from origin", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Keep_alive_is_reused_on_both_sides()
    {
        using HttpClient client = Client(h => h.MaxConnectionsPerServer = 1);
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage response = await client.GetAsync($"{Base}/hello");
            Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, _origin.Connections);
        var lines = _proxy.AccessLog.Lines;
        await _proxy.AccessLog.WaitForAsync(_ => _proxy.AccessLog.Lines.Count >= 10, "for all 10 requests");
    }

    [Fact]
    public async Task Chunked_and_large_responses_arrive_byte_exact()
    {
        using HttpClient client = Client();
        foreach (string query in new[] { "", "?chunked=1" })
        {
            using HttpResponseMessage response = await client.GetAsync($"{Base}/bytes/{5 * 1024 * 1024}{query}", HttpCompletionOption.ResponseHeadersRead);
            await using Stream stream = await response.Content.ReadAsStreamAsync();
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            byte[] buffer = new byte[81920];
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
            }

            Assert.Equal(5 * 1024 * 1024, total);
            Assert.Equal(TestData.Sha256(total), Convert.ToHexString(hash.GetHashAndReset()));
        }
    }

    [Fact]
    public async Task Unknown_name_is_502_dns_error_and_refused_port_is_502_connection_refused()
    {
        using HttpClient client = Client();
        using (HttpResponseMessage response = await client.GetAsync("http://nowhere.test/"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.StartsWith($"{TestProxy.Name}; error=dns_error", response.Headers.GetValues("Proxy-Status").Single());
            Assert.Contains("nowhere.test", await response.Content.ReadAsStringAsync());
        }

        int closedPort = Ports.Free();
        using (HttpResponseMessage response = await client.GetAsync($"http://origin.test:{closedPort}/"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.StartsWith($"{TestProxy.Name}; error=connection_refused", response.Headers.GetValues("Proxy-Status").Single());
        }
    }

    [Fact]
    public async Task Own_via_token_is_a_loop_508()
    {
        using HttpClient client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Base}/hello");
        request.Headers.Via.Add(new ViaHeaderValue("1.1", TestProxy.Name));
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(508, (int)response.StatusCode);
        Assert.StartsWith($"{TestProxy.Name}; error=proxy_loop_detected", response.Headers.GetValues("Proxy-Status").Single());
        Assert.Equal(0, _origin.Connections);
    }

    [Fact]
    public async Task Max_forwards_zero_is_answered_by_the_proxy_and_otherwise_decremented()
    {
        using HttpClient client = Client();
        using (var trace = new HttpRequestMessage(HttpMethod.Trace, $"{Base}/headers"))
        {
            trace.Headers.Add("Max-Forwards", "0");
            trace.Headers.Add("Cookie", "secret=1");
            using HttpResponseMessage response = await client.SendAsync(trace);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("message/http", response.Content.Headers.ContentType?.MediaType);
            string echoed = await response.Content.ReadAsStringAsync();
            Assert.StartsWith($"TRACE {Base}/headers HTTP/1.1", echoed);
            Assert.DoesNotContain("secret", echoed);
        }

        using (var options = new HttpRequestMessage(HttpMethod.Options, $"{Base}/headers"))
        {
            options.Headers.Add("Max-Forwards", "3");
            using HttpResponseMessage response = await client.SendAsync(options);
            Assert.Contains("Max-Forwards: 2", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, _origin.Connections);
    }

}
