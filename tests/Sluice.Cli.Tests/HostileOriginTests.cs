using System.Net;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// Faults found against the released executable, replayed against it: the real <c>sluice run</c> with a config
/// file, a hostile origin on 127.0.0.1, raw sockets for the client.
/// </summary>
public sealed class HostileOriginTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-hostile-").FullName;
    private SluiceProcess _sluice = null!;
    private int _proxyPort;
    private int _adminPort;


    public async Task InitializeAsync()
    {
        _proxyPort = Ports.Free();
        _adminPort = Ports.Free();
        string config = Path.Combine(_dir, "sluice.yaml");
        // Origins live on loopback; the proxy's own endpoints there stay refused all the same.
        await File.WriteAllLinesAsync(config, LoopbackConfig.Lines(_proxyPort, _adminPort, "127.0.0.0/8", "default: allow"));
        _sluice = SluiceProcess.Start("run", "--config", config);
        await _sluice.WaitForStderrAsync(l => l.StartsWith("admin on http://127.0.0.1:", StringComparison.Ordinal), "the admin line");
    }

    public Task DisposeAsync()
    {
        _sluice.Dispose();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private async Task<Outcome> SendAsync(string request, string method = "GET")
    {
        using RawClient client = await RawClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _proxyPort));
        await client.SendAsync(request);
        return await Outcome.ReadAsync(client.Stream, method);
    }

    [Fact]
    public async Task The_admin_endpoint_is_never_a_destination_even_inside_addresses_allow()
    {
        Outcome o = await SendAsync($"GET http://127.0.0.1:{_adminPort}/metrics HTTP/1.1\r\nHost: 127.0.0.1:{_adminPort}\r\n\r\n");
        Assert.True(o.Status == 403 && o.Body.Contains("admin endpoint", StringComparison.Ordinal), $"/metrics through the proxy: {o}");

        Outcome tunnel = await SendAsync($"CONNECT 127.0.0.1:{_adminPort} HTTP/1.1\r\nHost: 127.0.0.1:{_adminPort}\r\n\r\n", "CONNECT");
        Assert.True(tunnel.Status == 403, $"a tunnel to the admin endpoint: {tunnel}");

        Outcome self = await SendAsync($"GET http://127.0.0.1:{_proxyPort}/ HTTP/1.1\r\nHost: 127.0.0.1:{_proxyPort}\r\n\r\n");
        Assert.True(self.Status == 403 && self.Body.Contains("own listener", StringComparison.Ordinal), $"the proxy's own listener: {self}");
    }

    [Fact]
    public async Task An_origin_that_never_stops_sending_1xx_gets_a_502_after_16()
    {
        await using var origin = new HostileOrigin(string.Concat(Enumerable.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 5000)) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        Outcome o = await SendAsync($"GET http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n\r\n");
        Assert.True(o.Status == 502 && o.Interim.Count == 16, $"expected 16 relayed 102s, then 502: {o.Interim.Count} interim, {o}");
    }

    [Fact]
    public async Task A_chunk_size_line_over_the_limit_is_refused_even_when_it_arrives_in_one_piece()
    {
        await using var origin = new HostileOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        string extension = new('e', 5000);
        Outcome o = await SendAsync($"POST http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\nTransfer-Encoding: chunked\r\n\r\n5;{extension}\r\nhello\r\n0\r\n\r\n", "POST");
        Assert.True(o.Status == 400 && origin.Requests == 0, $"a 5,000-byte chunk extension: {o}");
    }

    [Fact]
    public async Task Late_bytes_after_a_complete_response_close_the_idle_upstream_connection()
    {
        await using var origin = new HostileOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + HostileOrigin.Pause + "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned", TimeSpan.FromMilliseconds(20));
        string request = $"GET http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n\r\n";
        Assert.Equal("ok", (await SendAsync(request)).Body);

        Task closed = origin.FirstConnectionClosed.Task;
        Assert.True(await Task.WhenAny(closed, Task.Delay(TimeSpan.FromSeconds(4))) == closed, "the proxy kept an upstream connection that had received bytes no request asked for");
        Assert.Equal(HostileOrigin.FreshBody, (await SendAsync(request)).Body);
    }
}
