using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Resolution;

/// <summary>
/// The real proxy with the resolver its configuration builds (no test resolver injected): a name dnsmasq knows reaches
/// the origin at 127.0.0.1, and a reload keeps the resolver's cache unless it changes <c>resolver:</c>.
/// </summary>
public sealed class ProxyResolutionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-proxy-dns-").FullName;
    private readonly Dnsmasq _dns;

    public ProxyResolutionTests() => _dns = Dnsmasq.Start(_dir, "--host-record=origin.test,127.0.0.1,300");

    public void Dispose()
    {
        _dns.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private SluiceConfig WithDns(SluiceConfig config, int maxEntries = 100) => config with
    {
        Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.0/8")] },
        Resolver = new ResolverConfig { Servers = ImmutableArray.Create(_dns.Endpoint), HostsFile = null, Cache = new ResolverCacheConfig { MaxEntries = maxEntries } },
    };

    [Fact]
    public async Task A_name_resolved_by_the_configured_servers_reaches_the_origin_and_reloads_keep_or_renew_the_cache()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithDns(c), resolverFromConfig: true);
        using var client = new HttpClient(new HttpClientHandler { Proxy = new WebProxy(proxy.Uri), UseProxy = true });

        Assert.Equal("hello from origin", await client.GetStringAsync(new Uri($"http://origin.test:{origin.Port}/hello")));
        Assert.Equal(1, _dns.Queries("origin.test", "A"));

        // Tunnels from here: each one dials (a forwarded request could reuse a pooled connection and resolve nothing).
        // The same resolver: section: the running resolver and its cache stay.
        proxy.Server.Reload(WithDns(proxy.Server.CurrentConfig with { Name = "sluice-reloaded" }));
        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, origin.Port));
        Assert.Equal(1, _dns.Queries("origin.test", "A"));

        // A changed one: a new resolver, whose empty cache asks again.
        proxy.Server.Reload(WithDns(proxy.Server.CurrentConfig, maxEntries: 200));
        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, origin.Port));
        Assert.Equal(2, _dns.Queries("origin.test", "A"));
    }

    private static async Task<string> TunnelAsync(TestProxy proxy, int port)
    {
        using RawClient tunnel = await RawClient.ConnectAsync(proxy.Endpoint);
        await tunnel.SendAsync($"CONNECT origin.test:{port} HTTP/1.1\r\nHost: origin.test:{port}\r\n\r\n");
        return await tunnel.ReadHeadAsync();
    }

    [Fact]
    public async Task A_name_the_servers_do_not_know_is_a_502_with_the_dns_error()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(c => WithDns(c), resolverFromConfig: true);
        using var client = new HttpClient(new HttpClientHandler { Proxy = new WebProxy(proxy.Uri), UseProxy = true });

        HttpResponseMessage response = await client.GetAsync(new Uri("http://missing.test/"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("dns_error", string.Join(",", response.Headers.GetValues("Proxy-Status")), StringComparison.Ordinal);
    }
}
