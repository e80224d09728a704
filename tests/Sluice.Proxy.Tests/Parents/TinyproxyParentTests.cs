using System.Net;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// Debian's tinyproxy as a parent: it ends the connection after every response, so each pooled connection Sluice
/// keeps to it is found closed by the next request, which must go out again on a new one without the client noticing.
/// Its CONNECT answer is HTTP/1.0.
/// </summary>
public sealed class TinyproxyParentTests : IAsyncLifetime
{
    private TestOrigin _origin = null!;
    private TinyproxyParent _tinyproxy = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        _tinyproxy = await TinyproxyParent.StartAsync(name: "tinyproxy-a.test");
    }

    public async Task DisposeAsync()
    {
        await _tinyproxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    // tinyproxy resolves with the system resolver: it is sent IP literals only.
    private Task<TestProxy> ChildAsync() => ParentKit.ChildAsync(Corp([_tinyproxy.Url], viaRule: false));

    [Fact]
    public async Task Twenty_sequential_requests_all_succeed_though_tinyproxy_closes_after_each()
    {
        await using TestProxy child = await ChildAsync();
        using HttpClient client = Client(child, configure: h => h.MaxConnectionsPerServer = 1);
        string root = $"http://127.0.0.1:{_origin.Port}";

        for (int i = 0; i < 20; i++)
        {
            if (i % 5 == 4)
            {
                // Not idempotent: this one may never be sent twice, so it must not go out on a connection already closed.
                using HttpResponseMessage post = await client.PostAsync($"{root}/echo?seq-{i}", new StringContent($"body {i}"));
                Assert.Equal(HttpStatusCode.OK, post.StatusCode);
                Assert.Equal($"body {i}", await post.Content.ReadAsStringAsync());
                continue;
            }

            using HttpResponseMessage response = await client.GetAsync($"{root}/hello?seq-{i}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"request {i}: {(int)response.StatusCode} {string.Join(" ", response.Headers.TryGetValues("Proxy-Status", out var s) ? s : [])}");
            Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
            Assert.Contains("tinyproxy-a.test (tinyproxy/", string.Join(", ", response.Headers.Via));
        }

        await EventuallyAsync(() => _tinyproxy.RequestLines().Count(l => l.Contains("?seq-", StringComparison.Ordinal)) == 20, "tinyproxy logging the 20 requests");
        Assert.Equal(20, _tinyproxy.RequestLines().Distinct().Count(l => l.Contains("?seq-", StringComparison.Ordinal))); // none sent twice
        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello?seq-18"), "Sluice's last GET line");
        Assert.Contains(" TCP_MISS/200 ", line);
        Assert.Contains(" DEFAULT_PARENT/127.0.0.1 ", line);
        Assert.Equal(1, child.OpenConnections); // the client's one connection stayed open throughout
    }

    [Fact]
    public async Task A_connect_through_tinyproxy_opens_on_its_http_1_0_answer()
    {
        await using TestProxy child = await ChildAsync();

        string answer = await TunnelGetAsync(child.Endpoint, $"127.0.0.1:{_origin.Port}");

        Assert.StartsWith("HTTP/1.1 200 ", answer);
        Assert.EndsWith("hello from origin", answer);
        await _tinyproxy.WaitForRequestLineAsync(l => l == $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1");
        string line = await child.AccessLog.WaitForAsync(l => l.Contains($" CONNECT 127.0.0.1:{_origin.Port} "), "Sluice's tunnel line");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
    }
}
