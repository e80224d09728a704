using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>The access-log lines users' tooling reads: Squid's native shape for each kind of exchange, and JSON lines.</summary>
public sealed class AccessLogTests : IAsyncLifetime
{
    private const string Established = "HTTP/1.1 200 Connection established\r\n\r\n";

    private TestOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await TestOrigin.StartAsync();

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task Forwarded_get_has_the_squid_shape_and_counts_the_bytes_the_client_received()
    {
        await using TestProxy proxy = await StartProxyAsync();
        string request = $"GET http://origin.test:{_origin.Port}/hello HTTP/1.1\r\nHost: origin.test:{_origin.Port}\r\nConnection: close\r\n\r\n";
        byte[] response = await SendAndReadResponseAsync(proxy, request);
        Assert.StartsWith("HTTP/1.1 200 ", Encoding.Latin1.GetString(response));

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("/hello"), "for GET /hello");
        Match m = Regex.Match(line, $@"^(\d+)\.\d{{3}} +\d+ 127\.0\.0\.1 TCP_MISS/200 (\d+) GET http://origin\.test:{_origin.Port}/hello - HIER_DIRECT/127\.0\.0\.1 text/plain$");
        Assert.True(m.Success, $"not the Squid shape for a forwarded GET: {line}");
        AssertUnixSecondsNearNow(m.Groups[1].Value);
        Assert.Equal(response.Length, long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Tunnel_is_logged_once_it_ends_with_the_relayed_bytes_counted()
    {
        await using TestProxy proxy = await StartProxyAsync();
        await using RawOrigin echo = RawOrigin.Echo();
        string authority = $"origin.test:{echo.Port}";
        byte[] payload = new byte[100_000];
        TestData.Fill(payload, 9);

        using (RawClient client = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
            Assert.Equal(Established, await client.ReadHeadAsync());
            await client.SendAsync(payload);
            byte[] echoed = await ConnectTunnelTests.WithTimeout(client.ReadExactlyAsync(payload.Length, timeoutMs: 60_000), "the payload did not come back through the tunnel");
            Assert.True(payload.AsSpan().SequenceEqual(echoed), "the echo through the tunnel differs");

            // The tunnel is still open: its line is written when it ends, with the final byte counts.
            await Task.Delay(300);
            Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains(" CONNECT "));

            client.ShutdownSend();
            Assert.Empty(await client.ReadToEndAsync());
        }

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for the CONNECT tunnel after it ended");
        Match m = Regex.Match(line, $@"^\d+\.\d{{3}} +\d+ 127\.0\.0\.1 TCP_TUNNEL/200 (\d+) CONNECT origin\.test:{echo.Port} - HIER_DIRECT/127\.0\.0\.1 -$");
        Assert.True(m.Success, $"not the Squid shape for a tunnel: {line}");
        Assert.Equal(Established.Length + payload.Length, long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Refused_request_is_tcp_denied_403_with_no_hierarchy()
    {
        await using TestProxy strict = await StartProxyAsync(c => c with { Addresses = new AddressesConfig() });
        string target = $"http://127.0.0.1:{_origin.Port}/hello";
        byte[] response = await SendAndReadResponseAsync(strict, $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403 ", Encoding.Latin1.GetString(response));

        await using RawOrigin unreachable = RawOrigin.Echo();
        using (RawClient client = await RawClient.ConnectAsync(strict.Endpoint))
        {
            await client.SendAsync($"CONNECT 127.0.0.1:{unreachable.Port} HTTP/1.1\r\nHost: 127.0.0.1:{unreachable.Port}\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 403 ", await client.ReadHeadAsync());
        }

        string get = await strict.AccessLog.WaitForAsync(l => l.Contains(" GET "), "for the refused GET");
        Match m = Regex.Match(get, $@"^\d+\.\d{{3}} +\d+ 127\.0\.0\.1 TCP_DENIED/403 (\d+) GET http://127\.0\.0\.1:{_origin.Port}/hello - HIER_NONE/- text/plain$");
        Assert.True(m.Success, $"not the Squid shape for a refused GET: {get}");
        Assert.Equal(response.Length, long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));

        string connect = await strict.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for the refused CONNECT");
        Assert.Matches($@"^\d+\.\d{{3}} +\d+ 127\.0\.0\.1 TCP_DENIED/403 \d+ CONNECT 127\.0\.0\.1:{unreachable.Port} - HIER_NONE/- text/plain$", connect);
        Assert.Equal(0, _origin.Connections);
    }

    [Fact]
    public async Task Json_lines_carry_the_facts_and_the_proxy_status_of_a_failure()
    {
        await using TestProxy proxy = await StartProxyAsync(format: AccessLogFormat.Json);
        string request = $"GET http://origin.test:{_origin.Port}/hello HTTP/1.1\r\nHost: origin.test:{_origin.Port}\r\nConnection: close\r\n\r\n";
        byte[] response = await SendAndReadResponseAsync(proxy, request);
        byte[] failed = await SendAndReadResponseAsync(proxy, "GET http://nowhere.test/x HTTP/1.1\r\nHost: nowhere.test\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 502 ", Encoding.Latin1.GetString(failed));

        using (JsonDocument ok = JsonDocument.Parse(await proxy.AccessLog.WaitForAsync(l => l.Contains("/hello"), "for GET /hello")))
        {
            JsonElement e = ok.RootElement;
            Assert.Equal("127.0.0.1", e.GetProperty("client").GetString());
            Assert.Equal("TCP_MISS", e.GetProperty("code").GetString());
            Assert.Equal(200, e.GetProperty("status").GetInt32());
            Assert.Equal("GET", e.GetProperty("method").GetString());
            Assert.Equal($"http://origin.test:{_origin.Port}/hello", e.GetProperty("url").GetString());
            Assert.Equal(response.Length, e.GetProperty("bytesToClient").GetInt64());
            Assert.Equal(Encoding.ASCII.GetByteCount(request), e.GetProperty("bytesFromClient").GetInt64());
            Assert.Equal("127.0.0.1", e.GetProperty("peer").GetString());
            Assert.Equal("text/plain", e.GetProperty("contentType").GetString());
            Assert.False(e.TryGetProperty("proxyStatus", out _), "a successful exchange has no Proxy-Status error");
            Assert.True(DateTimeOffset.TryParse(e.GetProperty("time").GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out _), "time is not a timestamp");
        }

        using (JsonDocument bad = JsonDocument.Parse(await proxy.AccessLog.WaitForAsync(l => l.Contains("nowhere.test"), "for the failed GET")))
        {
            JsonElement e = bad.RootElement;
            Assert.Equal("127.0.0.1", e.GetProperty("client").GetString());
            Assert.Equal(502, e.GetProperty("status").GetInt32());
            Assert.Equal("GET", e.GetProperty("method").GetString());
            Assert.Equal("http://nowhere.test/x", e.GetProperty("url").GetString());
            Assert.Equal(failed.Length, e.GetProperty("bytesToClient").GetInt64());
            Assert.True(e.GetProperty("bytesFromClient").GetInt64() > 0, "bytesFromClient should count the request head");
            Assert.Equal("dns_error", e.GetProperty("proxyStatus").GetString());
            Assert.False(e.TryGetProperty("peer", out _), "no peer was connected to");
        }
    }

    [Fact]
    public async Task Json_tunnel_line_counts_both_directions()
    {
        await using TestProxy proxy = await StartProxyAsync(format: AccessLogFormat.Json);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            byte[] buffer = new byte[64 * 1024];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }

            byte[] reply = new byte[5_000];
            await stream.WriteAsync(reply);
            socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        });
        string head = $"CONNECT origin.test:{origin.Port} HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\n\r\n";

