using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Report mode through the real proxy: the same traffic sent to a proxy that enforces and to one that reports gets
/// different answers, and the would-denies of the one are exactly the denials of the other, in the access log, in
/// /metrics and in /api/rules.
/// </summary>
public sealed class ReportModeTests
{
    private const string Rules = """
        rules:
          - name: trial
            action: report
            destinations: [".tracker.test"]
          - name: no-ads
            action: deny
            destinations: [".ads.test"]
          - name: origin
            action: allow
            destinations: ["origin.test"]
          - name: never-used
            action: allow
            destinations: ["unused.test"]
        default: deny
        """;

    private static readonly string[] Names = ["origin.test", "x.ads.test", "y.ads.test", "t.tracker.test", "other.test"];

    private static Task<TestProxy> StartAsync(string mode, AccessLogFormat format = AccessLogFormat.Squid) => TestProxy.StartAsync(c =>
    {
        SluiceConfig parsed = ConfigLoader.Parse($"mode: {mode}\n{Rules}", "rules.yaml");
        return c with { Rules = parsed.Rules, Default = parsed.Default, Mode = parsed.Mode, Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } };
    }, format: format);

    /// <summary>
    /// The traffic: GETs to each name, then a CONNECT to a denied name and one to a name no rule knows, each tunnel
    /// carrying one request to the origin. Returns the statuses in order.
    /// </summary>
    private static async Task<int[]> SendAsync(TestProxy proxy, TestOrigin origin)
    {
        foreach (string name in Names)
        {
            proxy.Resolver.Map(name, IPAddress.Loopback);
        }

        var statuses = new List<int>();
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri), UseProxy = true });
        foreach (string name in Names)
        {
            using HttpResponseMessage response = await http.GetAsync($"http://{name}:{origin.Port}/hello");
            statuses.Add((int)response.StatusCode);
        }

        foreach (string name in new[] { "z.ads.test", "other.test" })
        {
            proxy.Resolver.Map(name, IPAddress.Loopback);
            using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
            await raw.SendAsync($"CONNECT {name}:{origin.Port} HTTP/1.1\r\nHost: {name}:{origin.Port}\r\n\r\n");
            string head = await raw.ReadHeadAsync();
            int status = int.Parse(head.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
            statuses.Add(status);
            if (status == 200)
            {
                await raw.SendAsync($"GET /hello HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
                Assert.Contains("hello from origin", System.Text.Encoding.Latin1.GetString(await raw.ReadToEndAsync()), StringComparison.Ordinal);
            }
        }

        return [.. statuses];
    }

    private static async Task<JsonElement> RulesAsync(TestProxy proxy)
    {
        using var admin = new HttpClient();
        return JsonDocument.Parse(await admin.GetStringAsync($"http://{proxy.Server.AdminEndpoint}/api/rules")).RootElement.Clone();
    }

    private static Dictionary<string, (long Hits, long WouldDeny)> Usage(JsonElement rules)
    {
        var usage = rules.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => (r.GetProperty("hits").GetInt64(), r.GetProperty("wouldDeny").GetInt64()));
        JsonElement d = rules.GetProperty("default");
        usage["(default)"] = (d.GetProperty("hits").GetInt64(), d.GetProperty("wouldDeny").GetInt64());
        return usage;
    }

    private static async Task<string> ScrapeAsync(TestProxy proxy)
    {
        using var admin = new HttpClient();
        return await admin.GetStringAsync($"http://{proxy.Server.AdminEndpoint}/metrics");
    }

    private static double Series(string metrics, string series)
    {
        Match m = Regex.Match(metrics, "^" + Regex.Escape(series) + @" ([0-9.eE+-]+)$", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    [Fact]
    public async Task The_same_traffic_is_refused_when_enforced_and_let_through_when_reported_with_the_same_counts()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy enforcing = await StartAsync("enforce");
        await using TestProxy reporting = await StartAsync("report");

        int[] enforced = await SendAsync(enforcing, origin);
        int[] reported = await SendAsync(reporting, origin);

        // origin, x.ads, y.ads, t.tracker (a report rule: let through in both modes), other; CONNECT z.ads, CONNECT other
        Assert.Equal([200, 403, 403, 200, 403, 403, 403], enforced);
        Assert.Equal([200, 200, 200, 200, 200, 200, 200], reported);

        // The same rules decided the same requests in both; what one refused the other counts as would-denies.
        Dictionary<string, (long Hits, long WouldDeny)> enforceUsage = Usage(await RulesAsync(enforcing));
        Dictionary<string, (long Hits, long WouldDeny)> reportUsage = Usage(await RulesAsync(reporting));
        Assert.Equal(new Dictionary<string, (long, long)>
        {
            ["trial"] = (1, 1), ["no-ads"] = (3, 0), ["origin"] = (1, 0), ["never-used"] = (0, 0), ["(default)"] = (2, 0),
        }, enforceUsage);
        Assert.Equal(new Dictionary<string, (long, long)>
        {
            ["trial"] = (1, 1), ["no-ads"] = (3, 3), ["origin"] = (1, 0), ["never-used"] = (0, 0), ["(default)"] = (2, 2),
        }, reportUsage);
        foreach ((string rule, (long hits, _)) in enforceUsage)
        {
            long enforcedDenials = rule is "no-ads" or "(default)" ? hits : 0;
            Assert.Equal(enforcedDenials + (rule == "trial" ? 1 : 0), reportUsage[rule].WouldDeny);
        }

        JsonElement reportRules = await RulesAsync(reporting);
        Assert.Equal("report", reportRules.GetProperty("mode").GetString());
        Assert.Equal(JsonValueKind.Null, reportRules.GetProperty("rules")[3].GetProperty("lastHit").ValueKind); // never-used
        Assert.Equal(JsonValueKind.String, reportRules.GetProperty("rules")[1].GetProperty("lastHit").ValueKind);

        string metrics = await ScrapeAsync(reporting);
        Assert.Equal(3, Series(metrics, "sluice_would_deny_total{rule=\"no-ads\"}"));
        Assert.Equal(2, Series(metrics, "sluice_would_deny_total{rule=\"\"}"));
        Assert.Equal(1, Series(metrics, "sluice_would_deny_total{rule=\"trial\"}"));
        Assert.Equal(2, Series(metrics, "sluice_requests_total{kind=\"http\",decision=\"report\",rule=\"no-ads\",status=\"200\",error=\"\"}"));
        Assert.Equal(1, Series(await ScrapeAsync(enforcing), "sluice_would_deny_total{rule=\"trial\"}"));

        // Squid lines: a would-deny's code is tagged, everything else reads as before.
        await reporting.AccessLog.WaitForAsync(l => l.Contains("TCP_MISS_REPORTED/200", StringComparison.Ordinal) && l.Contains("GET http://x.ads.test:", StringComparison.Ordinal), "the reported GET");
        await reporting.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL_REPORTED/200", StringComparison.Ordinal) && l.Contains("CONNECT other.test:", StringComparison.Ordinal), "the reported CONNECT");
        await reporting.AccessLog.WaitForAsync(l => l.Contains(" TCP_MISS/200 ", StringComparison.Ordinal) && l.Contains("GET http://origin.test:", StringComparison.Ordinal), "the allowed GET, untagged");
        await enforcing.AccessLog.WaitForAsync(l => l.Contains("TCP_MISS_REPORTED/200", StringComparison.Ordinal) && l.Contains("GET http://t.tracker.test:", StringComparison.Ordinal), "the report rule's GET");
        await enforcing.AccessLog.WaitForAsync(l => l.Contains("TCP_DENIED/403", StringComparison.Ordinal) && l.Contains("GET http://x.ads.test:", StringComparison.Ordinal), "the enforced denial");
    }

    [Fact]
    public async Task A_json_line_marks_a_would_deny_with_the_answer_enforcing_would_give()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync("report", AccessLogFormat.Json);
        proxy.Resolver.Map("x.ads.test", IPAddress.Loopback).Map("origin.test", IPAddress.Loopback);
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://x.ads.test:{origin.Port}/hello"));
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));

        string reported = await proxy.AccessLog.WaitForAsync(l => l.Contains("x.ads.test", StringComparison.Ordinal), "the reported GET");
        using (JsonDocument line = JsonDocument.Parse(reported))
        {
            JsonElement e = line.RootElement;
            Assert.Equal("TCP_MISS_REPORTED", e.GetProperty("code").GetString());
            Assert.Equal(200, e.GetProperty("status").GetInt32());
            Assert.True(e.GetProperty("report").GetBoolean());
            Assert.Equal(403, e.GetProperty("wouldStatus").GetInt32());
            Assert.Equal("http_request_denied", e.GetProperty("wouldError").GetString());
            Assert.Equal("no-ads", e.GetProperty("rule").GetString());
            Assert.StartsWith("rule no-ads would deny GET x.ads.test:", e.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        string allowed = await proxy.AccessLog.WaitForAsync(l => l.Contains("origin.test", StringComparison.Ordinal), "the allowed GET");
        using JsonDocument plain = JsonDocument.Parse(allowed);
        Assert.Equal("TCP_MISS", plain.RootElement.GetProperty("code").GetString());
        Assert.False(plain.RootElement.TryGetProperty("report", out _));
    }

    [Fact]
    public async Task The_address_guard_still_refuses_a_would_deny()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c =>
        {
            SluiceConfig parsed = ConfigLoader.Parse($"mode: report\n{Rules}", "rules.yaml");
            return c with { Rules = parsed.Rules, Default = parsed.Default, Mode = parsed.Mode, Addresses = new AddressesConfig() }; // loopback refused
        });
        proxy.Resolver.Map("x.ads.test", IPAddress.Loopback);
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        using HttpResponseMessage response = await http.GetAsync($"http://x.ads.test:{origin.Port}/hello");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("error=destination_ip_prohibited", response.Headers.GetValues("Proxy-Status").Single(), StringComparison.Ordinal);
        Assert.Equal(0, origin.Connections);
    }

    [Fact]
    public async Task Rule_figures_survive_a_reload_for_names_that_stay_and_are_forgotten_for_names_that_go()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync("enforce");
        proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("x.ads.test", IPAddress.Loopback);
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://x.ads.test:{origin.Port}/hello")).StatusCode);

        SluiceConfig renamed = ConfigLoader.Parse(Rules.Replace("name: no-ads", "name: no-adverts", StringComparison.Ordinal), "rules.yaml");
        proxy.Server.Reload(proxy.Server.CurrentConfig with { Rules = renamed.Rules });
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://x.ads.test:{origin.Port}/hello")).StatusCode);

        Dictionary<string, (long Hits, long WouldDeny)> usage = Usage(await RulesAsync(proxy));
        Assert.Equal((1, 0), usage["origin"]);
        Assert.Equal((1, 0), usage["no-adverts"]); // a new name starts from zero
        Assert.False(usage.ContainsKey("no-ads"));
    }

    [Fact]
    public async Task The_operational_log_warns_once_at_start_and_when_a_reload_turns_report_mode_on()
    {
        const string warning = "mode: report: the rules refuse nothing";
        using var log = new LogLines();
        await using (TestProxy reporting = await TestProxy.StartAsync(c => c with { Mode = Policy.Rules.PolicyMode.Report }, log: log))
        {
            Assert.Single(log.Lines, l => l.Contains(warning, StringComparison.Ordinal));
            reporting.Server.Reload(reporting.Server.CurrentConfig);
            Assert.Single(log.Lines, l => l.Contains(warning, StringComparison.Ordinal)); // already reporting: said once
        }

        using var quiet = new LogLines();
        await using TestProxy enforcing = await TestProxy.StartAsync(log: quiet);
        Assert.DoesNotContain(quiet.Lines, l => l.Contains(warning, StringComparison.Ordinal));
        enforcing.Server.Reload(enforcing.Server.CurrentConfig with { Mode = Policy.Rules.PolicyMode.Report });
        Assert.Single(quiet.Lines, l => l.Contains(warning, StringComparison.Ordinal));
    }
}
