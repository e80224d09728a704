using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Report mode lets the rules' denies through, never the address guard's: a would-deny to an address the guard refuses
/// is refused, forwarded or tunnelled. Loopback only: the refused address is 127.0.0.2, outside addresses.allow here.
/// </summary>
public sealed class Attack2ReportGuardTests
{
    private static Task<TestProxy> StartAsync() => TestProxy.StartAsync(c => c with
    {
        Default = RuleAction.Deny,
        Mode = PolicyMode.Report,
        Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.1/32")] },
    });

    [Fact]
    public async Task Attack2_a_would_deny_to_an_address_the_guard_refuses_is_refused()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("guarded.test", IPAddress.Parse("127.0.0.2")).Map("fine.test", IPAddress.Loopback);

        using RawClient forward = await RawClient.ConnectAsync(proxy.Endpoint);
        await forward.SendAsync($"GET http://guarded.test:{origin.Port}/hello HTTP/1.1\r\nHost: guarded.test\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", await forward.ReadHeadAsync());

        using RawClient tunnel = await RawClient.ConnectAsync(proxy.Endpoint);
        await tunnel.SendAsync($"CONNECT guarded.test:{origin.Port} HTTP/1.1\r\nHost: guarded.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", await tunnel.ReadHeadAsync());

        // The same would-deny to an address the guard admits goes through, reported.
        using RawClient fine = await RawClient.ConnectAsync(proxy.Endpoint);
        await fine.SendAsync($"GET http://fine.test:{origin.Port}/hello HTTP/1.1\r\nHost: fine.test\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await fine.ReadHeadAsync());
        await proxy.AccessLog.WaitForAsync(l => l.Contains("_REPORTED/200") && l.Contains("fine.test"), "the reported line");
    }
}
