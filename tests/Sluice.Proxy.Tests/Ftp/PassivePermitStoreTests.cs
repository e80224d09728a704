using System.Net;
using System.Text;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Ftp;
using Sluice.Proxy.Metrics;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>The permit store and the reply watcher, without sockets: who may use a permit, how long, how many.</summary>
public sealed class PassivePermitStoreTests
{
    private static readonly IPAddress Client = IPAddress.Parse("10.1.0.5");
    private static readonly IPAddress Server = IPAddress.Parse("198.51.100.7");

    private readonly ManualClock _clock = new();
    private readonly ProxyMetrics _metrics = new();
    private readonly LogLines _log = new();
    private readonly PassivePermits _permits;

    public PassivePermitStoreTests() => _permits = new PassivePermits(_metrics, _log.CreateLogger("test"), _clock);

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private IRelayObserver Open(string? user = null, IPAddress? client = null)
    {
        var facts = new RequestFacts("CONNECT", RequestScheme.Tunnel, "ftp.partner.example", null, 21, client ?? Client) { User = user };
        var control = new Verdict(facts, VerdictStep.Ready, Decision.Allow("allowed", "partner-ftp"), null, "allowed") { FtpPassive = true };
        return _permits.Open(control, Server, TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("a direct control tunnel is watched");
    }

    private static void Reply(IRelayObserver watcher, string text) => watcher.Observe(Encoding.ASCII.GetBytes(text));

    private static string Epsv(int port) => $"229 Entering Extended Passive Mode (|||{port}|)\r\n";

    private PassivePermit? Use(int port, string host = "ftp.partner.example", IPAddress? literal = null, IPAddress? client = null, string? user = null) =>
        _permits.TryUse(new RequestFacts("CONNECT", RequestScheme.Tunnel, host, literal, port, client ?? Client) { User = user });

    private double Count(string happened) => _metrics.PassivePermits.WithLabels(happened).Value;

    [Fact]
    public void A_229_permits_one_CONNECT_to_its_port_by_the_control_name_pinned_to_the_control_address()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, Epsv(50123));
        PassivePermit? permit = Use(50123);
        Assert.NotNull(permit);
        Assert.Equal(Server, permit.Address);
        Assert.Equal("partner-ftp", permit.Rule);
        Assert.Equal("ftp passive permit from the control connection to ftp.partner.example:21 (rule partner-ftp)", permit.Detail);
        Assert.Null(Use(50123));
        Assert.Equal(1, Count("granted"));
        Assert.Equal(1, Count("used"));
    }

    [Theory]
    [InlineData("another port", "ftp.partner.example", null, "10.1.0.5", null, 50124)]
    [InlineData("another host name", "www.partner.example", null, "10.1.0.5", null, 50123)]
    [InlineData("another IP literal", "198.51.100.8", "198.51.100.8", "10.1.0.5", null, 50123)]
    [InlineData("another client", "ftp.partner.example", null, "10.1.0.6", null, 50123)]
    [InlineData("a user the control CONNECT did not have", "ftp.partner.example", null, "10.1.0.5", "etl", 50123)]
    public void A_CONNECT_that_differs_from_the_control_tunnel_gets_nothing(string why, string host, string? literal, string client, string? user, int port)
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, Epsv(50123));
        Assert.True(Use(port, host, literal is null ? null : IPAddress.Parse(literal), IPAddress.Parse(client), user) is null, why);
        Assert.NotNull(Use(50123)); // still there for the right CONNECT
    }

    [Fact]
    public void The_control_address_as_an_IP_literal_is_the_same_server()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, Epsv(50123));
        Assert.NotNull(Use(50123, "198.51.100.7", Server));
    }

    [Fact]
    public void An_authenticated_control_tunnel_permits_the_same_user_only()
    {
        using IRelayObserver watcher = Open(user: "etl");
        Reply(watcher, Epsv(50123));
        Assert.Null(Use(50123));
        Assert.Null(Use(50123, user: "other"));
        Assert.NotNull(Use(50123, user: "etl"));
    }

    [Fact]
    public void A_permit_expires_after_its_lifetime()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, Epsv(50123));
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(Use(50123));
        Assert.Equal(1, Count("expired"));
        Assert.Equal(0, _permits.Outstanding);
    }

    [Fact]
    public void Closing_the_control_tunnel_revokes_its_permits_and_forgets_it()
    {
        IRelayObserver watcher = Open();
        Reply(watcher, Epsv(50123) + Epsv(50124));
        watcher.Dispose();
        Assert.Null(Use(50123));
        Assert.Equal(2, Count("revoked"));
        Assert.Equal(0, _permits.Channels);
        Reply(watcher, Epsv(50125)); // bytes after the end grant nothing
        Assert.Equal(0, _permits.Outstanding);
    }

    [Fact]
    public void A_control_tunnel_keeps_its_latest_permits_only()
    {
        using IRelayObserver watcher = Open();
        for (int port = 40000; port < 40020; port++)
        {
            Reply(watcher, Epsv(port));
        }

        Assert.Equal(PassivePermits.PerChannel, _permits.Outstanding);
        Assert.Null(Use(40000));
        Assert.Null(Use(40020 - PassivePermits.PerChannel - 1));
        Assert.NotNull(Use(40020 - PassivePermits.PerChannel));
        Assert.NotNull(Use(40019));
        Assert.Equal(20 - PassivePermits.PerChannel, Count("dropped"));
    }

    [Fact]
    public void The_server_holds_at_most_its_total_however_many_control_tunnels_grant()
    {
        var watchers = new List<IRelayObserver>();
        for (int i = 0; i < (PassivePermits.Total / PassivePermits.PerChannel) + 10; i++)
        {
            IRelayObserver watcher = Open(client: new IPAddress([10, 2, (byte)(i >> 8), (byte)i]));
            for (int port = 50001; port <= 50000 + PassivePermits.PerChannel; port++)
            {
                Reply(watcher, Epsv(port));
            }

            watchers.Add(watcher);
        }

        Assert.Equal(PassivePermits.Total, _permits.Outstanding);
        Assert.Equal(10 * PassivePermits.PerChannel, Count("dropped"));
        Assert.Contains(_log.Lines, l => l.Contains($"{PassivePermits.Total} permits are outstanding", StringComparison.Ordinal));
        watchers.ForEach(w => w.Dispose());
        Assert.Equal(0, _permits.Outstanding);
    }

    [Fact]
    public void A_reply_split_into_single_bytes_still_grants()
    {
        using IRelayObserver watcher = Open();
        foreach (byte b in Encoding.ASCII.GetBytes("227 Entering Passive Mode (198,51,100,7,195,80).\r\n"))
        {
            watcher.Observe([b]);
        }

        Assert.NotNull(Use((195 << 8) | 80));
    }

    [Fact]
    public void A_multi_line_227_grants_and_a_227_quoted_inside_another_reply_does_not()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, "211-Features:\r\n 227 Entering Passive Mode (198,51,100,7,10,1)\r\n211 End\r\n");
        Reply(watcher, "227-Entering Passive Mode (198,51,100,7,10,2)\r\n227 Here it is\r\n");
        Assert.Null(Use((10 << 8) | 1));
        Assert.NotNull(Use((10 << 8) | 2));
    }

    [Fact]
    public void A_227_naming_another_address_is_a_bounce_refused_and_logged()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, "227 Entering Passive Mode (10,0,0,1,0,22)\r\n");
        Assert.Null(Use(22));
        Assert.Null(Use(22, "10.0.0.1", IPAddress.Parse("10.0.0.1")));
        Assert.Equal(1, Count("bounce"));
        Assert.Equal(0, Count("granted"));
        Assert.Contains(_log.Lines, l => l.Contains("named 10.0.0.1:22", StringComparison.Ordinal) && l.Contains("rule partner-ftp", StringComparison.Ordinal));
    }

    [Fact]
    public void After_234_nothing_is_read_and_the_log_says_why_once()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, "234 AUTH TLS successful\r\n" + Epsv(50123));
        Reply(watcher, Epsv(50124));
        Assert.Null(Use(50123));
        Assert.Null(Use(50124));
        Assert.Single(_log.Lines, l => l.Contains("switched to TLS (234)", StringComparison.Ordinal));
    }

    [Fact]
    public void Replies_that_are_not_passive_grant_nothing()
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, "220 ready\r\n200 Entering Passive Mode (198,51,100,7,10,3)\r\n229 no port here\r\n227 (198,51,100,7,0,0)\r\n");
        Assert.Equal(0, _permits.Outstanding);
    }

    [Theory]
    [InlineData("229 Entering Extended Passive Mode (|||25|)\r\n", 25)]
    [InlineData("229 Entering Extended Passive Mode (|||1023|)\r\n", 1023)]
    [InlineData("227 Entering Passive Mode (198,51,100,7,0,22)\r\n", 22)]
    public void A_passive_reply_naming_a_port_below_1024_of_the_server_grants_nothing_and_is_logged(string reply, int port)
    {
        using IRelayObserver watcher = Open();
        Reply(watcher, reply);
        Assert.Null(Use(port));
        Assert.Equal(0, _permits.Outstanding);
        Assert.Equal(1, Count("bounce"));
        Assert.Contains(_log.Lines, l => l.Contains($"named port {port} in a passive reply", StringComparison.Ordinal));
        Reply(watcher, Epsv(1024)); // the first ephemeral port is a data port like any other
        Assert.NotNull(Use(1024));
    }
}
