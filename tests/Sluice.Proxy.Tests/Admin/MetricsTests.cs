using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>The admin endpoint as Prometheus and an orchestrator see it, after known traffic.</summary>
public sealed class MetricsTests : IAsyncLifetime
{
    private TestOrigin _origin = null!;
    private TestProxy _proxy = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        _proxy = await TestProxy.StartAsync(c =>
        {
            SluiceConfig rules = ConfigLoader.Parse("""
                rules:
                  - name: no-internal
                    action: deny
                    destinations: [".internal.test"]
                  - name: origin
                    action: allow
                    destinations: ["origin.test", "echo.test"]
                default: deny
                """, "rules.yaml");
            return c with { Rules = rules.Rules, Default = rules.Default, Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } };
        });
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("echo.test", IPAddress.Loopback);
        _admin = new HttpClient { BaseAddress = new Uri($"http://{_proxy.Server.AdminEndpoint}") };
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    private async Task<string> ScrapeAsync() => await _admin.GetStringAsync("/metrics");

    private static double Value(string metrics, string series)
    {
        Match m = Regex.Match(metrics, "^" + Regex.Escape(series) + @" ([0-9.eE+-]+)$", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    [Fact]
    public async Task Counters_and_labels_move_exactly_with_known_traffic()
    {
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(_proxy.Uri) });
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{_origin.Port}/hello"));
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://db.internal.test:{_origin.Port}/")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://elsewhere.test:{_origin.Port}/")).StatusCode);

        await using (RawOrigin echo = RawOrigin.Echo())
        {
            using RawClient tunnel = await RawClient.ConnectAsync(_proxy.Endpoint);
            await tunnel.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
            await tunnel.ReadHeadAsync();
            string during = await ScrapeAsync();
            Assert.Equal(1, Value(during, "sluice_active_tunnels"));
            tunnel.ShutdownSend();
            await tunnel.ReadToEndAsync();
        }

        string metrics = await ScrapeAsync();
        for (int i = 0; i < 50 && Value(metrics, "sluice_active_tunnels") != 0; i++)
        {
            await Task.Delay(100);
            metrics = await ScrapeAsync();
        }

        Assert.Equal(3, Value(metrics, """sluice_requests_total{kind="http",decision="allow",rule="origin",status="200",error=""}"""));
        Assert.Equal(1, Value(metrics, """sluice_requests_total{kind="http",decision="deny",rule="no-internal",status="403",error="http_request_denied"}"""));
        Assert.Equal(1, Value(metrics, """sluice_requests_total{kind="http",decision="deny",rule="",status="403",error="http_request_denied"}"""));
        Assert.Equal(1, Value(metrics, """sluice_requests_total{kind="tunnel",decision="allow",rule="origin",status="200",error=""}"""));
        Assert.Equal(0, Value(metrics, "sluice_active_tunnels"));
        Assert.Equal(1, Value(metrics, "sluice_tunnel_duration_seconds_count"));
        Assert.Equal(3, Value(metrics, "sluice_time_to_first_byte_seconds_count"));
        Assert.True(Value(metrics, "sluice_upstream_connect_seconds_count") >= 2, "connect times are observed");
        Assert.True(Value(metrics, """sluice_bytes_total{direction="out"}""") > 0);
        Assert.Equal(1, Value(metrics, "sluice_config_generation"));
        Assert.Equal(1, Value(metrics, "sluice_ready"));
        Assert.DoesNotContain("elsewhere.test", metrics); // host names are never labels

        JsonElement stats = JsonDocument.Parse(await _admin.GetStringAsync("/api/stats")).RootElement;
        Assert.Contains(stats.GetProperty("topDestinations").EnumerateArray(), d => d.GetProperty("destination").GetString() == $"origin.test:{_origin.Port}" && d.GetProperty("count").GetInt64() == 3);
        Assert.Contains(stats.GetProperty("topDenied").EnumerateArray(), d => d.GetProperty("destination").GetString() == $"db.internal.test:{_origin.Port}");
    }

    [Fact]
    public async Task The_process_and_its_collections_are_exported_and_a_collection_moves_them()
    {
        string before = await ScrapeAsync();
        foreach (string series in new[] { "process_cpu_seconds_total", "process_working_set_bytes", "process_open_handles", "process_num_threads", "dotnet_total_memory_bytes", "dotnet_gc_pause_seconds_total" })
        {
            Assert.Matches(new Regex("^" + series + " ", RegexOptions.Multiline), before);
        }

        Assert.True(Value(before, "process_open_handles") > 0);
        Assert.True(Value(before, "process_working_set_bytes") > 0);

        // The proxy runs in this process: a forced blocking collection is one it must count and time.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        string after = await ScrapeAsync();
        Assert.True(Value(after, "dotnet_collection_count_total{generation=\"2\"}") > Value(before, "dotnet_collection_count_total{generation=\"2\"}"));
        Assert.True(Value(after, "dotnet_gc_pause_seconds_total") > Value(before, "dotnet_gc_pause_seconds_total"));
    }

    [Fact]
    public async Task Reloads_count_and_raise_the_generation_and_refusals_are_counted_too()
    {
        _proxy.Server.Reload(_proxy.Server.CurrentConfig);
        _proxy.Server.RecordRefusedReload("test.yaml:3:5: unknown key 'x'");
        string metrics = await ScrapeAsync();
        Assert.Equal(1, Value(metrics, """sluice_config_reloads_total{result="success"}"""));
        Assert.Equal(1, Value(metrics, """sluice_config_reloads_total{result="failure"}"""));
        Assert.Equal(2, Value(metrics, "sluice_config_generation"));
        JsonElement stats = JsonDocument.Parse(await _admin.GetStringAsync("/api/stats")).RootElement;
        Assert.Contains(stats.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reload refused");
    }

    [Fact]
    public async Task Health_and_readiness_and_readiness_turns_off_when_draining()
    {
        Assert.Equal("ok\n", await _admin.GetStringAsync("/healthz"));
        Assert.Equal("ready\n", await _admin.GetStringAsync("/readyz"));

        await using RawOrigin echo = RawOrigin.Echo();
        using RawClient tunnel = await RawClient.ConnectAsync(_proxy.Endpoint);
        await tunnel.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        await tunnel.ReadHeadAsync();
        Task stopping = _proxy.Server.StopAsync(); // drains for up to 2 s while the tunnel is open
        HttpResponseMessage ready = await _admin.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("draining\n", await ready.Content.ReadAsStringAsync());
        await tunnel.SendAsync("still here");
        Assert.Equal("still here", System.Text.Encoding.ASCII.GetString(await tunnel.ReadExactlyAsync(10))); // the tunnel relays during the drain
        tunnel.ShutdownSend();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_token_protects_everything_but_health_and_readiness()
    {
        await using TestProxy guarded = await TestProxy.StartAsync(c => c with { Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Token = "0123456789abcdef-token" } });
        using var admin = new HttpClient { BaseAddress = new Uri($"http://{guarded.Server.AdminEndpoint}") };
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("/api/connections")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/healthz")).StatusCode);
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "0123456789abcdef-token");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/metrics")).StatusCode);
    }
}
