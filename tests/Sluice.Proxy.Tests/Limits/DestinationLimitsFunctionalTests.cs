using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Inspection;

namespace Sluice.Proxy.Tests.Limits;

/// <summary>
/// <c>limits.perDestination</c> through the real proxy: one destination over its rate or its tunnels is refused with
/// 429, Retry-After and a Proxy-Status naming it, while the same client reaches other destinations.
/// </summary>
public sealed class DestinationLimitsFunctionalTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    private static Task<TestProxy> StartAsync(PerDestinationLimits perDestination) =>
        TestProxy.StartAsync(c => c with { Limits = c.Limits with { PerDestination = perDestination } });

    private static double Rejections(TestProxy proxy, string limit) =>
        ((Sluice.Proxy.Admin.IAdminSource)proxy.Server).Metrics.LimitRejections.WithLabels(limit).Value;

    private static HttpClient Through(TestProxy proxy) =>
        new(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) }) { Timeout = Generous };

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

    /// <summary>Waits until the proxy holds <paramref name="count"/> connections: a closed tunnel's session has ended, and released its slots.</summary>
    private static async Task WaitForConnectionsAsync(TestProxy proxy, int count)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (proxy.OpenConnections != count)
        {
            Assert.True(waited.Elapsed < Generous, $"{proxy.OpenConnections} connections still open after {Generous.TotalSeconds}s, expected {count}");
            await Task.Delay(10);
        }
    }

    private static async Task AssertTunnelRefusedAsync(TestProxy proxy, string host, int port, string detail)
    {
        (RawClient refused, string head) = await ConnectAsync(proxy, host, port);
        using (refused)
        {
            Assert.StartsWith("HTTP/1.1 429 Too Many Requests", head);
            Assert.Contains("Retry-After: 1\r\n", head);
            Assert.Contains($"Proxy-Status: {TestProxy.Name}; error=connection_limit_reached; details=", head);
            Assert.Contains(detail, head);
            Assert.Contains(detail, Encoding.ASCII.GetString(await refused.ReadToEndAsync()));
        }
    }

    [Fact]
    public async Task A_destination_over_its_rate_gets_429_while_the_same_client_is_served_elsewhere()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync(new PerDestinationLimits { RequestsPerSecond = 1, Burst = 2 });
        proxy.Resolver.Map("busy.test", IPAddress.Loopback).Map("quiet.test", IPAddress.Loopback);
        using HttpClient http = Through(proxy);

        // The burst of 2 is served; well before many seconds pass, a request finds the bucket empty.
        HttpResponseMessage? refused = null;
        for (int i = 0; i < 10 && refused is null; i++)
        {
            HttpResponseMessage response = await http.GetAsync($"http://busy.test:{origin.Port}/hello");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        Assert.NotNull(refused);
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        string proxyStatus = string.Join(", ", refused.Headers.GetValues("Proxy-Status"));
        Assert.Contains($"{TestProxy.Name}; error=connection_limit_reached", proxyStatus);
        Assert.Contains("busy.test is over its request rate (1/s through this proxy); try again in 1s", proxyStatus);
        Assert.Contains("busy.test is over its request rate", await refused.Content.ReadAsStringAsync());

        HttpResponseMessage other = await http.GetAsync($"http://quiet.test:{origin.Port}/hello");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal("hello from origin", await other.Content.ReadAsStringAsync());

        await proxy.AccessLog.WaitForAsync(l => l.Contains(" TCP_DENIED/429 ") && l.Contains($"http://busy.test:{origin.Port}/hello"), "the refused request's line");
        Assert.Equal(1, Rejections(proxy, "destinationRate"));
        Assert.Equal(0, Rejections(proxy, "requestRate"));
    }

    [Fact]
    public async Task A_connect_takes_a_token_from_its_destination_too()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await StartAsync(new PerDestinationLimits { RequestsPerSecond = 1, Burst = 1 });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);

        using RawClient first = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        string head = "";
        for (int i = 0; i < 10 && !head.StartsWith("HTTP/1.1 429", StringComparison.Ordinal); i++)
        {
            (RawClient next, head) = await ConnectAsync(proxy, "echo.test", echo.Port);
            next.Dispose();
        }

        Assert.StartsWith("HTTP/1.1 429", head);
        Assert.Contains("echo.test is over its request rate (1/s through this proxy)", head);
        Assert.Contains("Retry-After: ", head);
        using RawClient other = await OpenTunnelAsync(proxy, "other.test", echo.Port);
    }

    [Fact]
    public async Task The_tunnel_over_a_destinations_limit_gets_429_another_destination_gets_200_and_a_closed_tunnel_frees_its_slot()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await StartAsync(new PerDestinationLimits { Tunnels = 3 });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);

        var open = new List<RawClient>();
        for (int i = 0; i < 3; i++)
        {
            open.Add(await OpenTunnelAsync(proxy, "echo.test", echo.Port));
        }

        await AssertTunnelRefusedAsync(proxy, "echo.test", echo.Port, "echo.test has 3 tunnels open through this proxy, its limit");
        using RawClient other = await OpenTunnelAsync(proxy, "other.test", echo.Port);

        // The tunnels carry bytes as ever.
        await open[0].SendAsync("ping");
        Assert.Equal("ping", Encoding.ASCII.GetString(await open[0].ReadExactlyAsync(4)));

        open[0].Dispose();
        await WaitForConnectionsAsync(proxy, 3); // two to echo.test, one to other.test
        open[0] = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        await AssertTunnelRefusedAsync(proxy, "echo.test", echo.Port, "echo.test has 3 tunnels open");

        await proxy.AccessLog.WaitForAsync(l => l.Contains(" TCP_DENIED/429 ") && l.Contains($"CONNECT echo.test:{echo.Port}"), "a refused tunnel's line");
        Assert.Equal(2, Rejections(proxy, "destinationTunnels"));
        open.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task A_refused_tunnel_gives_back_its_clients_slot()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Limits = c.Limits with { MaxTunnelsPerClient = 2, PerDestination = new PerDestinationLimits { Tunnels = 1 } } });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);

        using RawClient first = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        for (int i = 0; i < 3; i++)
        {
            await AssertTunnelRefusedAsync(proxy, "echo.test", echo.Port, "echo.test has 1 tunnels open");
        }

        using RawClient second = await OpenTunnelAsync(proxy, "other.test", echo.Port); // the client's second slot is free
    }

    [Fact]
    public async Task Key_domain_counts_the_names_of_one_registrable_domain_together()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await StartAsync(new PerDestinationLimits { Tunnels = 2, Key = DestinationKeyKind.Domain });
        // .test is not in the Public Suffix List: by its default rule, example.test is the registrable domain.
        foreach (string name in new[] { "a.example.test", "b.example.test", "c.example.test", "other.test" })
        {
            proxy.Resolver.Map(name, IPAddress.Loopback);
        }

        using RawClient a = await OpenTunnelAsync(proxy, "a.example.test", echo.Port);
        using RawClient b = await OpenTunnelAsync(proxy, "b.example.test", echo.Port);
        await AssertTunnelRefusedAsync(proxy, "c.example.test", echo.Port, "example.test (registrable domain) has 2 tunnels open through this proxy, its limit");
        using RawClient other = await OpenTunnelAsync(proxy, "other.test", echo.Port);
    }

    [Fact]
    public async Task Tunnels_opened_before_a_reload_are_released_whatever_the_reload_changed()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        var limited = new PerDestinationLimits { Tunnels = 1 };
        await using TestProxy proxy = await StartAsync(limited);
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        SluiceConfig on = proxy.Server.CurrentConfig;

        RawClient before = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        proxy.Server.Reload(on with { Limits = on.Limits with { PerDestination = null } });
        RawClient whileOff = await OpenTunnelAsync(proxy, "echo.test", echo.Port); // off: not counted
        proxy.Server.Reload(on with { Limits = on.Limits with { PerDestination = limited with { Key = DestinationKeyKind.Domain } } });

        before.Dispose();
        whileOff.Dispose();
        await WaitForConnectionsAsync(proxy, 0);

        // Had the release read the configuration in force (off, then another key), the first tunnel's count would
        // still be held and this one refused.
        proxy.Server.Reload(on);
        using RawClient after = await OpenTunnelAsync(proxy, "echo.test", echo.Port);
        await AssertTunnelRefusedAsync(proxy, "echo.test", echo.Port, "echo.test has 1 tunnels open");
    }

    [Fact]
    public async Task Requests_inside_an_inspected_tunnel_take_tokens_from_its_destination()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c with { Limits = c.Limits with { PerDestination = new PerDestinationLimits { RequestsPerSecond = 1, Burst = 3 } } }, InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy); // the CONNECT took one token

        TunnelResponse? refused = null;
        for (int i = 0; i < 10 && refused is null; i++)
        {
            TunnelResponse response = await tunnel.GetAsync("/hello");
            if (response.Status == 429)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(200, response.Status);
            }
        }

        Assert.NotNull(refused);
        Assert.Contains($"{InspectionKit.OriginName} is over its request rate", refused.Field("Proxy-Status"));
        Assert.NotNull(refused.Field("Retry-After"));
        Assert.Equal(1, Rejections(proxy, "destinationRate"));
    }

    [Fact]
    public async Task An_ftp_url_through_the_gateway_takes_a_token_from_its_server()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        server.WriteFile("f.bin", 1000);
        await using TestProxy proxy = await Ftp.FtpGatewayKit.StartProxyAsync(c => c with { Limits = c.Limits with { PerDestination = new PerDestinationLimits { RequestsPerSecond = 1, Burst = 1 } } });
        string request = $"GET ftp://{Ftp.FtpGatewayKit.Host}:{server.Port}/f.bin HTTP/1.1\r\nHost: {Ftp.FtpGatewayKit.Host}\r\nConnection: close\r\n\r\n";

        string head = "";
        for (int i = 0; i < 10 && !head.StartsWith("HTTP/1.1 429", StringComparison.Ordinal); i++)
        {
            (head, _) = await Ftp.FtpGatewayKit.RawAsync(proxy, request);
            Assert.True(head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) || head.StartsWith("HTTP/1.1 429", StringComparison.Ordinal), head);
        }

        Assert.StartsWith("HTTP/1.1 429", head);
        Assert.Contains($"{Ftp.FtpGatewayKit.Host} is over its request rate (1/s through this proxy)", head);
        Assert.Contains("Retry-After: ", head);
    }
}
