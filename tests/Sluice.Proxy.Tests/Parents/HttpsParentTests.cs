using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// A second in-process Sluice with a TLS listener as an https:// parent: forwarding, CONNECT and WebSocket through
/// it with the test CA as the upstream's <c>ca:</c>; without it (the system roots) and with a certificate for another
/// name, a 502 <c>tls_certificate_error</c> naming the parent.
/// </summary>
public sealed class HttpsParentTests : IAsyncLifetime
{
    private readonly TestPki _pki = new("Sluice Parent Test CA");
    private TestOrigin _origin = null!;
    private TestProxy _parent = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        (string certificate, string key, _) = _pki.Server("parent"); // for localhost, 127.0.0.1 and ::1
        _parent = await TestProxy.StartAsync(c => c with
        {
            Name = "parent-sluice", // not the child's name: each finds only itself in Via
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = certificate, Key = key } }],
        });
        _parent.Resolver.Map("origin.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback).Map("ws.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync()
    {
        await _parent.DisposeAsync();
        await _origin.DisposeAsync();
        _pki.Dispose();
    }

    private async Task<TestProxy> ChildAsync(string host, bool withCa)
    {
        TestProxy child = await ParentKit.ChildAsync(Corp([$"https://{host}:{_parent.Endpoint.Port}"], more: withCa ? $"ca: {_pki.CaPath}" : null));
        child.Resolver.Map(host, IPAddress.Loopback);
        return child;
    }

    [Fact]
    public async Task Get_connect_and_websocket_go_through_an_https_parent_trusted_by_its_ca()
    {
        await using TestOrigin secure = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        await using TestProxy child = await ChildAsync("localhost", withCa: true);
        using (HttpClient client = Client(child, secure.Certificate))
        {
            using HttpResponseMessage response = await client.GetAsync($"http://origin.test:{_origin.Port}/hello?tls-parent");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
            Assert.Contains("parent-sluice", string.Join(", ", response.Headers.Via));
            Assert.Equal("hello from origin", await client.GetStringAsync($"https://secure.test:{secure.Port}/hello")); // TLS to the origin inside TLS to the parent
        }

        using (RawClient raw = await RawClient.ConnectAsync(child.Endpoint))
        {
            string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            await raw.SendAsync(
                $"GET http://ws.test:{_origin.Port}/ws HTTP/1.1\r\nHost: ws.test:{_origin.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 101 ", await raw.ReadHeadAsync(timeoutMs: 20_000));
            using WebSocket socket = WebSocket.CreateFromStream(raw.Stream, new WebSocketCreationOptions { IsServer = false });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await ConverseAsync(socket, timeout.Token);
        }

        string forwarded = await child.AccessLog.WaitForAsync(l => l.Contains("/hello?tls-parent"), "the child's line");
        Assert.Contains(" FIRSTUP_PARENT/localhost ", forwarded);
        await _parent.AccessLog.WaitForAsync(l => l.Contains("/hello?tls-parent") && l.Contains(" HIER_DIRECT/127.0.0.1 "), "the parent's line");
        await child.AccessLog.WaitForAsync(l => l.Contains($" CONNECT secure.test:{secure.Port} ") && l.Contains(" TCP_TUNNEL/200 ") && l.Contains(" FIRSTUP_PARENT/localhost "), "the child's tunnel line");
        await _parent.AccessLog.WaitForAsync(l => l.Contains($" CONNECT secure.test:{secure.Port} ") && l.Contains(" TCP_TUNNEL/200 "), "the parent's tunnel line");
        await child.AccessLog.WaitForAsync(l => l.Contains($" GET http://ws.test:{_origin.Port}/ws ") && l.Contains(" TCP_MISS/101 "), "the child's upgrade line", timeoutMs: 20_000);
    }

    [Fact]
    public async Task Without_the_ca_the_parents_certificate_is_refused_with_a_502_naming_it()
    {
        await using TestProxy child = await ChildAsync("localhost", withCa: false);
        using HttpClient client = Client(child);

        using HttpResponseMessage response = await client.GetAsync($"http://origin.test:{_origin.Port}/hello?untrusted");
        (string connect, RawClient? tunnel) = await ConnectAsync(child.Endpoint, $"origin.test:{_origin.Port}");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.StartsWith($"{TestProxy.Name}; error=tls_certificate_error; next-hop=\"localhost:{_parent.Endpoint.Port}\"", response.Headers.GetValues("Proxy-Status").Single());
        Assert.Null(tunnel);
        Assert.StartsWith("HTTP/1.1 502 ", connect);
        Assert.StartsWith($"{TestProxy.Name}; error=tls_certificate_error; next-hop=\"localhost:{_parent.Endpoint.Port}\"", Field(connect, "Proxy-Status"));
        Assert.DoesNotContain(_parent.AccessLog.Lines, l => l.Contains("untrusted"));
    }

    [Fact]
    public async Task A_parent_certificate_for_another_name_is_refused_with_a_502()
    {
        // parent.test is the parent's address here, but its certificate names localhost and the loopback addresses.
        await using TestProxy child = await ChildAsync("parent.test", withCa: true);
        using HttpClient client = Client(child);

        using HttpResponseMessage response = await client.GetAsync($"http://origin.test:{_origin.Port}/hello?misnamed");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        string status = response.Headers.GetValues("Proxy-Status").Single();
        Assert.StartsWith($"{TestProxy.Name}; error=tls_certificate_error; next-hop=\"parent.test:{_parent.Endpoint.Port}\"", status);
        Assert.Contains("TLS with parent proxy parent.test", await response.Content.ReadAsStringAsync());
        Assert.DoesNotContain(_parent.AccessLog.Lines, l => l.Contains("misnamed"));
    }

    [Fact]
    public async Task A_parent_marked_down_for_its_certificate_comes_back_once_a_reload_gives_the_ca()
    {
        await using TestProxy child = await ChildAsync("localhost", withCa: false);
        using HttpClient client = Client(child);
        string url = $"http://origin.test:{_origin.Port}/hello";
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage failed = await client.GetAsync($"{url}?untrusted-{i}");
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        }

        Assert.False(Assert.Single(child.Server.ParentStates).Up);

        // The fix is in the configuration: the parent's next probe must use it, not the trust it was marked down with.
        SluiceConfig fixedConfig = child.Server.CurrentConfig with { Upstreams = [child.Server.CurrentConfig.Upstreams[0] with { Ca = _pki.CaPath }] };
        child.Server.Reload(fixedConfig);

        await EventuallyAsync(() => Assert.Single(child.Server.ParentStates).Up, "the parent being probed up with the reloaded CA", TimeSpan.FromSeconds(20));
        Assert.Equal("hello from origin", await client.GetStringAsync($"{url}?trusted"));
    }
}
