using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// A real browser (Debian's headless Chromium) configured with the running proxy's <c>/proxy.pac</c> as its PAC URL:
/// an excluded name is fetched directly, any other through Sluice, which logs it. Names resolve through Chromium's
/// host-resolver rules and the proxy's map, both to loopback: nothing leaves the machine.
/// </summary>
public sealed class ProxyPacBrowserTests
{
    [Fact]
    public async Task Chromium_goes_direct_or_through_the_proxy_as_the_served_pac_file_says()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        SluiceConfig file = ConfigLoader.Parse("clients:\n  excluded: [direct.test]\n", "sluice.yaml");
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Clients = file.Clients, Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } });
        proxy.Resolver.Map("proxied.test", IPAddress.Loopback);
        await using HeadlessChromium chromium = await HeadlessChromium.LaunchAsync(
            $"--proxy-pac-url=http://{proxy.Server.AdminEndpoint}/proxy.pac",
            "--host-resolver-rules=MAP direct.test 127.0.0.1, MAP *.direct.test 127.0.0.1, MAP proxied.test 127.0.0.1");

        Assert.Equal(200, (await chromium.Page.GotoAsync($"http://direct.test:{origin.Port}/hello"))?.Status);
        Assert.Contains("hello from origin", await chromium.Page.ContentAsync(), StringComparison.Ordinal);
        Assert.Equal(200, (await chromium.Page.GotoAsync($"http://www.direct.test:{origin.Port}/hello"))?.Status); // a subdomain of an excluded name
        Assert.Equal(200, (await chromium.Page.GotoAsync($"http://proxied.test:{origin.Port}/hello"))?.Status);

        await proxy.AccessLog.WaitForAsync(l => l.Contains($"GET http://proxied.test:{origin.Port}/hello", StringComparison.Ordinal), "the proxied request in the access log");
        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains("direct.test", StringComparison.Ordinal));
    }
}
