using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>Per-client and total limits: the client over its limit is refused clearly; everyone else carries on.</summary>
public sealed class AdminLimitsTests
{
    private static Task<TestProxy> StartAsync(Func<LimitsConfig, LimitsConfig> limits) =>
        TestProxy.StartAsync(c => c with { Limits = limits(c.Limits) });

    private static async Task<System.Net.Sockets.Socket> SocketFromAsync(TestProxy proxy, IPAddress from)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(proxy.Endpoint);
        return socket;
    }

    private static async Task<string> FirstLineAsync(System.Net.Sockets.Socket socket, string request)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        byte[] buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n = await socket.ReceiveAsync(buffer, cts.Token);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public async Task The_connection_over_a_clients_limit_gets_429_while_another_client_gets_through()
    {
        await using TestProxy proxy = await StartAsync(l => l with { MaxConnectionsPerClient = 3 });
        var held = new List<System.Net.Sockets.Socket>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(await SocketFromAsync(proxy, IPAddress.Parse("127.0.0.7")));
        }

        using System.Net.Sockets.Socket fourth = await SocketFromAsync(proxy, IPAddress.Parse("127.0.0.7"));
        string refused = await FirstLineAsync(fourth, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 429 Too Many Requests", refused);
        Assert.Contains("error=connection_limit_reached", refused);
        Assert.Contains("Retry-After: 1", refused);

        using System.Net.Sockets.Socket other = await SocketFromAsync(proxy, IPAddress.Parse("127.0.0.8"));
        Assert.StartsWith("HTTP/1.1 400", await FirstLineAsync(other, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")); // served (origin-form is a 400)
        held.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task The_connection_over_the_total_limit_gets_503()
    {
        await using TestProxy proxy = await StartAsync(l => l with { MaxConnections = 2 });
        using System.Net.Sockets.Socket a = await SocketFromAsync(proxy, IPAddress.Parse("127.0.0.9"));
        using System.Net.Sockets.Socket b = await SocketFromAsync(proxy, IPAddress.Parse("127.0.0.10"));
        await Task.Delay(200); // both accepted and counted
        using System.Net.Sockets.Socket c = await SocketFromAsync(proxy, IPAddress.Parse("127.0.0.11"));
        string refused = await FirstLineAsync(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 503 Service Unavailable", refused);
        Assert.Contains("error=connection_limit_reached", refused);
    }

    [Fact]
    public async Task Tunnels_per_client_and_request_rate_are_limited_with_429()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await StartAsync(l => l with { MaxTunnelsPerClient = 1, RequestsPerSecondPerClient = 1, RequestBurstPerClient = 3 });
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);

        using RawClient first = await RawClient.ConnectAsync(proxy.Endpoint);
        await first.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await first.ReadHeadAsync());
        using RawClient second = await RawClient.ConnectAsync(proxy.Endpoint);
        await second.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        string head = await second.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 429", head);
        Assert.Contains("error=connection_limit_reached", head);
        Assert.Contains("tunnels open, its limit", Encoding.ASCII.GetString(await second.ReadToEndAsync()));

        // Rate: a burst of 3 allowed (one used by each CONNECT above), then 429 with Retry-After.
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        string status = "";
        for (int i = 0; i < 3 && !status.StartsWith("HTTP/1.1 429", StringComparison.Ordinal); i++)
        {
            await client.SendAsync("GET http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\n\r\n");
            status = await client.ReadHeadAsync();
            if (!status.StartsWith("HTTP/1.1 429", StringComparison.Ordinal))
            {
                await client.ReadExactlyAsync(int.Parse(status.Split("Content-Length: ")[1].Split("\r\n")[0], System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        Assert.StartsWith("HTTP/1.1 429", status);
        Assert.Contains("Retry-After: ", status);
        Assert.Contains("error=connection_limit_reached", status);
    }
}
