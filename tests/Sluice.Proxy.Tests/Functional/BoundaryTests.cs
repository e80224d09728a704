using System.Net;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Sizes at the edges of the proxy's fast paths: bodies sent with their head (up to 16 KiB), one pooled buffer
/// (64 KiB less framing room), and the idle timeout of a tunnel that moves nothing.
/// </summary>
public sealed class BoundaryTests : IAsyncLifetime
{
    private TestOrigin _origin = null!;
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        _proxy = await TestProxy.StartAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(2) } });
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    public static TheoryData<int> Sizes => new() { 0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 65516, 65517, 65518, 65536, 65537, 3 * 65516 + 7 };

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Request_and_response_bodies_of_every_edge_size_arrive_byte_exact(int size)
    {
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(_proxy.Uri) });
        byte[] body = new byte[size];
        TestData.Fill(body, 0);
        using (HttpResponseMessage response = await http.PostAsync($"http://origin.test:{_origin.Port}/sha256", new ByteArrayContent(body)))
        {
            Assert.Equal($"{size} {TestData.Sha256(size)}", await response.Content.ReadAsStringAsync());
        }

        foreach (string query in new[] { "", "?chunked=1" })
        {
            byte[] received = await http.GetByteArrayAsync($"http://origin.test:{_origin.Port}/bytes/{size}{query}");
            Assert.Equal(body, received);
        }
    }

    [Fact]
    public async Task Several_small_requests_in_one_packet_are_answered_in_order()
    {
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        var pipelined = new StringBuilder();
        for (int i = 0; i < 3; i++)
        {
            pipelined.Append($"POST http://origin.test:{_origin.Port}/echo HTTP/1.1\r\nHost: origin.test\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nbody{i}");
        }

        await client.SendAsync(pipelined.ToString());
        for (int i = 0; i < 3; i++)
        {
            string head = await client.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 200", head);
            Assert.Contains("Transfer-Encoding: chunked", head); // the origin streams /echo
            string chunk = Encoding.ASCII.GetString(await client.ReadExactlyAsync("5\r\nbodyN\r\n0\r\n\r\n".Length));
            Assert.Equal($"5\r\nbody{i}\r\n0\r\n\r\n", chunk);
        }
    }

    [Fact]
    public async Task An_idle_tunnel_is_closed_when_the_idle_timeout_passes()
    {
        await using RawOrigin echo = RawOrigin.Echo();
        _proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        await client.SendAsync("ping");
        Assert.Equal("ping", Encoding.ASCII.GetString(await client.ReadExactlyAsync(4)));

        await client.ReadToEndAsync(timeoutMs: 30_000); // nothing more is sent: the proxy closes after the 2 s idle timeout
        await _proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("echo.test"), "for the tunnel ended by the idle timeout");
    }
}
