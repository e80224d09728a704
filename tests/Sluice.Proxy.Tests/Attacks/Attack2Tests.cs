using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Inspection;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Attacks on per-destination limits and report mode: every failed CONNECT gives back its destination's tunnel slot,
/// spellings of one name count as one destination, and a reload between report and enforce applies to the next
/// request of a keep-alive connection.
/// </summary>
public sealed class Attack2Tests
{
    private static async Task<(RawClient Client, string Head)> ConnectAsync(TestProxy proxy, string host, int port)
    {
        RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
        return (client, await client.ReadHeadAsync());
    }

    private static async Task<RawClient> OpenTunnelAsync(TestProxy proxy, string host, int port)
    {
        (RawClient client, string head) = await ConnectAsync(proxy, host, port);
        Assert.StartsWith("HTTP/1.1 200", head);
        return client;
    }

    private static async Task WaitForNoConnectionsAsync(TestProxy proxy)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (proxy.OpenConnections != 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"{proxy.OpenConnections} connections still open");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Attack2_failed_connects_give_back_their_destination_tunnel_slot()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Limits = c.Limits with { PerDestination = new PerDestinationLimits { Tunnels = 1 } } });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        int closed = Ports.Free();

        for (int i = 0; i < 4; i++)
        {
            // Dial refused: nothing listens there.
            (RawClient refused, string head) = await ConnectAsync(proxy, "echo.test", closed);
            using (refused)
            {
                Assert.StartsWith("HTTP/1.1 50", head);
            }

            // Client gone before the 200: it sends the CONNECT and resets at once.
            RawClient gone = await RawClient.ConnectAsync(proxy.Endpoint);
            await gone.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
            gone.Dispose();
            await WaitForNoConnectionsAsync(proxy); // its tunnel, if it opened, has ended
        }

        using RawClient served = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        await served.SendAsync("ping");
        Assert.Equal("ping", Encoding.ASCII.GetString(await served.ReadExactlyAsync(4)));
    }

    [Fact]
    public async Task Attack2_an_inspected_connect_whose_origin_tls_fails_gives_back_its_slot()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using RawOrigin echo = RawOrigin.Echo(); // speaks no TLS: the handshake with it fails
        await using TestProxy proxy = await kit.ProxyAsync(
            c => c with { Limits = c.Limits with { PerDestination = new PerDestinationLimits { Tunnels = 1 } } },
            InspectionKit.Inspect(destination: "echo.test"), InspectionKit.Plain(destination: "plain.test"));
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("plain.test", IPAddress.Loopback);

        for (int i = 0; i < 3; i++)
        {
            (RawClient failed, string head) = await ConnectAsync(proxy, "echo.test", echo.Port);
            using (failed)
            {
                Assert.StartsWith("HTTP/1.1 502", head);
            }
        }

        await WaitForNoConnectionsAsync(proxy);

        // Had a failure kept its count, the limit of 1 would refuse this tunnel with 429.
        SluiceConfig inspecting = proxy.Server.CurrentConfig;
        proxy.Server.Reload(inspecting with { Rules = [InspectionKit.Plain(destination: "echo.test")] });
        using RawClient served = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        await served.SendAsync("ping");
        Assert.Equal("ping", Encoding.ASCII.GetString(await served.ReadExactlyAsync(4)));
    }

    [Theory]
    [InlineData("ECHO.Test")]
    [InlineData("echo.test.")]
    [InlineData("Echo.TEST.")]
    public async Task Attack2_spellings_of_one_name_count_as_one_destination(string spelling)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Limits = c.Limits with { PerDestination = new PerDestinationLimits { Tunnels = 1 } } });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);

        using RawClient first = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        (RawClient second, string head) = await ConnectAsync(proxy, spelling, echo.Port);
        using (second)
        {
            Assert.StartsWith("HTTP/1.1 429", head);
            Assert.Contains("echo.test has 1 tunnels open", head);
        }
    }

    [Fact]
    public async Task Attack2_a_reload_from_report_to_enforce_applies_to_the_next_request_on_a_keep_alive_connection()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Default = RuleAction.Deny, Mode = PolicyMode.Report });
        proxy.Resolver.Map("a.test", IPAddress.Loopback);
        string request = $"GET http://a.test:{origin.Port}/hello HTTP/1.1\r\nHost: a.test:{origin.Port}\r\n\r\n";

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(request);
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Equal("hello from origin", Encoding.ASCII.GetString(await client.ReadExactlyAsync("hello from origin".Length)));
        await proxy.AccessLog.WaitForAsync(l => l.Contains("_REPORTED") && l.Contains("/hello"), "the reported line");

        SluiceConfig report = proxy.Server.CurrentConfig;
        proxy.Server.Reload(report with { Mode = PolicyMode.Enforce });
        await client.SendAsync(request);
        Assert.StartsWith("HTTP/1.1 403", await client.ReadHeadAsync());

        // And back: the same connection is let through again, reported.
        proxy.Server.Reload(report);
        using RawClient again = await RawClient.ConnectAsync(proxy.Endpoint);
        await again.SendAsync(request);
        Assert.StartsWith("HTTP/1.1 200", await again.ReadHeadAsync());
    }
}

/// <summary>
/// An IPv4-mapped IPv6 literal (<c>[::ffff:127.0.0.1]</c>) is the IPv4 address it stands for: the guard judges it as
/// that address and the proxy dials that address, so the per-destination limits must count it as that destination,
/// or a client doubles the limit by spelling the address twice.
/// </summary>
public sealed class Attack2MappedLiteralTests
{
    private static async Task<(RawClient Client, string Head)> ConnectAsync(TestProxy proxy, string authority)
    {
        RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        return (client, await client.ReadHeadAsync());
    }

    [Theory]
    [InlineData("[::ffff:127.0.0.1]")]
    [InlineData("[::FFFF:7f00:1]")]
    public async Task Attack2_an_ipv4_mapped_literal_counts_as_its_ipv4_destination(string mapped)
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Limits = c.Limits with { PerDestination = new PerDestinationLimits { Tunnels = 1 } } });

        (RawClient first, string head) = await ConnectAsync(proxy, $"127.0.0.1:{echo.Port}");
        using (first)
        {
            Assert.StartsWith("HTTP/1.1 200", head);
            (RawClient second, string again) = await ConnectAsync(proxy, $"{mapped}:{echo.Port}");
            using (second)
            {
                Assert.StartsWith("HTTP/1.1 429", again);
                Assert.Contains("127.0.0.1 has 1 tunnels open", again);
            }
        }
    }
}
