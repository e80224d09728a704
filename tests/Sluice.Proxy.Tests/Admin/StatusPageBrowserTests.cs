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
        foreach (string link in new[] { "/api/stats", "/api/connections", "/api/upstreams", "/metrics" })
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