        using (RawClient client = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await client.SendAsync(head);
            Assert.Equal(Established, await client.ReadHeadAsync());
            await client.SendAsync(new byte[12_345]);
            client.ShutdownSend();
            Assert.Equal(5_000, (await client.ReadToEndAsync()).Length);
        }

        using JsonDocument doc = JsonDocument.Parse(await proxy.AccessLog.WaitForAsync(l => l.Contains("CONNECT"), "for the tunnel"));
        JsonElement e = doc.RootElement;
        Assert.Equal("TCP_TUNNEL", e.GetProperty("code").GetString());
        Assert.Equal(200, e.GetProperty("status").GetInt32());
        Assert.Equal("CONNECT", e.GetProperty("method").GetString());
        Assert.Equal($"origin.test:{origin.Port}", e.GetProperty("url").GetString());
        Assert.Equal(Established.Length + 5_000, e.GetProperty("bytesToClient").GetInt64());
        Assert.Equal(head.Length + 12_345, e.GetProperty("bytesFromClient").GetInt64());
        Assert.False(e.TryGetProperty("proxyStatus", out _), "a tunnel that ended cleanly has no Proxy-Status error");
    }

    [Fact]
    public async Task An_access_log_file_that_cannot_be_opened_refuses_to_start_as_the_operators_to_fix_with_nothing_left_bound()
    {
        string folder = Directory.CreateTempSubdirectory("sluice-log-").FullName;
        try
        {
            int port;
            using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }

            string path = Path.Combine(folder, "missing", "access.log");
            var server = new ProxyServer(new SluiceConfig
            {
                Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, port) }],
                Log = new LogConfig { Access = path },
                Admin = null,
            });
            StartupException error = await Assert.ThrowsAsync<StartupException>(server.StartAsync);
            Assert.Equal(StartupFailure.AccessLog, error.Kind);
            Assert.StartsWith($"cannot open the access log {path}: ", error.Message);

            // Refused before anything was bound: the port is free again without disposing the server.
            using var again = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
            again.Start();
            await server.DisposeAsync();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<TestProxy> StartProxyAsync(Func<SluiceConfig, SluiceConfig>? configure = null, AccessLogFormat format = AccessLogFormat.Squid)
    {
        TestProxy proxy = await TestProxy.StartAsync(configure, format: format);
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        return proxy;
    }

    /// <summary>Sends one request on a new connection and returns the whole response: head plus Content-Length body.</summary>
    private static async Task<byte[]> SendAndReadResponseAsync(TestProxy proxy, string request)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(request);
        string head = await client.ReadHeadAsync();
        Match length = Regex.Match(head, @"\r\nContent-Length: (\d+)\r\n", RegexOptions.IgnoreCase);
        Assert.True(length.Success, $"the test expects a Content-Length response, got: {head}");
        byte[] body = await client.ReadExactlyAsync(int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture));
        return [.. Encoding.Latin1.GetBytes(head), .. body];
    }

    private static void AssertUnixSecondsNearNow(string seconds)
    {
        var logged = DateTimeOffset.FromUnixTimeSeconds(long.Parse(seconds, CultureInfo.InvariantCulture));
        Assert.True((logged - DateTimeOffset.UtcNow).Duration() < TimeSpan.FromHours(1), $"the time field {seconds} is not Unix seconds of today");
    }
}
