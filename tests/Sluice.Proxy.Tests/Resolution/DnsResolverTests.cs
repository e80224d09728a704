using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Config;
using Sluice.Proxy.Resolution;

namespace Sluice.Proxy.Tests.Resolution;

/// <summary>
/// The DNS-mode resolver against a real dnsmasq on loopback: what it answers, what it caches and for how long, what it
/// never caches, and how many queries reach the server (dnsmasq's query log). Outcomes only: no timing is asserted.
/// </summary>
public sealed class DnsResolverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-dns-").FullName;
    private readonly Dnsmasq _dns;

    public DnsResolverTests()
    {
        File.WriteAllText(AddnHosts, "127.0.0.10 ttl.test\n127.0.0.20 stale.test\n"
            + "127.0.0.31 mixed.test\n127.0.0.32 mixed.test\n::31 mixed.test\n::32 mixed.test\n");
        _dns = Dnsmasq.Start(_dir,
            "--local-ttl=1", // the --addn-hosts and --address records: TTL 1 s
            "--host-record=both.test,127.0.0.1,::1,300",
            "--host-record=v4.test,127.0.0.4,300",
            "--host-record=v6.test,::6,300",
            "--host-record=zero.test,127.0.0.7,0",
            "--host-record=hosted.test,127.0.0.1,300",
            "--address=/nx.test/",
            "--address=/lru.test/127.0.0.1",
            $"--addn-hosts={AddnHosts}");
    }

    public void Dispose()
    {
        _dns.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string AddnHosts => Path.Combine(_dir, "addn-hosts");

    private DnsResolver Resolver(Func<ResolverConfig, ResolverConfig>? configure = null, Events? events = null, params IPEndPoint[] servers)
    {
        var config = new ResolverConfig { HostsFile = null, Timeout = TimeSpan.FromSeconds(2), Attempts = 1 };
        config = configure?.Invoke(config) ?? config;
        return new DnsResolver(config, servers.Length == 0 ? [_dns.Endpoint] : servers, events);
    }

    [Fact]
    public async Task Both_families_are_asked_and_come_back_IPv6_first_then_interleaved()
    {
        DnsResolver resolver = Resolver();

        IPAddress[] mixed = await resolver.ResolveAsync("mixed.test", CancellationToken.None);
        IPAddress[] both = await resolver.ResolveAsync("both.test", CancellationToken.None);

        Assert.Equal([AddressFamily.InterNetworkV6, AddressFamily.InterNetwork, AddressFamily.InterNetworkV6, AddressFamily.InterNetwork], mixed.Select(a => a.AddressFamily));
        Assert.Equal(["::31", "::32"], mixed.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6).Select(a => a.ToString()).Order());
        Assert.Equal(["127.0.0.31", "127.0.0.32"], mixed.Where(a => a.AddressFamily == AddressFamily.InterNetwork).Select(a => a.ToString()).Order());
        Assert.Equal([IPAddress.IPv6Loopback, IPAddress.Loopback], both);
        Assert.Equal(1, _dns.Queries("both.test", "A"));
        Assert.Equal(1, _dns.Queries("both.test", "AAAA"));
    }

    [Theory]
    [InlineData("v4.test", "127.0.0.4")]
    [InlineData("v6.test", "::6")]
    [InlineData("V4.Test.", "127.0.0.4")] // normalised: case and the root dot
    public async Task A_name_with_one_family_is_an_answer(string name, string expected)
    {
        IPAddress[] addresses = await Resolver().ResolveAsync(name, CancellationToken.None);

        Assert.Equal([IPAddress.Parse(expected)], addresses);
    }

    [Fact]
    public async Task An_answer_is_served_from_the_cache_within_its_TTL()
    {
        var events = new Events();
        DnsResolver resolver = Resolver(events: events);

        await resolver.ResolveAsync("both.test", CancellationToken.None);
        await resolver.ResolveAsync("both.test", CancellationToken.None);
        await resolver.ResolveAsync("both.test", CancellationToken.None);

        Assert.Equal(2, _dns.Queries("both.test")); // one A, one AAAA
        Assert.Equal(["miss", "hit", "hit"], events.Results);
        Assert.Single(events.LookupTimes); // only the real lookup is timed
        Assert.Equal(1, resolver.CacheEntries);
    }

    [Fact]
    public async Task An_expired_answer_is_asked_again_and_the_new_address_is_served()
    {
        DnsResolver resolver = Resolver();
        Assert.Equal([IPAddress.Parse("127.0.0.10")], await resolver.ResolveAsync("ttl.test", CancellationToken.None));

        File.WriteAllText(AddnHosts, File.ReadAllText(AddnHosts).Replace("127.0.0.10 ttl.test", "127.0.0.11 ttl.test", StringComparison.Ordinal));
        _dns.Reload();

        IPAddress[] now = await EventuallyAsync(resolver, "ttl.test", a => a.Contains(IPAddress.Parse("127.0.0.11")), "the new address once the TTL of 1 s ran out");
        Assert.Equal([IPAddress.Parse("127.0.0.11")], now);
    }

    [Fact]
    public async Task TTL_0_is_used_once_and_not_kept()
    {
        DnsResolver resolver = Resolver();

        await resolver.ResolveAsync("zero.test", CancellationToken.None);
        await resolver.ResolveAsync("zero.test", CancellationToken.None);

        Assert.Equal(2, _dns.Queries("zero.test", "A"));
        Assert.Equal(0, resolver.CacheEntries);
    }

    [Fact]
    public async Task MinTtl_keeps_a_TTL_0_answer()
    {
        DnsResolver resolver = Resolver(c => c with { Cache = new ResolverCacheConfig { MinTtl = TimeSpan.FromMinutes(5) } });

        await resolver.ResolveAsync("zero.test", CancellationToken.None);
        await resolver.ResolveAsync("zero.test", CancellationToken.None);

        Assert.Equal(1, _dns.Queries("zero.test", "A"));
    }

    [Fact]
    public async Task A_name_that_does_not_exist_is_remembered_as_not_found()
    {
        var events = new Events();
        DnsResolver resolver = Resolver(c => c with { Cache = new ResolverCacheConfig { NegativeTtl = TimeSpan.FromMinutes(5) } }, events);

        ResolveException first = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("gone.nx.test", CancellationToken.None));
        ResolveException second = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("gone.nx.test", CancellationToken.None));

        Assert.True(first.NotFound && second.NotFound);
        Assert.Equal("gone.nx.test does not exist", second.Message);
        Assert.Equal(1, _dns.Queries("gone.nx.test", "A"));
        Assert.Equal(["negative", "negative"], events.Results);
    }

    [Fact]
    public async Task A_negative_answer_is_kept_no_longer_than_negativeTtl()
    {
        DnsResolver resolver = Resolver(c => c with { Cache = new ResolverCacheConfig { NegativeTtl = TimeSpan.FromSeconds(1) } });
        await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("capped.nx.test", CancellationToken.None));

        var deadline = Stopwatch.StartNew();
        while (_dns.Queries("capped.nx.test", "A") < 2)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "the name was never asked again: the negative answer outlived negativeTtl (1 s)");
            await Task.Delay(200);
            await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("capped.nx.test", CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_refused_lookup_is_an_error_and_is_not_cached()
    {
        var events = new Events();
        DnsResolver resolver = Resolver(events: events);

        // dnsmasq has no upstream server for names outside its own: it answers REFUSED.
        ResolveException first = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("elsewhere.example", CancellationToken.None));
        await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("elsewhere.example", CancellationToken.None));

        Assert.False(first.NotFound);
        Assert.Contains($"{_dns.Endpoint} answered REFUSED", first.Message, StringComparison.Ordinal);
        Assert.Equal(2, _dns.Queries("elsewhere.example", "A"));
        Assert.Equal(["error", "error"], events.Results);
        Assert.Equal(0, resolver.CacheEntries);
    }

    [Fact]
    public async Task A_name_DNS_cannot_carry_fails_and_leaves_no_lookup_in_flight()
    {
        DnsResolver resolver = Resolver();
        string name = new string('a', 64) + ".test"; // a label over 63 octets

        ResolveException first = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync(name, CancellationToken.None));
        ResolveException again = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync(name, CancellationToken.None))
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(first.NotFound);
        Assert.StartsWith($"lookup of {name} failed", again.Message, StringComparison.Ordinal);
        Assert.Equal(0, resolver.CacheEntries);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_a_timeout_error()
    {
        using SlowRelay silent = SlowRelay.Silent();
        DnsResolver resolver = Resolver(c => c with { Timeout = TimeSpan.FromMilliseconds(300) }, servers: silent.Endpoint);

        ResolveException e = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("both.test", CancellationToken.None));

        Assert.False(e.NotFound);
        Assert.Contains($"no answer from {silent.Endpoint} within 300ms", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_next_server_answers_when_the_first_does_not()
    {
        using SlowRelay silent = SlowRelay.Silent();
        DnsResolver resolver = Resolver(c => c with { Timeout = TimeSpan.FromMilliseconds(300) }, servers: [silent.Endpoint, _dns.Endpoint]);

        Assert.Equal([IPAddress.Parse("127.0.0.4")], await resolver.ResolveAsync("v4.test", CancellationToken.None));
    }

    [Fact]
    public async Task Concurrent_misses_of_one_name_share_one_lookup()
    {
        using SlowRelay slow = SlowRelay.To(_dns.Endpoint); // each query held 3 s: all requests arrive during the lookup
        DnsResolver resolver = Resolver(c => c with { Timeout = TimeSpan.FromSeconds(10) }, servers: slow.Endpoint);

        IPAddress[][] answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => resolver.ResolveAsync("both.test", CancellationToken.None)));

        Assert.All(answers, a => Assert.Equal([IPAddress.IPv6Loopback, IPAddress.Loopback], a));
        Assert.Equal(1, _dns.Queries("both.test", "A"));
        Assert.Equal(1, _dns.Queries("both.test", "AAAA"));
    }

    [Fact]
    public async Task An_expired_answer_is_served_only_while_its_refresh_is_in_flight()
    {
        using SlowRelay slow = SlowRelay.To(_dns.Endpoint);
        slow.Delay = TimeSpan.Zero;
        var events = new Events();
        DnsResolver resolver = Resolver(c => c with { Timeout = TimeSpan.FromSeconds(10) }, events, slow.Endpoint);
        IPAddress old = IPAddress.Parse("127.0.0.20");
        IPAddress fresh = IPAddress.Parse("127.0.0.21");
        Assert.Equal([old], await resolver.ResolveAsync("stale.test", CancellationToken.None));

        File.WriteAllText(AddnHosts, File.ReadAllText(AddnHosts).Replace("127.0.0.20 stale.test", "127.0.0.21 stale.test", StringComparison.Ordinal));
        _dns.Reload();
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // past the TTL of 1 s
        slow.Delay = TimeSpan.FromSeconds(3);

        Task<IPAddress[]> refreshing = resolver.ResolveAsync("stale.test", CancellationToken.None); // starts the refresh, waits for it
        IPAddress[] during = await resolver.ResolveAsync("stale.test", CancellationToken.None);
        bool refreshStillRunning = !refreshing.IsCompleted;

        Assert.Equal([fresh], await refreshing);
        Assert.True(refreshStillRunning, "the refresh ended before the second request: the relay's 3 s hold did not hold");
        Assert.Equal([old], during);
        Assert.Equal([fresh], await resolver.ResolveAsync("stale.test", CancellationToken.None));
        Assert.Equal(["miss", "stale", "miss", "hit"], events.Results);
    }

    [Fact]
    public async Task The_cache_holds_at_most_maxEntries_names_and_evicts_the_least_recently_used()
    {
        DnsResolver resolver = Resolver(c => c with { Cache = new ResolverCacheConfig { MaxEntries = 50, MinTtl = TimeSpan.FromMinutes(5) } });

        for (int i = 0; i < 200; i++)
        {
            await resolver.ResolveAsync($"n{i}.lru.test", CancellationToken.None);
        }

        Assert.Equal(50, resolver.CacheEntries);
        await resolver.ResolveAsync("n199.lru.test", CancellationToken.None); // among the last 50: still held
        await resolver.ResolveAsync("n0.lru.test", CancellationToken.None); // the first: evicted long ago
        Assert.Equal(1, _dns.Queries("n199.lru.test", "A"));
        Assert.Equal(2, _dns.Queries("n0.lru.test", "A"));
        Assert.Equal(50, resolver.CacheEntries);
    }

    [Fact]
    public async Task The_hosts_file_answers_first_and_is_read_again_when_it_changes()
    {
        string hosts = Path.Combine(_dir, "hosts");
        File.WriteAllText(hosts, "# ours\n127.0.0.99 hosted.test alias.test\n");
        var events = new Events();
        DnsResolver resolver = Resolver(c => c with { HostsFile = hosts }, events);

        Assert.Equal([IPAddress.Parse("127.0.0.99")], await resolver.ResolveAsync("hosted.test", CancellationToken.None));
        Assert.Equal([IPAddress.Parse("127.0.0.99")], await resolver.ResolveAsync("alias.test", CancellationToken.None));
        Assert.Equal(0, _dns.Queries("hosted.test"));

        File.WriteAllText(hosts, "# ours, changed\n127.0.0.98 other.test\n::98 hosted.test\n");
        IPAddress[] now = await EventuallyAsync(resolver, "hosted.test", a => a.Contains(IPAddress.Parse("::98")), "the hosts file's new line");
        Assert.Equal([IPAddress.Parse("::98")], now);
        Assert.Equal(0, _dns.Queries("hosted.test"));
        ResolveException gone = await Assert.ThrowsAsync<ResolveException>(() => resolver.ResolveAsync("alias.test", CancellationToken.None));
        Assert.True(gone.NotFound); // no longer in the file: asked of the servers, which do not know it
        Assert.Equal(2, _dns.Queries("alias.test"));
    }

    private static async Task<IPAddress[]> EventuallyAsync(IResolver resolver, string name, Func<IPAddress[], bool> wanted, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            IPAddress[] addresses = await resolver.ResolveAsync(name, CancellationToken.None);
            if (wanted(addresses))
            {
                return addresses;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"waited 20 s for {what}; still {string.Join(", ", addresses.Select(a => a.ToString()))}");
            await Task.Delay(200);
        }
    }

    /// <summary>What the resolver reported, in order.</summary>
    internal sealed class Events : IResolverEvents
    {
        private readonly ConcurrentQueue<string> _results = new();

        public ConcurrentQueue<TimeSpan> LookupTimes { get; } = new();

        public string[] Results => [.. _results];

        public void Answered(LookupResult result) => _results.Enqueue(result.ToString().ToLowerInvariant());

        public void LookedUp(TimeSpan elapsed) => LookupTimes.Enqueue(elapsed);
    }
}
