using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Limits;

namespace Sluice.Proxy.Tests.Limits;

/// <summary>
/// <see cref="DestinationLimits"/> without sockets: the bucket against a manual clock, the tunnel counts, the keys,
/// and the bound on memory whatever the number of names.
/// </summary>
public sealed class DestinationLimitsTests
{
    private readonly ManualClock _clock = new();
    private readonly DestinationLimits _limits;

    public DestinationLimitsTests() => _limits = new DestinationLimits(_clock);

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1; // a clock at 0 must work as well as any other: see Starts_full_at_any_time

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;

        public void Reset() => _ticks = 0;
    }

    private static readonly PerDestinationLimits Rate = new() { RequestsPerSecond = 2, Burst = 3 };

    private TimeSpan Take(string host, PerDestinationLimits? limits = null, IPAddress? address = null) =>
        _limits.TryTakeRequest(host, address, limits ?? Rate, out _);

    [Fact]
    public void A_burst_is_served_then_the_next_request_waits_for_its_token()
    {
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, Take("api.example.com"));
        }

        Assert.Equal(TimeSpan.FromSeconds(0.5), _limits.TryTakeRequest("api.example.com", null, Rate, out string key));
        Assert.Equal("api.example.com", key);

        _clock.Advance(TimeSpan.FromSeconds(0.25));
        Assert.Equal(TimeSpan.FromSeconds(0.25), Take("api.example.com")); // half a token back
        _clock.Advance(TimeSpan.FromSeconds(0.25));
        Assert.Equal(TimeSpan.Zero, Take("api.example.com"));
        Assert.NotEqual(TimeSpan.Zero, Take("api.example.com"));
    }

    [Fact]
    public void The_bucket_refills_at_the_rate_and_never_beyond_the_burst()
    {
        for (int i = 0; i < 3; i++)
        {
            Take("api.example.com");
        }

        _clock.Advance(TimeSpan.FromHours(1));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, Take("api.example.com"));
        }

        Assert.NotEqual(TimeSpan.Zero, Take("api.example.com"));
    }

    [Fact]
    public void Starts_full_at_any_time()
    {
        _clock.Reset();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, Take("api.example.com"));
        }

        Assert.NotEqual(TimeSpan.Zero, Take("api.example.com"));
    }

    [Fact]
    public void One_destination_over_its_rate_leaves_the_others_alone()
    {
        for (int i = 0; i < 3; i++)
        {
            Take("busy.example.com");
        }

        Assert.NotEqual(TimeSpan.Zero, Take("busy.example.com"));
        Assert.Equal(TimeSpan.Zero, Take("quiet.example.com"));
        Assert.Equal(TimeSpan.Zero, Take("example.com"));
    }

    [Fact]
    public void Without_a_rate_nothing_is_tracked()
    {
        var tunnelsOnly = new PerDestinationLimits { Tunnels = 5 };
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(TimeSpan.Zero, Take("api.example.com", tunnelsOnly));
        }

        Assert.Equal(0, _limits.Count);
    }

    [Fact]
    public void The_burst_defaults_to_twice_the_rate()
    {
        var rate = new PerDestinationLimits { RequestsPerSecond = 2 };
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(TimeSpan.Zero, Take("api.example.com", rate));
        }

        Assert.NotEqual(TimeSpan.Zero, Take("api.example.com", rate));
    }

    [Fact]
    public void Key_domain_counts_every_name_of_a_registrable_domain_together()
    {
        PerDestinationLimits byDomain = Rate with { Key = DestinationKeyKind.Domain };
        Assert.Equal(TimeSpan.Zero, Take("a.example.co.uk", byDomain));
        Assert.Equal(TimeSpan.Zero, Take("b.example.co.uk", byDomain));
        Assert.Equal(TimeSpan.Zero, Take("example.co.uk", byDomain));
        Assert.NotEqual(TimeSpan.Zero, _limits.TryTakeRequest("c.d.example.co.uk", null, byDomain, out string key));
        Assert.Equal("example.co.uk", key);
        Assert.Equal(TimeSpan.Zero, Take("other.co.uk", byDomain)); // a neighbour under the same public suffix
        Assert.Equal(2, _limits.Count);
    }

    [Fact]
    public void Key_host_counts_each_name_alone()
    {
        for (int i = 0; i < 3; i++)
        {
            Take("a.example.co.uk");
        }

        Assert.NotEqual(TimeSpan.Zero, Take("a.example.co.uk"));
        Assert.Equal(TimeSpan.Zero, Take("b.example.co.uk"));
    }

    [Theory]
    [InlineData("192.0.2.10")]
    [InlineData("2001:db8::1")]
    public void An_ip_literal_is_its_own_destination_with_either_key(string literal)
    {
        PerDestinationLimits byDomain = Rate with { Key = DestinationKeyKind.Domain };
        var address = IPAddress.Parse(literal);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, Take(literal, byDomain, address));
        }

        Assert.NotEqual(TimeSpan.Zero, _limits.TryTakeRequest(literal, address, byDomain, out string key));
        Assert.Equal(literal, key); // not what libpsl would make of it ("0.10")
        Assert.Equal(TimeSpan.Zero, Take("192.0.2.11", byDomain, IPAddress.Parse("192.0.2.11")));
    }

    private static readonly PerDestinationLimits TwoTunnels = new() { Tunnels = 2 };

    [Fact]
    public void Tunnels_are_counted_up_to_the_limit_and_a_closed_one_frees_its_slot()
    {
        Assert.True(_limits.TryOpenTunnel("db.example.com", null, TwoTunnels, out DestinationLimits.Entry? first));
        Assert.True(_limits.TryOpenTunnel("db.example.com", null, TwoTunnels, out DestinationLimits.Entry? second));
        Assert.False(_limits.TryOpenTunnel("db.example.com", null, TwoTunnels, out DestinationLimits.Entry? refused));
        Assert.Equal("db.example.com", refused!.Key);
        Assert.True(_limits.TryOpenTunnel("other.example.com", null, TwoTunnels, out _));
        Assert.Equal(2, _limits.TunnelsOpen("db.example.com", null, DestinationKeyKind.Host));

        DestinationLimits.CloseTunnel(first!);
        Assert.Equal(1, _limits.TunnelsOpen("db.example.com", null, DestinationKeyKind.Host));
        Assert.True(_limits.TryOpenTunnel("db.example.com", null, TwoTunnels, out _));
        Assert.Same(first, second);
    }

    [Fact]
    public void Without_a_tunnel_limit_a_tunnel_is_not_counted()
    {
        Assert.True(_limits.TryOpenTunnel("db.example.com", null, Rate, out DestinationLimits.Entry? counted));
        Assert.Null(counted);
        Assert.Equal(0, _limits.Count);
    }

    [Fact]
    public void A_release_goes_to_the_entry_it_was_counted_on_whatever_the_key_became()
    {
        Assert.True(_limits.TryOpenTunnel("a.example.test", null, TwoTunnels, out DestinationLimits.Entry? counted));

        // A reload makes the key the registrable domain: new tunnels count on example.test, the open one stays where it was.
        PerDestinationLimits byDomain = TwoTunnels with { Key = DestinationKeyKind.Domain };
        Assert.True(_limits.TryOpenTunnel("b.example.test", null, byDomain, out DestinationLimits.Entry? other));
        Assert.Equal("example.test", other!.Key);

        DestinationLimits.CloseTunnel(counted!);
        DestinationLimits.CloseTunnel(other);
        Assert.Equal(0, _limits.TunnelsOpen("a.example.test", null, DestinationKeyKind.Host));
        Assert.Equal(0, _limits.TunnelsOpen("b.example.test", null, DestinationKeyKind.Domain));
    }

    [Fact]
    public void A_hundred_thousand_names_never_grow_the_table_past_its_bound_and_an_open_tunnel_survives_them()
    {
        var limits = new PerDestinationLimits { RequestsPerSecond = 10, Tunnels = 1, MaxDestinations = 1000 };
        Assert.True(_limits.TryOpenTunnel("pinned.example.com", null, limits, out DestinationLimits.Entry? pinned));

        for (int i = 0; i < 100_000; i++)
        {
            Take($"n{i}.flood.example", limits);
            Assert.True(_limits.Count <= limits.MaxDestinations, $"{_limits.Count} destinations tracked after {i + 1} names, the bound is {limits.MaxDestinations}");
        }

        // Its count survived: the limit still holds, and flooding names did not open it.
        Assert.Equal(1, _limits.TunnelsOpen("pinned.example.com", null, DestinationKeyKind.Host));
        Assert.False(_limits.TryOpenTunnel("pinned.example.com", null, limits, out _));
        DestinationLimits.CloseTunnel(pinned!);
        Assert.True(_limits.TryOpenTunnel("pinned.example.com", null, limits, out _));
    }

    [Fact]
    public void A_destination_in_use_survives_a_flood_of_new_names()
    {
        var limits = new PerDestinationLimits { RequestsPerSecond = 1, Burst = 1, MaxDestinations = 100 };
        Assert.Equal(TimeSpan.Zero, Take("hot.example.com", limits));
        for (int i = 0; i < 10_000; i++)
        {
            Take($"n{i}.flood.example", limits);
            if (i % 10 == 0)
            {
                // Its empty bucket is remembered: forgetting it would hand the destination a fresh burst.
                Assert.NotEqual(TimeSpan.Zero, Take("hot.example.com", limits));
            }
        }
    }

    [Fact]
    public void A_smaller_bound_after_a_reload_applies_to_the_next_new_names()
    {
        var large = new PerDestinationLimits { RequestsPerSecond = 10, MaxDestinations = 1000 };
        for (int i = 0; i < 1000; i++)
        {
            Take($"n{i}.example", large);
        }

        var small = large with { MaxDestinations = 10 };
        for (int i = 0; i < 1000 && _limits.Count > 10; i++)
        {
            Take($"m{i}.example", small);
        }

        Assert.True(_limits.Count <= 10, $"{_limits.Count} destinations tracked");
    }

    [Fact]
    public async Task Concurrent_tunnels_and_a_flood_of_names_leave_every_count_at_zero()
    {
        var limits = new PerDestinationLimits { RequestsPerSecond = 1000, Tunnels = 1_000_000, MaxDestinations = 50 };
        string[] names = ["a.example", "b.example", "c.example", "d.example"];
        Task[] workers = [.. Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                string name = names[(w + i) % names.Length];
                Assert.True(_limits.TryOpenTunnel(name, null, limits, out DestinationLimits.Entry? counted));
                Take($"w{w}-{i}.flood.example", limits);
                DestinationLimits.CloseTunnel(counted!);
            }
        }))];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        foreach (string name in names)
        {
            Assert.Equal(0, _limits.TunnelsOpen(name, null, DestinationKeyKind.Host));
        }

        Assert.True(_limits.Count <= limits.MaxDestinations + names.Length, $"{_limits.Count} destinations tracked");
    }
}
