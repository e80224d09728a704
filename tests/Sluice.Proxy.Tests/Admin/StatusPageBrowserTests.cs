using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Sluice.Policy.Config;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// The status page at the admin endpoint's <c>/</c> in a real browser (Debian's headless Chromium through Playwright):
/// a tunnel a test opens appears in the live table and leaves it when it closes, the top lists fill in, values from
/// the proxy are shown as text and never as markup, the parent proxies' health is listed (and their credentials are
/// not), and nothing breaks the page's Content-Security-Policy.
/// </summary>
public sealed class StatusPageBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_tunnel_appears_in_the_live_table_and_leaves_it_when_it_closes()
    {
        Assert.True(DestinationPattern.TryParse("blocked.test", out DestinationPattern blocked, out string problem), problem);
        Assert.True(DestinationPattern.TryParse("origin.test", out DestinationPattern viaParent, out problem), problem);

        // An upstream whose first parent is a closed port and whose second is another Sluice; its password comes
        // from the environment and must never reach the page.
        string variable = $"SLUICE_TEST_PARENT_PASSWORD_{Guid.NewGuid():N}";
        string secret = $"parent-secret-{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(variable, secret);
        using var unset = new Unset(variable);
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy parent = await TestProxy.StartAsync(c => c with { Name = "parent-sluice" });
        parent.Resolver.Map("origin.test", IPAddress.Loopback);
        var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        var corp = new UpstreamConfig
        {
            Name = "corp",
            Proxies = [.. new[] { gone, parent.Endpoint }.Select(p => new ParentProxyAddress("http", new HostPort(p.Address.ToString(), p.Address, p.Port)))],
            Credentials = new UpstreamCredentials(
                new SecretSource(SecretKind.Literal, "corp-proxy-user", "upstreams[0].credentials.user", "test.yaml", 1, 1),
                new SecretSource(SecretKind.Environment, variable, "upstreams[0].credentials.passwordEnv", "test.yaml", 1, 1)),
        };

        await using TestProxy proxy = await StartProxyAsync(
        [
            new Rule { Name = "no-blocked", Action = RuleAction.Deny, Destinations = [blocked] },
            new Rule { Name = "via-corp", Action = RuleAction.Allow, Destinations = [viaParent], Via = "corp" },
            new Rule { Name = "echo-ok", Action = RuleAction.Allow },
        ], [corp]);
        await using RawOrigin echo = RawOrigin.Echo();
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("mirror.test", IPAddress.Loopback).Map("blocked.test", IPAddress.Loopback).Map("origin.test", IPAddress.Loopback);
        string destination = $"echo.test:{echo.Port}";

        // Three requests through corp: each fails on the closed port, then gets through the other parent; the
        // third failure marks the closed port down.
        using (var client = new HttpClient(new HttpClientHandler { Proxy = new WebProxy(proxy.Uri), UseProxy = true }))
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{origin.Port}/hello?{i}"));
            }
        }

        for (int i = 0; i < 200 && proxy.OpenConnections > 0; i++)
        {
            await Task.Delay(25); // the client's connection ends, so the live table holds only the tunnels below
        }

        // One refusal, so the page has something under "top denied".
        using (RawClient refused = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await refused.SendAsync("CONNECT blocked.test:443 HTTP/1.1\r\nHost: blocked.test:443\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 403", await refused.ReadHeadAsync(), StringComparison.Ordinal);
        }

        await using HeadlessChromium chromium = await HeadlessChromium.LaunchAsync();
        IPage page = chromium.Page;
        IResponse? response = await page.GotoAsync(AdminUri(proxy, "/"));
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        await page.WaitForSelectorAsync("#state.badge-ready");

        // The parent proxies' table: the closed port down with its error, the other Sluice up.
        string downRow = $"#parents tr[data-parent=\"{gone}\"]";
        string upRow = $"#parents tr[data-parent=\"{parent.Endpoint}\"]";
        await page.WaitForSelectorAsync($"{downRow}[data-state=\"down\"]");
        Assert.True(await page.Locator("#parents-panel").IsVisibleAsync());
        Assert.Equal(2, await page.Locator("#parents tbody tr").CountAsync());
        ILocator down = page.Locator($"{downRow} td");
        Assert.Equal("corp", await page.Locator($"{downRow} .upstream-name").TextContentAsync());
        Assert.Equal($"http://{gone}", await down.Nth(1).TextContentAsync());
        Assert.Matches(@"^down since \d\d:\d\d:\d\d, (next probe in \d+s|probing now)$", await down.Nth(2).TextContentAsync());
        Assert.Equal("3", await down.Nth(3).TextContentAsync());
        Assert.Contains("refused the connection", await down.Nth(4).TextContentAsync(), StringComparison.Ordinal);
        ILocator up = page.Locator($"{upRow} td");
        Assert.Equal("up", await page.Locator(upRow).GetAttributeAsync("data-state"));
        Assert.Equal("up", await up.Nth(2).TextContentAsync());
        Assert.Equal("0", await up.Nth(3).TextContentAsync());
        Assert.Equal("—", await up.Nth(4).TextContentAsync());
        Assert.Equal("1 of 2 down", await page.Locator("#parents-hint").TextContentAsync());
        string parents = HeadlessChromium.ArtifactPath("status-page-parents.png");
        await page.Locator("#parents-panel").ScreenshotAsync(new LocatorScreenshotOptions { Path = parents });
        Report("screenshot of the parent proxies", parents);

        string row = $"#connections tr[data-destination=\"{destination}\"]";
        using (RawClient tunnel = await OpenTunnelAsync(proxy, destination))
        {
            // A second, newer tunnel: the table lists newest first.
            using RawClient newer = await OpenTunnelAsync(proxy, $"mirror.test:{echo.Port}");
            await page.WaitForSelectorAsync($"#connections tr[data-destination=\"mirror.test:{echo.Port}\"]");

            byte[] ping = Encoding.ASCII.GetBytes("ping through the tunnel\n");
            await tunnel.SendAsync(ping);
            Assert.Equal(ping, await tunnel.ReadExactlyAsync(ping.Length));

            await page.WaitForSelectorAsync(row);
            ILocator cells = page.Locator($"{row} td");
            Assert.Equal(IPAddress.Loopback.ToString(), (await cells.Nth(0).TextContentAsync())?.Split(':')[0]);
            Assert.Equal(destination, await cells.Nth(2).TextContentAsync());
            Assert.Equal("echo-ok", await cells.Nth(3).TextContentAsync());
            Assert.Equal("tunnel", await cells.Nth(4).TextContentAsync());
            await page.WaitForFunctionAsync("() => document.getElementById('active-tunnels').textContent === '2'");
            Assert.Equal($"mirror.test:{echo.Port}", await page.Locator("#connections tbody tr").First.GetAttributeAsync("data-destination"));
            Assert.Equal(destination, await page.Locator("#connections tbody tr").Nth(1).GetAttributeAsync("data-destination"));

            string live = HeadlessChromium.ArtifactPath("status-page-live.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = live, FullPage = true });
            Report("screenshot with two tunnels open", live);

            tunnel.ShutdownSend();
            await tunnel.ReadToEndAsync();
            await page.WaitForSelectorAsync(row, new PageWaitForSelectorOptions { State = WaitForSelectorState.Detached });
            Assert.Equal(1, await page.Locator("#connections tbody tr").CountAsync()); // the other tunnel is still open

            newer.ShutdownSend();
            await newer.ReadToEndAsync();
        }

        await page.WaitForSelectorAsync("#connections tr.empty");

        ILocator top = page.Locator($"#top-destinations li[data-destination=\"{destination}\"]");
        await top.WaitForAsync();
        Assert.Contains(destination, await top.TextContentAsync(), StringComparison.Ordinal);
        ILocator denied = page.Locator("#top-denied li[data-destination=\"blocked.test:443\"]");
        await denied.WaitForAsync();
        Assert.DoesNotContain("echo.test", await page.Locator("#top-denied").TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("start", await page.Locator("#events").TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains($"parent proxy {gone} of upstream corp is marked down", await page.Locator("#events").TextContentAsync(), StringComparison.Ordinal);

        // Reloads show up live: the generation in the header moves and both kinds of reload are listed, newest first.
        proxy.Server.RecordRefusedReload("sluice.yaml line 14: rules[2]: unknown key 'destination'; the running config stays");
        proxy.Server.Reload(proxy.Server.CurrentConfig);
        await page.WaitForFunctionAsync("() => document.getElementById('generation').textContent === '2'");
        // The parent events ("marked down", and "up again" should the closed port be taken meanwhile) are left out.
        const string others = "[...document.querySelectorAll('#events .event-kind')].filter(k => k.textContent !== 'parent')";
        await page.WaitForFunctionAsync($"() => {others}.length === 3");
        IReadOnlyList<string> kinds = await page.Locator("#events .event-kind").AllTextContentsAsync();
        Assert.Equal(["reload", "reload refused", "start"], kinds.Where(k => k != "parent"));
        Assert.Contains("parent", kinds);
        Assert.Equal(2, await page.Locator("#parents tbody tr").CountAsync()); // the reload keeps the table and the parents' health

        string path = HeadlessChromium.ArtifactPath("status-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Report("screenshot after the tunnel closed", path);
        Assert.True(new FileInfo(path).Length > 10_000, "the screenshot is suspiciously small");

        // Neither the password nor the user name, in any form, is on the page.
        string html = await page.ContentAsync();
        string basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"corp-proxy-user:{secret}"));
        foreach (string hidden in new[] { secret, "corp-proxy-user", basic, variable })
        {
            Assert.DoesNotContain(hidden, html, StringComparison.Ordinal);
        }

        lock (chromium.Errors)
        {
            Assert.Empty(chromium.Errors); // a CSP violation (inline script or style) would be a console error
        }
    }

    [Fact]
    public async Task The_traffic_charts_move_and_the_rules_and_would_deny_tables_fill_in()
    {
        Assert.True(DestinationPattern.TryParse("blocked.test", out DestinationPattern blocked, out string problem), problem);
        Assert.True(DestinationPattern.TryParse("mirror.test", out DestinationPattern watched, out problem), problem);
        Assert.True(DestinationPattern.TryParse("echo.test", out DestinationPattern echoed, out problem), problem);
        Assert.True(DestinationPattern.TryParse("unused.test", out DestinationPattern unused, out problem), problem);
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with
        {
            Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) },
            Rules =
            [
                new Rule { Name = "no-blocked", Action = RuleAction.Deny, Destinations = [blocked], Line = 3 },
                new Rule { Name = "watch-mirror", Action = RuleAction.Report, Destinations = [watched], Line = 6 },
                new Rule { Name = "echo-ok", Action = RuleAction.Allow, Destinations = [echoed], Line = 9 },
                new Rule { Name = "never-used", Action = RuleAction.Allow, Destinations = [unused], Line = 12 },
            ],
            Default = RuleAction.Deny,
        });
        await using RawOrigin echo = RawOrigin.Echo();
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("mirror.test", IPAddress.Loopback).Map("blocked.test", IPAddress.Loopback);

        await using HeadlessChromium chromium = await HeadlessChromium.LaunchAsync();
        IPage page = chromium.Page;
        await page.GotoAsync(AdminUri(proxy, "/"));
        await page.WaitForSelectorAsync("#state.badge-ready");
        await page.WaitForSelectorAsync("#rules tr[data-rule=\"never-used\"]");
        await page.WaitForFunctionAsync("() => document.getElementById('chart-requests').dataset.total === '0'");
        string? quietLine = await page.Locator("#chart-requests path.line").GetAttributeAsync("d");
        Assert.False(string.IsNullOrEmpty(quietLine), "the requests chart draws a line before any traffic");
        Assert.Equal("enforce", await page.Locator("#policy-mode").TextContentAsync());
        Assert.True(await page.Locator("#mode").IsHiddenAsync(), "no report-mode badge while the policy is enforced");

        // A refusal, a would-deny (a tunnel let through by the report rule, closed at once), and a tunnel that stays
        // open and moves 300 KB each way.
        using (RawClient refused = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await refused.SendAsync("CONNECT blocked.test:443 HTTP/1.1\r\nHost: blocked.test:443\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 403", await refused.ReadHeadAsync(), StringComparison.Ordinal);
        }

        string watchedDestination = $"mirror.test:{echo.Port}";
        using (RawClient reported = await OpenTunnelAsync(proxy, watchedDestination))
        {
            reported.ShutdownSend();
            await reported.ReadToEndAsync();
        }

        using RawClient tunnel = await OpenTunnelAsync(proxy, $"echo.test:{echo.Port}");
        byte[] chunk = new byte[100_000];
        Random.Shared.NextBytes(chunk);
        for (int i = 0; i < 3; i++)
        {
            await tunnel.SendAsync(chunk);
            Assert.Equal(chunk, await tunnel.ReadExactlyAsync(chunk.Length));
        }

        // The charts move: the page polls, the proxy samples once a second; wait on the page's own data, not a clock.
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-requests').dataset.total) >= 2");
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-denials').dataset.total) >= 1");
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-bytes').dataset.total) >= 600000"); // the open tunnel's bytes, before it closes
        Assert.NotEqual(quietLine, await page.Locator("#chart-requests path.line").GetAttributeAsync("d"));
        Assert.Equal(1, await page.Locator("#chart-denials path.line.s-would").CountAsync()); // a would-deny happened: its line is drawn
        Assert.True(await page.Locator("#chart-denials .chart-legend").IsVisibleAsync());
        Assert.Matches(@"now [0-9.]+ (B|KiB|MiB)/s · peak [0-9.]+ (KiB|MiB)/s", await page.Locator("#chart-bytes .chart-figures").TextContentAsync());
        IReadOnlyList<string> values = await page.Locator("#chart-bytes .tick-y").AllTextContentsAsync();
        Assert.Equal(3, values.Count); // 0, half and the top of the scale
        Assert.All(values, v => Assert.EndsWith("/s", v, StringComparison.Ordinal));
        IReadOnlyList<string> times = await page.Locator("#chart-bytes .tick-x").AllTextContentsAsync();
        Assert.Equal(4, times.Count); // -15, -10, -5 minutes and now
        Assert.All(times, t => Assert.Matches(@"^\d\d:\d\d$", t));

        // Hovering shows a second's figures; leaving shows now and the peak again.
        await page.Locator("#chart-requests .hit").HoverAsync();
        await page.WaitForSelectorAsync("#chart-requests .figure-time");
        Assert.Matches(@"^\d\d:\d\d:\d\d$", await page.Locator("#chart-requests .figure-time").TextContentAsync());
        Assert.Equal(1, await page.Locator("#chart-requests .hover-line").CountAsync());
        await page.Mouse.MoveAsync(1, 1);
        await page.WaitForSelectorAsync("#chart-requests .figure-time", new PageWaitForSelectorOptions { State = WaitForSelectorState.Detached });

        // The rules in order with their hits; the one never hit is marked; the default row last.
        await page.WaitForFunctionAsync("() => document.querySelector('#rules tr[data-rule=\"watch-mirror\"]')?.dataset.wouldDeny === '1'");
        Assert.Equal(["no-blocked", "watch-mirror", "echo-ok", "never-used", ""], await page.Locator("#rules tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.rule)"));
        Assert.Equal("1", await page.Locator("#rules tr[data-rule=\"no-blocked\"] td.hits").TextContentAsync());
        Assert.Equal("1", await page.Locator("#rules tr[data-rule=\"echo-ok\"] td.hits").TextContentAsync()); // counted when decided: the tunnel is still open
        Assert.Equal("report", await page.Locator("#rules tr[data-rule=\"watch-mirror\"] .action").TextContentAsync());
        Assert.Equal("1", await page.Locator("#rules tr[data-rule=\"watch-mirror\"] td.would").TextContentAsync());
        Assert.Matches(@"^\d\d:\d\d:\d\d$", await page.Locator("#rules tr[data-rule=\"echo-ok\"] td.last-hit").TextContentAsync());
        ILocator never = page.Locator("#rules tr[data-rule=\"never-used\"]");
        Assert.Contains("rule-never", await never.GetAttributeAsync("class"), StringComparison.Ordinal);
        Assert.Equal("never hit", await never.Locator(".tag-never").TextContentAsync());
        Assert.Equal("0", await never.Locator("td.hits").TextContentAsync());
        Assert.Equal(0, await page.Locator("#rules tr[data-rule=\"echo-ok\"] .tag-never").CountAsync());
        Assert.Equal("12", await never.Locator("td").First.TextContentAsync());
        ILocator fallback = page.Locator("#rules tr.rule-default");
        Assert.Equal("default", await fallback.Locator(".default-name").TextContentAsync());
        Assert.Equal("deny", await fallback.Locator(".action").TextContentAsync());
        Assert.Contains("1 of 4 never hit", await page.Locator("#rules-hint").TextContentAsync(), StringComparison.Ordinal);

        // What the report rule let through, by destination.
        ILocator wouldDeny = page.Locator($"#would-deny tr[data-destination=\"{watchedDestination}\"]");
        await wouldDeny.WaitForAsync();
        Assert.True(await page.Locator("#would-deny-panel").IsVisibleAsync());
        Assert.Equal(watchedDestination, await wouldDeny.Locator("td").First.TextContentAsync());
        Assert.Equal("1", await wouldDeny.Locator("td").Nth(1).TextContentAsync());
        Assert.Equal(1, await page.Locator("#would-deny tbody tr").CountAsync());

        // mode: report is shown prominently.
        proxy.Server.Reload(proxy.Server.CurrentConfig with { Mode = PolicyMode.Report });
        await page.WaitForSelectorAsync("#mode:not([hidden])");
        Assert.True(await page.Locator("#report-note").IsVisibleAsync());
        Assert.Equal("report", await page.Locator("#policy-mode").TextContentAsync());

        string path = HeadlessChromium.ArtifactPath("status-page-traffic.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Report("screenshot with the traffic charts, the rules and the would-denies", path);
        Assert.True(new FileInfo(path).Length > 10_000, "the screenshot is suspiciously small");
        string charts = HeadlessChromium.ArtifactPath("status-page-charts.png");
        await page.Locator("#chart-requests").Locator("xpath=ancestor::section").ScreenshotAsync(new LocatorScreenshotOptions { Path = charts });
        Report("screenshot of the traffic charts", charts);

        tunnel.ShutdownSend();
        await tunnel.ReadToEndAsync();
        lock (chromium.Errors)
        {
            Assert.Empty(chromium.Errors); // a CSP violation (inline script or style) would be a console error
        }
    }

    [Fact]
    public async Task Markup_in_a_value_from_the_proxy_is_shown_as_text()
    {
        // Host names cannot carry markup (the proxy refuses such characters), but a rule name set in code can.
        const string hostile = "<b id=\"injected\">bold</b><img src=x id=\"injected-img\">";
        await using TestProxy proxy = await StartProxyAsync([new Rule { Name = hostile, Action = RuleAction.Allow }]);
        await using RawOrigin echo = RawOrigin.Echo();
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        string destination = $"echo.test:{echo.Port}";

        await using HeadlessChromium chromium = await HeadlessChromium.LaunchAsync();
        IPage page = chromium.Page;
        await page.GotoAsync(AdminUri(proxy, "/"));

        using RawClient tunnel = await OpenTunnelAsync(proxy, destination);
        string row = $"#connections tr[data-destination=\"{destination}\"]";
        await page.WaitForSelectorAsync(row);

        Assert.Equal(hostile, await page.Locator($"{row} td").Nth(3).TextContentAsync());
        Assert.Equal(0, await page.Locator("#injected, #injected-img, #connections b, #connections img").CountAsync());
        Assert.Equal(destination, await page.Locator($"{row} td").Nth(2).TextContentAsync());
        Assert.True(await page.Locator("#parents-panel").IsHiddenAsync(), "no upstreams: the parent proxies' section stays hidden");
    }

    [Fact]
    public async Task The_page_is_plain_files_with_no_inline_code_and_useful_without_javascript()
    {
        await using TestProxy proxy = await StartProxyAsync([]);
        using var http = new HttpClient();

        using HttpResponseMessage index = await http.GetAsync(AdminUri(proxy, "/"));
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Contains("default-src 'self'", index.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        string html = await index.Content.ReadAsStringAsync();
        foreach (string link in new[] { "/api/stats", "/api/connections", "/api/traffic", "/api/rules", "/api/upstreams", "/metrics" })
        {
            Assert.Contains($"href=\"{link}\"", html, StringComparison.Ordinal);
        }

        Assert.Contains("<noscript>", html, StringComparison.Ordinal);
        Assert.Matches("<table id=\"connections\"", html);
        Assert.DoesNotMatch(new Regex("<script(?![^>]*\\bsrc=)", RegexOptions.IgnoreCase), html); // no inline scripts
        Assert.DoesNotMatch(new Regex("<style|\\sstyle=|\\son[a-z]+=", RegexOptions.IgnoreCase), html); // no inline styles or handlers
        Assert.DoesNotMatch(new Regex("(src|href)=\"(https?:)?//", RegexOptions.IgnoreCase), html); // nothing from elsewhere

        foreach (string file in new[] { "app.js", "style.css" })
        {
            using HttpResponseMessage asset = await http.GetAsync(AdminUri(proxy, "/" + file));
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            string text = await asset.Content.ReadAsStringAsync();
            Assert.DoesNotMatch(new Regex("https?://|@import|innerHTML|outerHTML|insertAdjacentHTML|document\\.write"), text);
        }
    }

    private static Task<TestProxy> StartProxyAsync(ImmutableArray<Rule> rules, ImmutableArray<UpstreamConfig>? upstreams = null) => TestProxy.StartAsync(c => c with
    {
        Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) },
        Rules = rules,
        Upstreams = upstreams ?? c.Upstreams,
    });

    private static string AdminUri(TestProxy proxy, string path)
    {
        IPEndPoint admin = proxy.Server.AdminEndpoint ?? throw new InvalidOperationException("the admin endpoint did not start");
        Assert.True(IPAddress.IsLoopback(admin.Address), $"the admin endpoint is on {admin}, not loopback");
        return $"http://127.0.0.1:{admin.Port}{path}";
    }

    private static async Task<RawClient> OpenTunnelAsync(TestProxy proxy, string authority)
    {
        RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        return client;
    }

    /// <summary>Unsets an environment variable the test set, however the test ends.</summary>
    private sealed class Unset(string variable) : IDisposable
    {
        public void Dispose() => Environment.SetEnvironmentVariable(variable, null);
    }

    private void Report(string what, string path)
    {
        output.WriteLine($"{what}: {path}");
        Console.WriteLine($"{what}: {path}");
    }
}
