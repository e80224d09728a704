using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// The policy and the address guard as clients see them. Every destination here is loopback, in disguise or not:
/// a guard with a bug must never make a test connect anywhere else.
/// </summary>
public sealed class PolicyTests
{
    private static SluiceConfig WithRules(SluiceConfig config, string yaml) =>
        ConfigLoader.Parse(yaml, "test.yaml") is var parsed
            ? config with { Rules = parsed.Rules, Default = parsed.Default, Addresses = parsed.Addresses.Allow.IsEmpty ? config.Addresses : parsed.Addresses }
            : config;

    private const string AllowlistYaml = """
        rules:
          - name: no-internal
            action: deny
            destinations: [".internal.test"]
          - name: vendor
            action: allow
            destinations: ["api.vendor.test", ".cdn.vendor.test"]
        default: deny
        """;

    [Fact]
    public async Task A_denied_get_and_connect_get_403_naming_the_rule_and_no_upstream_connection_is_made()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithRules(c, AllowlistYaml));
        proxy.Resolver.Map("db.internal.test", IPAddress.Loopback).Map("api.vendor.test", IPAddress.Loopback);

        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        using (HttpResponseMessage denied = await http.GetAsync($"http://db.internal.test:{origin.Port}/hello"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            string status = denied.Headers.GetValues("Proxy-Status").Single();
            Assert.StartsWith($"{TestProxy.Name}; error=http_request_denied; details=\"rule no-internal denies GET db.internal.test:", status);
            Assert.Contains("rule no-internal", await denied.Content.ReadAsStringAsync());
        }

        using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
        await raw.SendAsync($"CONNECT other.test:{origin.Port} HTTP/1.1\r\nHost: other.test\r\n\r\n");
        string head = await raw.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 403 Forbidden", head);
        Assert.Contains("error=http_request_denied", head);
        Assert.Contains("the default is deny", head);

        Assert.Equal(0, origin.Connections);
        Assert.Equal(0, proxy.Resolver.Lookups); // refused before resolving, let alone connecting
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_DENIED/403") && l.Contains("CONNECT other.test:"), "for the denied CONNECT");

        using HttpResponseMessage allowed = await http.GetAsync($"http://api.vendor.test:{origin.Port}/hello");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task A_raw_ip_connect_does_not_pass_a_domain_allowlist()
    {
        await using RawOrigin origin = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithRules(c, AllowlistYaml));
        using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
        await raw.SendAsync($"CONNECT 127.0.0.1:{origin.Port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        string head = await raw.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 403", head);
        Assert.Contains("error=http_request_denied", head);
    }

    [Fact]
    public async Task A_name_resolving_to_loopback_is_refused_by_default_and_allowed_by_addresses_allow()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using (TestProxy strict = await TestProxy.StartAsync(c => c with { Addresses = new AddressesConfig() }))
        {
            strict.Resolver.Map("sneaky.test", IPAddress.Loopback);
            using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(strict.Uri) });
            using HttpResponseMessage response = await http.GetAsync($"http://sneaky.test:{origin.Port}/hello");
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.StartsWith($"{TestProxy.Name}; error=destination_ip_prohibited", response.Headers.GetValues("Proxy-Status").Single());
            Assert.Contains("127.0.0.1 is loopback (127.0.0.0/8)", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(0, origin.Connections);
        await using TestProxy open = await TestProxy.StartAsync(c => c with { Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.1/32")] } });
        open.Resolver.Map("sneaky.test", IPAddress.Loopback);
        using var client = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(open.Uri) });
        Assert.Equal("hello from origin", await client.GetStringAsync($"http://sneaky.test:{origin.Port}/hello"));
    }

    [Theory]
    [InlineData("127.0.0.2", "127.0.0.2 is loopback")]
    [InlineData("127.1", "127.0.0.1 is loopback")]
    [InlineData("2130706433", "127.0.0.1 is loopback")]
    [InlineData("0x7f.0.0.1", "127.0.0.1 is loopback")]
    [InlineData("017700000001", "127.0.0.1 is loopback")]
    [InlineData("[::ffff:127.0.0.1]", "127.0.0.1 is loopback")]
    [InlineData("[::1]", "::1 is loopback")]
    [InlineData("[::127.0.0.1]", "IPv4-compatible of 127.0.0.1")]
    [InlineData("[64:ff9b::7f00:1]", "NAT64 64:ff9b::/96 of 127.0.0.1")]
    public async Task Loopback_in_disguise_is_refused_by_the_guard_without_a_lookup(string host, string detail)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Addresses = new AddressesConfig() });
        int port = Ports.Free();
        foreach (string request in new[] { $"CONNECT {host}:{port} HTTP/1.1\r\nHost: x\r\n\r\n", $"GET http://{host}:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n" })
        {
            using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
            await raw.SendAsync(request);
            string head = await raw.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 403", head);
            Assert.Contains("error=destination_ip_prohibited", head);
            Assert.Contains(detail, head);
        }

        Assert.Equal(0, proxy.Resolver.Lookups);
    }

    [Fact]
    public async Task Ports_methods_and_client_ranges_in_rules_apply()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        string yaml = $"""
            rules:
              - name: get-only
                action: allow
                destinations: ["origin.test"]
                ports: [{origin.Port}]
                methods: [GET]
                clients: ["127.0.0.0/8"]
            default: deny
            """;
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithRules(c, yaml));
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        using var http = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) });
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync($"http://origin.test:{origin.Port}/echo", new StringContent("x"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://origin.test:{Ports.Free()}/hello")).StatusCode);
    }
}
