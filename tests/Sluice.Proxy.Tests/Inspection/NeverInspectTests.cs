using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// Destinations that are not inspected: tunnelled untouched (the client sees the origin's own certificate), and a rule
/// that needs to see a path can never open such a tunnel by accident.
/// </summary>
public sealed class NeverInspectTests
{
    private static async Task AssertUntouchedAsync(InspectionKit kit, TestProxy proxy)
    {
        await using (TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, kit.Authority, kit.Origins.Ca))
        {
            Assert.Equal(kit.Origin.Certificate!.Thumbprint, tunnel.Presented!.Thumbprint); // the origin's own certificate
            TunnelResponse headers = await tunnel.GetAsync("/headers");
            Assert.Equal(200, headers.Status);
            Assert.DoesNotContain("Via:", headers.Text); // nothing in between read or changed the request
            Assert.Null(headers.Field("Via"));
        }

        await proxy.StopAsync();
        string line = Assert.Single(proxy.AccessLog.Lines);
        Assert.Contains($" TCP_TUNNEL/200 ", line);
        Assert.Contains($" CONNECT {kit.Authority} ", line);
    }

    [Fact]
    public async Task A_never_inspected_host_is_tunnelled_untouched_even_by_an_inspect_rule()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Squid, neverInspect: [InspectionKit.OriginName]);
        await AssertUntouchedAsync(kit, proxy);
    }

    [Fact]
    public async Task A_never_inspect_suffix_pattern_covers_the_name()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Squid, neverInspect: [".secure.test"]);
        await AssertUntouchedAsync(kit, proxy);
    }

    [Fact]
    public async Task A_host_decided_by_a_plain_tunnel_rule_is_tunnelled_untouched()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        // The plain rule comes first and decides; the inspect rule after it never gets the CONNECT.
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Plain(), InspectionKit.Inspect());
        await AssertUntouchedAsync(kit, proxy);
    }

    [Fact]
    public async Task A_never_inspected_host_whose_only_rule_has_paths_is_refused()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect(paths: ["/hello"])], AccessLogFormat.Squid, neverInspect: [InspectionKit.OriginName]);

        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);
        Assert.StartsWith("HTTP/1.1 403 ", tunnel.ConnectHead);
        Assert.Contains($"Proxy-Status: {TestProxy.Name}; error=http_request_denied", tunnel.ConnectHead);
        Assert.Equal(0, kit.Origin.Connections);
    }

    [Fact]
    public async Task A_never_inspected_host_whose_only_rule_allows_get_is_refused()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect(methods: ["GET"])], AccessLogFormat.Squid, neverInspect: [InspectionKit.OriginName]);

        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);
        Assert.StartsWith("HTTP/1.1 403 ", tunnel.ConnectHead);
        Assert.Equal(0, kit.Origin.Connections);
    }

    [Fact]
    public async Task A_plain_rule_with_paths_never_opens_a_blind_tunnel()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Plain(paths: ["/hello"]));

        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority);
        Assert.StartsWith("HTTP/1.1 403 ", tunnel.ConnectHead);
        Assert.Equal(0, kit.Origin.Connections);
    }

    [Fact]
    public async Task Other_hosts_are_still_inspected_when_one_is_never_inspected()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Squid, neverInspect: ["bank.test"]);

        await using TunnelClient tunnel = await kit.OpenAsync(proxy);
        Assert.Equal(kit.Ca.Subject, tunnel.Presented!.Issuer);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
    }
}
