using System.Globalization;
using System.Net;
using System.Text.Json;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// /api/traffic and /api/rules through the real proxy after known traffic: the requests, denials and would-denies of
/// the last seconds, the bytes of a tunnel while it is still open, and each rule's hits, the default's, and the rule
/// nobody used.
/// </summary>
public sealed class TrafficApiTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Known_traffic_moves_the_series_and_the_rules_hits()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync("""
            rules:
              - name: no-blocked
                action: deny
                destinations: ["blocked.test"]
              - name: origin
                action: allow
                destinations: ["origin.test"]
              - name: never-used
                action: allow
                destinations: ["unused.test"]
            default: deny
            """);
        proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("blocked.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
        using HttpClient admin = Admin(proxy);

        using (var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) }))
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello?{i}"));
            }

            Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://blocked.test:{origin.Port}/")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://blocked.test:{origin.Port}/again")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://other.test:{origin.Port}/")).StatusCode); // no rule: the default
        }

        JsonElement traffic = await WaitForTrafficAsync(admin, t => Sum(t, "requests") >= 8 && Sum(t, "denials") >= 3 && Sum(t, "bytes") > 0, "8 requests, 3 of them denied");
        Assert.Equal(1, traffic.GetProperty("intervalSeconds").GetDouble());
        Assert.Equal(900, traffic.GetProperty("seconds").GetInt32());
        foreach (string series in new[] { "requests", "bytes", "denials", "wouldDenies" })
        {
            Assert.Equal(900, traffic.GetProperty(series).GetArrayLength());
        }

        DateTimeOffset start = DateTimeOffset.Parse(traffic.GetProperty("start").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange((DateTimeOffset.UtcNow - start.AddSeconds(899)).TotalSeconds, -2, 5); // the newest second is now
        Assert.Equal(8, Sum(traffic, "requests"));
        Assert.Equal(3, Sum(traffic, "denials"));
        Assert.Equal(0, Sum(traffic, "wouldDenies"));
        Assert.True(Sum(traffic, "bytes") > 5 * "hello from origin".Length, "the responses' bytes are counted");

        JsonElement rules = JsonDocument.Parse(await admin.GetStringAsync("/api/rules")).RootElement;
        Assert.Equal("enforce", rules.GetProperty("mode").GetString());
        JsonElement[] listed = [.. rules.GetProperty("rules").EnumerateArray()];
        Assert.Equal(["no-blocked", "origin", "never-used"], listed.Select(r => r.GetProperty("name").GetString()));
        Assert.Equal([2L, 5L, 0L], listed.Select(r => r.GetProperty("hits").GetInt64()));
        Assert.Equal(JsonValueKind.String, listed[1].GetProperty("lastHit").ValueKind);
        Assert.Equal(JsonValueKind.Null, listed[2].GetProperty("lastHit").ValueKind); // never hit
        JsonElement fallback = rules.GetProperty("default");
        Assert.Equal("deny", fallback.GetProperty("action").GetString());
        Assert.Equal(1, fallback.GetProperty("hits").GetInt64());
    }

    [Fact]
    public async Task An_open_tunnels_bytes_show_before_it_closes_and_would_denies_are_counted()
    {
        await using TestProxy proxy = await StartAsync("""
            rules:
              - name: watch-echo
                action: report
                destinations: ["echo.test"]
            default: deny
            """);
        await using RawOrigin echo = RawOrigin.Echo();
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        using HttpClient admin = Admin(proxy);

        using RawClient tunnel = await RawClient.ConnectAsync(proxy.Endpoint);
        await tunnel.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test:{echo.Port}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await tunnel.ReadHeadAsync(), StringComparison.Ordinal); // reported, not refused
        byte[] chunk = new byte[100_000];
        Random.Shared.NextBytes(chunk);
        for (int i = 0; i < 3; i++)
        {
            await tunnel.SendAsync(chunk);
            Assert.Equal(chunk, await tunnel.ReadExactlyAsync(chunk.Length));
        }

        // Still open: its access-log line is not written, so no request yet, but its bytes are there, both ways.
        JsonElement during = await WaitForTrafficAsync(admin, t => Sum(t, "bytes") >= 600_000, "600 KB through an open tunnel");
        Assert.Equal(0, Sum(during, "requests"));
        Assert.Equal(1, proxy.OpenConnections);

        tunnel.ShutdownSend();
        await tunnel.ReadToEndAsync();
        JsonElement after = await WaitForTrafficAsync(admin, t => Sum(t, "requests") >= 1, "the tunnel counted once it closed");
        Assert.Equal(1, Sum(after, "requests"));
        Assert.Equal(1, Sum(after, "wouldDenies"));
        Assert.Equal(0, Sum(after, "denials"));
        long bytes = Sum(after, "bytes");
        Assert.InRange(bytes, 600_000, 600_000 + 1_000); // the payload and the heads, each byte once

        JsonElement rule = JsonDocument.Parse(await admin.GetStringAsync("/api/rules")).RootElement.GetProperty("rules")[0];
        Assert.Equal("report", rule.GetProperty("action").GetString());
        Assert.Equal(1, rule.GetProperty("hits").GetInt64());
        Assert.Equal(1, rule.GetProperty("wouldDeny").GetInt64());
        JsonElement stats = JsonDocument.Parse(await admin.GetStringAsync("/api/stats")).RootElement;
        Assert.Contains(stats.GetProperty("topWouldDeny").EnumerateArray(), d => d.GetProperty("destination").GetString() == $"echo.test:{echo.Port}");
    }

    private static Task<TestProxy> StartAsync(string yaml) => TestProxy.StartAsync(c =>
    {
        SluiceConfig rules = ConfigLoader.Parse(yaml, "rules.yaml");
        return c with { Rules = rules.Rules, Default = rules.Default, Mode = rules.Mode, Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } };
    });

    private static HttpClient Admin(TestProxy proxy) => new() { BaseAddress = new Uri($"http://{proxy.Server.AdminEndpoint}") };

    private static long Sum(JsonElement traffic, string series) => traffic.GetProperty(series).EnumerateArray().Sum(v => v.GetInt64());

    /// <summary>Polls /api/traffic (sampled once a second) until <paramref name="done"/> holds.</summary>
    private static async Task<JsonElement> WaitForTrafficAsync(HttpClient admin, Func<JsonElement, bool> done, string what)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            JsonElement traffic = JsonDocument.Parse(await admin.GetStringAsync("/api/traffic")).RootElement;
            if (done(traffic))
            {
                return traffic;
            }

            Assert.True(DateTime.UtcNow < deadline, $"/api/traffic did not show {what} within {Patience.TotalSeconds} s: {traffic}");
            await Task.Delay(100);
        }
    }
}
