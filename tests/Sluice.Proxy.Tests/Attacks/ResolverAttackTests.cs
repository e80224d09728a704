using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Resolution;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// Hostile names against the resolver the configuration builds: odd hosts files, names that map to addresses the guard
/// refuses (directly, through CNAME chains, or after rebinding), a name server that never answers, every address refusing.
/// Only loopback: dnsmasq on 127.0.0.1, origins on 127.0.0.1.
/// </summary>
public sealed class ResolverAttackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-attack-dns-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Func<SluiceConfig, SluiceConfig> With(ResolverConfig resolver) => c => c with
    {
        Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")] },
        Resolver = resolver,
    };

    private static async Task<string> TunnelAsync(TestProxy proxy, string authority, int timeoutMs = 10_000)
    {
        using RawClient tunnel = await RawClient.ConnectAsync(proxy.Endpoint);
        await tunnel.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        return await tunnel.ReadHeadAsync(timeoutMs);
    }

    private static async Task<string> GetAsync(TestProxy proxy, string url, int timeoutMs = 10_000)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        Uri uri = new(url);
        await client.SendAsync($"GET {url} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n\r\n");
        return await client.ReadHeadAsync(timeoutMs);
    }

    /// <summary>A UDP "name server" on loopback that reads every query and never answers.</summary>
    private static Socket Silent()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    [Fact]
    public async Task An_odd_hosts_file_is_read_as_glibc_does_and_a_name_it_maps_to_a_private_address_is_still_refused()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using Socket silent = Silent();
        string hosts = Path.Combine(_dir, "hosts");
        File.WriteAllLines(hosts,
        [
            "# a comment line",
            "   ",
            "127.0.0.1\tgood.test   # trailing comment evil.test",
            "10.1.2.3 private.test ALIAS.TEST.",
            "fe80::1%lo zoned.test",
            "not-an-address named.test",
            "127.0.0.1",
            $"127.0.0.1 {new string('a', 300)}.test",
            "127.0.0.1 #commented.test",
            "169.254.169.254 metadata.test",
            "::ffff:10.1.2.3 mapped.test",
        ]);
        await using TestProxy proxy = await TestProxy.StartAsync(
            With(new ResolverConfig { Servers = ImmutableArray.Create((IPEndPoint)silent.LocalEndPoint!), HostsFile = hosts, Timeout = TimeSpan.FromSeconds(1), Attempts = 1 }),
            resolverFromConfig: true);

        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, $"good.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, $"GOOD.test.:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await TunnelAsync(proxy, $"private.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await TunnelAsync(proxy, $"alias.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await TunnelAsync(proxy, $"metadata.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await TunnelAsync(proxy, $"mapped.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await GetAsync(proxy, $"http://private.test:{origin.Port}/"));

        // What the file does not give is asked of the (silent) server: no answer is a 5xx, never the origin.
        Assert.StartsWith("HTTP/1.1 5", await TunnelAsync(proxy, $"evil.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 5", await TunnelAsync(proxy, $"named.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 5", await TunnelAsync(proxy, $"commented.test:{origin.Port}"));
    }

    [Fact]
    public async Task A_lookup_that_never_gets_an_answer_does_not_hold_up_another_clients_request()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using Socket silent = Silent();
        string hosts = Path.Combine(_dir, "hosts");
        File.WriteAllLines(hosts, ["127.0.0.1 good.test"]);
        await using TestProxy proxy = await TestProxy.StartAsync(
            With(new ResolverConfig { Servers = ImmutableArray.Create((IPEndPoint)silent.LocalEndPoint!), HostsFile = hosts, Timeout = TimeSpan.FromSeconds(30), Attempts = 1 }),
            resolverFromConfig: true);

        // Several clients stuck on names the server never answers, one per socket thread and more.
        Task<string>[] stuck = [.. Enumerable.Range(0, 8).Select(i => GetAsync(proxy, $"http://slow{i}.test/", timeoutMs: 60_000))];
        await Task.Delay(200);

        for (int i = 0; i < 5; i++)
        {
            Assert.StartsWith("HTTP/1.1 200", await GetAsync(proxy, $"http://good.test:{origin.Port}/hello", timeoutMs: 10_000));
        }

        Assert.DoesNotContain(stuck, t => t.IsCompleted);
    }

    [Fact]
    public async Task A_cname_chain_to_a_private_address_is_refused_and_one_to_loopback_is_followed()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using Dnsmasq dns = Dnsmasq.Start(_dir,
            "--host-record=origin.test,127.0.0.1,300",
            "--host-record=inside.test,10.9.8.7,300",
            "--cname=c1.test,c2.test", "--cname=c2.test,c3.test", "--cname=c3.test,c4.test", "--cname=c4.test,origin.test",
            "--cname=evil.test,hop.test", "--cname=hop.test,inside.test");
        await using TestProxy proxy = await TestProxy.StartAsync(
            With(new ResolverConfig { Servers = ImmutableArray.Create(dns.Endpoint), HostsFile = null }), resolverFromConfig: true);

        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, $"c1.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await TunnelAsync(proxy, $"evil.test:{origin.Port}"));
        Assert.StartsWith("HTTP/1.1 403", await GetAsync(proxy, $"http://evil.test:{origin.Port}/"));
    }

    [Fact]
    public async Task A_name_rebound_to_a_private_address_after_its_ttl_is_checked_again_before_it_is_dialled()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        string zone = Path.Combine(_dir, "zone");
        File.WriteAllLines(zone, ["127.0.0.1 rebind.test"]);
        using Dnsmasq dns = Dnsmasq.Start(_dir, $"--addn-hosts={zone}", "--local-ttl=0");
        await using TestProxy proxy = await TestProxy.StartAsync(
            With(new ResolverConfig { Servers = ImmutableArray.Create(dns.Endpoint), HostsFile = null }), resolverFromConfig: true);

        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, $"rebind.test:{origin.Port}"));

        File.WriteAllLines(zone, ["10.1.2.3 rebind.test", "127.0.0.1 other.test"]);
        dns.Reload();
        Assert.StartsWith("HTTP/1.1 403", await TunnelAsync(proxy, $"rebind.test:{origin.Port}"));

        // And back: the refusal is not remembered past the answer it was about.
        File.WriteAllLines(zone, ["127.0.0.1 rebind.test"]);
        dns.Reload();
        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, $"rebind.test:{origin.Port}"));
    }

    [Fact]
    public async Task Happy_eyeballs_over_many_addresses_that_all_refuse_is_one_502_and_the_proxy_carries_on()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        int closed = Ports.Free();
        string hosts = Path.Combine(_dir, "hosts");
        File.WriteAllLines(hosts,
        [
            .. Enumerable.Range(2, 40).Select(i => $"127.0.0.{i} many.test"),
            "::1 many.test",
            "127.0.0.1 good.test",
        ]);
        using Socket silent = Silent();
        await using TestProxy proxy = await TestProxy.StartAsync(
            With(new ResolverConfig { Servers = ImmutableArray.Create((IPEndPoint)silent.LocalEndPoint!), HostsFile = hosts, Timeout = TimeSpan.FromSeconds(1), Attempts = 1 }),
            resolverFromConfig: true);

        string head = await TunnelAsync(proxy, $"many.test:{closed}", timeoutMs: 30_000);
        Assert.StartsWith("HTTP/1.1 502", head);
        Assert.StartsWith("HTTP/1.1 200", await TunnelAsync(proxy, $"good.test:{origin.Port}"));
    }

    [Fact]
    public async Task Reloads_that_change_resolver_while_tunnels_open_lose_no_request()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using Dnsmasq dns = Dnsmasq.Start(_dir, "--host-record=origin.test,127.0.0.1,300");
        string hosts = Path.Combine(_dir, "hosts");
        File.WriteAllLines(hosts, ["127.0.0.1 origin.test"]);
        ResolverConfig viaDns = new() { Servers = ImmutableArray.Create(dns.Endpoint), HostsFile = null };
        ResolverConfig viaHosts = new() { Servers = ImmutableArray.Create(dns.Endpoint), HostsFile = hosts, Cache = new ResolverCacheConfig { MaxEntries = 7 } };
        await using TestProxy proxy = await TestProxy.StartAsync(With(viaDns), resolverFromConfig: true);

        using var stop = new CancellationTokenSource();
        Task storm = Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested && i < 40; i++)
            {
                proxy.Server.Reload(With(i % 2 == 0 ? viaHosts : viaDns)(proxy.Server.CurrentConfig));
                await Task.Delay(20);
            }
        });

        var heads = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            heads.Add(await TunnelAsync(proxy, $"origin.test:{origin.Port}"));
        }

        await stop.CancelAsync();
        await storm;
        Assert.All(heads, h => Assert.StartsWith("HTTP/1.1 200", h));
    }

    [Fact] // was a bug: the hosts file was read synchronously, under a lock, on the request's (socket) thread
    public async Task A_hosts_file_that_cannot_be_read_yet_does_not_hold_up_other_clients_lookups()
    {
        // A FIFO stands in for a hosts file on a hung network mount: opening it blocks until a writer comes.
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using Dnsmasq dns = Dnsmasq.Start(_dir, "--host-record=good.test,127.0.0.1,300");
        string fifo = Path.Combine(_dir, "hosts.fifo");
        using (var make = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await make.WaitForExitAsync();
        }

        await using TestProxy proxy = await TestProxy.StartAsync(
            With(new ResolverConfig { Servers = ImmutableArray.Create(dns.Endpoint), HostsFile = fifo }), resolverFromConfig: true);
        try
        {
            using RawClient first = await RawClient.ConnectAsync(proxy.Endpoint);
            await first.SendAsync($"GET http://first.test:{origin.Port}/ HTTP/1.1\r\nHost: first.test\r\n\r\n");
            await Task.Delay(1500); // past the hosts file's once-a-second check

            // Other clients, other names, other connections: they must not wait behind the first one's file read.
            Task<string>[] others = [.. Enumerable.Range(0, 4).Select(_ => TunnelAsync(proxy, $"good.test:{origin.Port}", timeoutMs: 10_000))];
            foreach (Task<string> other in others)
            {
                Exception? stalled = await Record.ExceptionAsync(async () => Assert.StartsWith("HTTP/1.1 200", await other));
                Assert.Null(stalled);
            }
        }
        finally
        {
            // Release the reader (bounded: no reader, no wait), so the proxy can stop.
            using var release = System.Diagnostics.Process.Start("timeout", ["5", "sh", "-c", $"echo '127.0.0.1 good.test' > '{fifo}'"]);
            await release.WaitForExitAsync();
        }
    }
}
