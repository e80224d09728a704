using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>How <see cref="RequestPipeline"/> turns a passive permit into its verdict, without a socket.</summary>
public sealed class PassivePermitPipelineTests
{
    private const string Config = """
        rules:
          - { name: partner-ftp, action: allow, destinations: [ftp.partner.example], ports: [21], ftp: passive }
          - { name: web, action: allow, destinations: [www.partner.example], ports: [443] }
          - { name: no-high, action: deny, ports: ["1024-65535"] }
        default: deny
        addresses:
          allow: [198.51.100.0/24]
        """;

    private static readonly IPAddress Server = IPAddress.Parse("198.51.100.7");

    private readonly RequestPipeline _pipeline = new(ConfigLoader.Parse(Config, "test.yaml"), OwnEndpoints.None);

    /// <summary>Hands out one permit, for port 50021 of ftp.partner.example, and counts what it was asked.</summary>
    private sealed class OnePermit : IPassivePermits
    {
        public int Asked;

        public PassivePermit? TryUse(RequestFacts request)
        {
            Asked++;
            return request.Host == "ftp.partner.example" && request.Port == 50021 ? new PassivePermit("partner-ftp", "ftp.partner.example:21", Server) : null;
        }
    }

    private static RequestFacts Connect(string host, int port) => new("CONNECT", RequestScheme.Tunnel, host, null, port, IPAddress.Parse("10.1.0.5"));

    [Fact]
    public void The_control_CONNECT_is_allowed_by_its_rule_and_read_as_ftp()
    {
        Verdict verdict = _pipeline.Decide(Connect("ftp.partner.example", 21), null, new OnePermit());
        Assert.False(verdict.Refused);
        Assert.True(verdict.FtpPassive);
        Assert.Null(verdict.Permit);
        Assert.False(_pipeline.Decide(Connect("www.partner.example", 443), null).FtpPassive);
    }

    [Fact]
    public async Task A_permit_allows_a_CONNECT_the_rules_refuse_even_past_a_deny_rule_and_pins_its_address()
    {
        var permits = new OnePermit();
        Verdict verdict = _pipeline.Decide(Connect("ftp.partner.example", 50021), null, permits);
        Assert.False(verdict.Refused);
        Assert.Equal("partner-ftp", verdict.Rule);
        Assert.Equal("ftp passive permit from the control connection to ftp.partner.example:21 (rule partner-ftp)", verdict.Detail);

        var resolver = new MapResolver(); // knows no name: a lookup would fail the verdict
        Verdict ready = await _pipeline.ResolveAsync(verdict, resolver, CancellationToken.None);
        Assert.Equal(VerdictStep.Ready, ready.Step);
        Assert.Equal([Server], ready.Permitted);
        Assert.Equal(0, resolver.Lookups);
    }

    [Fact]
    public void Without_a_permit_the_refusal_names_the_rule_whose_control_tunnels_could_permit_it()
    {
        Verdict verdict = _pipeline.Decide(Connect("ftp.partner.example", 50022), null, new OnePermit());
        Assert.Equal("http_request_denied", ProxyErrorKindOf(verdict));
        Assert.Equal("partner-ftp", verdict.PermitsFrom);
        Assert.Null(_pipeline.Decide(Connect("www.partner.example", 50022), null).PermitsFrom);
    }

    [Fact]
    public void Allowed_requests_and_forwarded_ones_never_ask_the_permits()
    {
        var permits = new OnePermit();
        _pipeline.Decide(Connect("www.partner.example", 443), null, permits);
        _pipeline.Decide(new RequestFacts("GET", RequestScheme.Http, "ftp.partner.example", null, 50021, IPAddress.Parse("10.1.0.5")) { Path = "/" }, null, permits);
        Assert.Equal(0, permits.Asked);
    }

    private static string? ProxyErrorKindOf(Verdict verdict) => verdict.Error?.ProxyStatusError;
}
