using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests;

/// <summary>
/// The parent-proxy fixtures themselves: real Squid and tinyproxy on loopback, driven through real sockets, so the
/// upstream-chaining tests can trust what they start.
/// </summary>
public sealed class ParentFixtureTests
{
    [Fact]
    public void Apr1_hash_matches_openssl_passwd_apr1()
    {
        // openssl passwd -apr1 -salt MKIh4IX9 secret
        Assert.Equal("$apr1$MKIh4IX9$0haKadAyQO/0oWAXgIFk3.", Htpasswd.Apr1("secret", "MKIh4IX9"));
        Assert.StartsWith("$apr1$", Htpasswd.Apr1("secret"));
    }

    [Fact]
    public async Task Squid_forwards_a_get_for_a_name_from_its_hosts_file()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidParent.StartAsync(hosts: new Dictionary<string, string> { ["origin.test"] = "127.0.0.1" }, name: "parent-a.test");
        using HttpClient client = Through(squid.Uri);

        using HttpResponseMessage response = await client.GetAsync($"http://origin.test:{origin.Port}/hello");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
        Assert.Contains("1.1 parent-a.test (squid/", string.Join(",", response.Headers.Via));
        string line = await squid.WaitForAccessLogAsync(l => l.Contains($"GET http://origin.test:{origin.Port}/hello", StringComparison.Ordinal));
        Assert.Contains("TCP_MISS/200", line);
        Assert.Contains("HIER_DIRECT/127.0.0.1", line);
        Assert.Single(squid.AccessLogLines()); // the fixture's start-up made no transaction of its own
    }

    [Fact]
    public async Task Squid_records_the_header_fields_it_received()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidParent.StartAsync(hosts: new Dictionary<string, string> { ["origin.test"] = "127.0.0.1" }, user: "alice", password: "s3cret");
        using RawClient client = await RawClient.ConnectAsync(squid.Endpoint);

        await client.SendAsync($"GET http://origin.test:{origin.Port}/hello HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\nProxy-Authorization: {squid.ProxyAuthorization}\r\nX-Probe: a b%c [d] \"e\"\\f\r\nConnection: close\r\n\r\n");
        string reply = Encoding.Latin1.GetString(await client.ReadToEndAsync());

        Assert.StartsWith("HTTP/1.1 200 ", reply);
        ParentRequest request = await squid.WaitForRequestAsync(r => r.Target == $"http://origin.test:{origin.Port}/hello");
        Assert.Equal("GET", request.Method);
        Assert.Equal("alice", request.User);
        Assert.Equal("a b%c [d] \"e\"\\f", request.Header("x-probe"));
        Assert.Equal(squid.ProxyAuthorization, request.Header("Proxy-Authorization"));
    }

    [Fact]
    public async Task Squid_tunnels_connect_to_loopback_on_any_port()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidParent.StartAsync();

        string reply = await TunnelGetAsync(squid.Endpoint, origin.Port, authorization: null);

        Assert.StartsWith("HTTP/1.1 200 ", reply);
        Assert.Contains("hello from origin", reply);
        string line = await squid.WaitForAccessLogAsync(l => l.Contains($"CONNECT 127.0.0.1:{origin.Port}", StringComparison.Ordinal));
        Assert.Contains("TCP_TUNNEL/200", line);
    }

    [Fact]
    public async Task Squid_with_auth_answers_407_without_credentials_and_serves_with_them()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidParent.StartAsync(hosts: new Dictionary<string, string> { ["origin.test"] = "127.0.0.1" }, user: "alice", password: "s3cret");
        string get = $"GET http://origin.test:{origin.Port}/hello HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\n";

        string none = await ExchangeAsync(squid.Endpoint, get + "Connection: close\r\n\r\n");
        string wrong = await ExchangeAsync(squid.Endpoint, get + $"Proxy-Authorization: {ParentProcess.BasicAuthorization(new NetworkCredential("alice", "nope"))}\r\nConnection: close\r\n\r\n");
        string right = await ExchangeAsync(squid.Endpoint, get + $"Proxy-Authorization: {squid.ProxyAuthorization}\r\nConnection: close\r\n\r\n");
        string connectNone = await ExchangeAsync(squid.Endpoint, $"CONNECT 127.0.0.1:{origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n\r\n");
        string tunnel = await TunnelGetAsync(squid.Endpoint, origin.Port, squid.ProxyAuthorization);

        Assert.StartsWith("HTTP/1.1 407 ", none);
        Assert.Contains("Proxy-Authenticate: Basic realm=\"squid-parent\"", none);
        Assert.StartsWith("HTTP/1.1 407 ", wrong);
        Assert.StartsWith("HTTP/1.1 200 ", right);
        Assert.Contains("hello from origin", right);
        Assert.StartsWith("HTTP/1.1 407 ", connectNone);
        Assert.StartsWith("HTTP/1.1 200 ", tunnel);
        Assert.Contains("hello from origin", tunnel);

        // And the way HttpClient does it: a 407 challenge, then the request again with the credentials.
        using HttpClient client = Through(squid.Uri, squid.Credentials);
        Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }

    [Fact]
    public async Task Squid_deny_answers_403_for_the_denied_destinations_only()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestOrigin other = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidParent.StartAsync(
            hosts: new Dictionary<string, string> { ["origin.test"] = "127.0.0.1", ["blocked.test"] = "127.0.0.1" },
            deny: ["blocked.test", $"127.0.0.1:{other.Port}"]);

        string blocked = await ExchangeAsync(squid.Endpoint, $"GET http://blocked.test:{origin.Port}/hello HTTP/1.1\r\nHost: blocked.test:{origin.Port}\r\nConnection: close\r\n\r\n");
        string blockedConnect = await ExchangeAsync(squid.Endpoint, $"CONNECT 127.0.0.1:{other.Port} HTTP/1.1\r\nHost: 127.0.0.1:{other.Port}\r\n\r\n");
        string allowed = await ExchangeAsync(squid.Endpoint, $"GET http://origin.test:{origin.Port}/hello HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\nConnection: close\r\n\r\n");
        string allowedConnect = await TunnelGetAsync(squid.Endpoint, origin.Port, authorization: null);

        Assert.StartsWith("HTTP/1.1 403 ", blocked);
        Assert.Contains("X-Squid-Error: ERR_ACCESS_DENIED", blocked);
        Assert.StartsWith("HTTP/1.1 403 ", blockedConnect);
        Assert.StartsWith("HTTP/1.1 200 ", allowed);
        Assert.StartsWith("HTTP/1.1 200 ", allowedConnect);
        Assert.Equal(0, other.Connections);
    }

    [Fact]
    public async Task Squid_answers_503_to_a_connect_whose_destination_refuses()
    {
        await using SquidParent squid = await SquidParent.StartAsync();
        int closed = Ports.Free();

        string reply = await ExchangeAsync(squid.Endpoint, $"CONNECT 127.0.0.1:{closed} HTTP/1.1\r\nHost: 127.0.0.1:{closed}\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 503 ", reply);
        Assert.Contains("X-Squid-Error: ERR_CONNECT_FAIL 111", reply);
    }

    [Fact]
    public async Task Squid_stopped_refuses_connections_and_restarted_serves_again()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using SquidParent squid = await SquidParent.StartAsync(hosts: new Dictionary<string, string> { ["origin.test"] = "127.0.0.1" });
        string get = $"GET http://origin.test:{origin.Port}/hello HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\nConnection: close\r\n\r\n";
        Assert.StartsWith("HTTP/1.1 200 ", await ExchangeAsync(squid.Endpoint, get));

        await squid.StopAsync();

        Assert.False(squid.IsRunning);
        await AssertRefusedAsync(squid.Endpoint);

        await squid.RestartAsync();

        Assert.True(squid.IsRunning);
        Assert.StartsWith("HTTP/1.1 200 ", await ExchangeAsync(squid.Endpoint, get));
    }

    [Fact]
    public async Task Tinyproxy_forwards_a_get_to_an_ip_literal()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TinyproxyParent tinyproxy = await TinyproxyParent.StartAsync(name: "parent-b.test");
        using HttpClient client = Through(tinyproxy.Uri);

        using HttpResponseMessage response = await client.GetAsync($"http://127.0.0.1:{origin.Port}/hello");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
        Assert.Contains("1.1 parent-b.test (tinyproxy/", string.Join(",", response.Headers.Via));
        await tinyproxy.WaitForRequestLineAsync(l => l == $"GET http://127.0.0.1:{origin.Port}/hello HTTP/1.1");
        Assert.Single(tinyproxy.LogLines(), l => l.Contains("]: Connect (file descriptor", StringComparison.Ordinal)); // no start-up probe
    }

    [Fact]
    public async Task Tinyproxy_tunnels_connect_to_loopback_on_any_port()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TinyproxyParent tinyproxy = await TinyproxyParent.StartAsync();

        string reply = await TunnelGetAsync(tinyproxy.Endpoint, origin.Port, authorization: null);

        Assert.StartsWith("HTTP/1.0 200 ", reply);
        Assert.Contains("hello from origin", reply);
        await tinyproxy.WaitForRequestLineAsync(l => l == $"CONNECT 127.0.0.1:{origin.Port} HTTP/1.1");
    }

    [Fact]
    public async Task Tinyproxy_with_auth_answers_407_without_credentials_and_serves_with_them()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TinyproxyParent tinyproxy = await TinyproxyParent.StartAsync(user: "bob", password: "pa55");
        string get = $"GET http://127.0.0.1:{origin.Port}/hello HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\nConnection: close\r\n";

        string none = await ExchangeAsync(tinyproxy.Endpoint, get + "\r\n");
        string right = await ExchangeAsync(tinyproxy.Endpoint, get + $"Proxy-Authorization: {tinyproxy.ProxyAuthorization}\r\n\r\n");
        string tunnel = await TunnelGetAsync(tinyproxy.Endpoint, origin.Port, tinyproxy.ProxyAuthorization);

        Assert.StartsWith("HTTP/1.0 407 ", none);
        Assert.Contains("Proxy-Authenticate: Basic", none);
        Assert.Contains("hello from origin", right);
        Assert.Contains("hello from origin", tunnel);
    }

    [Fact]
    public async Task Tinyproxy_stopped_refuses_connections_and_restarted_serves_again()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TinyproxyParent tinyproxy = await TinyproxyParent.StartAsync();
        string get = $"GET http://127.0.0.1:{origin.Port}/hello HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\nConnection: close\r\n\r\n";
        Assert.Contains("hello from origin", await ExchangeAsync(tinyproxy.Endpoint, get));

        await tinyproxy.StopAsync();

        Assert.False(tinyproxy.IsRunning);
        await AssertRefusedAsync(tinyproxy.Endpoint);

        await tinyproxy.RestartAsync();

        Assert.Contains("hello from origin", await ExchangeAsync(tinyproxy.Endpoint, get));
    }

    /// <summary>An HttpClient that sends everything through <paramref name="proxy"/>, loopback destinations included (WebProxy would bypass them).</summary>
    private static HttpClient Through(Uri proxy, ICredentials? credentials = null) =>
        new(new SocketsHttpHandler { Proxy = new AlwaysProxy(proxy) { Credentials = credentials }, UseProxy = true }) { Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>Sends <paramref name="request"/> on a fresh connection and reads until the proxy closes it, or returns what came within the wait.</summary>
    private static async Task<string> ExchangeAsync(IPEndPoint proxy, string request)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy);
        await client.SendAsync(request);
        if (request.Contains("Connection: close", StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.Latin1.GetString(await client.ReadToEndAsync());
        }

        return await client.ReadHeadAsync();
    }

    /// <summary>CONNECT 127.0.0.1:port, then a plain GET /hello through the tunnel; returns the CONNECT reply head and all that followed.</summary>
    private static async Task<string> TunnelGetAsync(IPEndPoint proxy, int port, string? authorization)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy);
        string auth = authorization is null ? "" : $"Proxy-Authorization: {authorization}\r\n";
        await client.SendAsync($"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n");
        string head = await client.ReadHeadAsync();
        if (!head.Contains(" 200 ", StringComparison.Ordinal))
        {
            return head;
        }

        await client.SendAsync($"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        return head + Encoding.Latin1.GetString(await client.ReadToEndAsync());
    }

    private static async Task AssertRefusedAsync(IPEndPoint endpoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException refused = await Assert.ThrowsAsync<SocketException>(async () => await socket.ConnectAsync(endpoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    private sealed class AlwaysProxy(Uri proxy) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }

        public Uri GetProxy(Uri destination) => proxy;

        public bool IsBypassed(Uri host) => false;
    }
}
