using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Pipeline;

/// <summary>
/// What <see cref="RequestPipeline"/> makes of a would-deny, without a socket: which refusal it stands for, which route
/// it takes, and what report mode leaves enforced. The addresses are never connected to.
/// </summary>
public sealed class ReportModePipelineTests : IDisposable
{
    // auth.basic needs a users file that exists; the pipeline never reads it (the identity comes in as an AuthResult).
    private readonly string _users = Path.GetTempFileName();

    public void Dispose() => File.Delete(_users);

    private string Auth => $"auth: {{ basic: {{ realm: egress, usersFile: {_users} }}, required: false }}\n";

    private const string Rules = """
        addresses: { allow: [198.51.100.0/24] }   # a documentation range stands for public addresses here
        upstreams:
          - { name: corp, proxies: ["http://proxy-a.corp:3128"] }
        rules:
          - { name: trial, action: report, destinations: [.tracker.example] }
          - { name: no-ads, action: deny, destinations: [.ads.example] }
          - { name: staff, action: allow, destinations: [.intranet.example], users: [alice] }
          - { name: partner, action: allow, destinations: [.partner.example], via: corp }
        default: deny
        """;

    private static RequestPipeline Pipeline(string extra = "", string mode = "enforce") =>
        new(ConfigLoader.Parse($"mode: {mode}\n{extra}{Rules}", "test.yaml"), OwnEndpoints.None);

    private static RequestFacts Get(string host, int port = 80) =>
        new("GET", RequestScheme.Http, host, IPAddress.TryParse(host, out IPAddress? a) ? a : null, port, IPAddress.Parse("10.20.0.5")) { Path = "/" };

    [Theory]
    [InlineData("enforce", "a.tracker.example", "trial", ProxyErrorKind.PolicyDenied)]
    [InlineData("enforce", "a.ads.example", "no-ads", null)]
    [InlineData("report", "a.ads.example", "no-ads", ProxyErrorKind.PolicyDenied)]
    [InlineData("report", "elsewhere.example", null, ProxyErrorKind.PolicyDenied)]
    public void A_would_deny_is_allowed_and_carries_the_refusal_enforcing_would_answer(string mode, string host, string? rule, ProxyErrorKind? would)
    {
        Verdict verdict = Pipeline(mode: mode).Decide(Get(host), null);

        Assert.Equal(rule, verdict.Rule);
        if (would is null)
        {
            Assert.True(verdict.Refused);
            Assert.Equal(ProxyErrorKind.PolicyDenied, verdict.Refusal);
            Assert.Null(verdict.WouldRefuse);
            return;
        }

        Assert.False(verdict.Refused, verdict.Detail);
        Assert.True(verdict.Rules!.Reported);
        Assert.Equal(would, verdict.WouldRefuse);
        Assert.Equal(RouteKind.Direct, verdict.Route.Kind);
        Assert.Equal(TlsHandling.Tunnel, verdict.Tls);
        Assert.Contains("would deny", verdict.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plain_allow_is_no_would_deny_in_report_mode()
    {
        Verdict verdict = Pipeline(mode: "report").Decide(Get("a.partner.example"), null);
        Assert.False(verdict.Refused);
        Assert.Null(verdict.WouldRefuse);
        Assert.False(verdict.Rules!.Reported);
        Assert.Equal("corp", verdict.Route.Upstream!.Name); // its own via:, as in enforce mode
    }

    [Fact]
    public void A_would_deny_goes_by_route_default_never_by_another_rules_via()
    {
        RequestPipeline pipeline = Pipeline("route: { default: corp }\n", mode: "report");
        Verdict verdict = pipeline.Decide(Get("a.ads.example"), null);
        Assert.Equal(ProxyErrorKind.PolicyDenied, verdict.WouldRefuse);
        Assert.True(verdict.Route is { Kind: RouteKind.Parent, FromDefault: true });
    }

    [Fact]
    public void An_anonymous_request_a_user_rule_could_allow_is_let_through_with_the_407_as_its_would_deny()
    {
        string auth = Auth;
        Verdict enforced = Pipeline(auth).Decide(Get("wiki.intranet.example"), AuthResult.Anonymous);
        Assert.Equal(ProxyErrorKind.AuthenticationRequired, enforced.Refusal);

        Verdict reported = Pipeline(auth, mode: "report").Decide(Get("wiki.intranet.example"), AuthResult.Anonymous);
        Assert.False(reported.Refused, reported.Detail);
        Assert.Equal(ProxyErrorKind.AuthenticationRequired, reported.WouldRefuse);
        Assert.Contains("enforced, the client would be asked for credentials first", reported.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_credentials_throttling_and_required_authentication_stay_refused_in_report_mode()
    {
        string auth = Auth;
        RequestPipeline required = Pipeline(auth.Replace("required: false", "required: true", StringComparison.Ordinal), mode: "report");
        Assert.Equal(ProxyErrorKind.AuthenticationRequired, required.Decide(Get("a.ads.example"), AuthResult.Anonymous).Refusal);

        RequestPipeline pipeline = Pipeline(auth, mode: "report");
        Assert.Equal(ProxyErrorKind.AuthenticationRequired, pipeline.Decide(Get("a.ads.example"), new AuthResult(AuthOutcome.Failed, null, [])).Refusal);
        Assert.Equal(ProxyErrorKind.TooManyAuthenticationFailures,
            pipeline.Decide(Get("a.ads.example"), new AuthResult(AuthOutcome.Throttled, null, [], TimeSpan.FromSeconds(3))).Refusal);
    }

    [Fact]
    public async Task The_address_guard_stays_enforced_for_a_would_deny()
    {
        RequestPipeline pipeline = Pipeline(mode: "report");
        var resolver = new MapResolver().Map("a.ads.example", IPAddress.Loopback); // loopback is not in addresses.allow here

        Verdict refused = await pipeline.ResolveAsync(pipeline.Decide(Get("a.ads.example"), null), resolver, CancellationToken.None);
        Assert.Equal(ProxyErrorKind.DestinationProhibited, refused.Refusal);
        Assert.Equal(ProxyErrorKind.PolicyDenied, refused.WouldRefuse); // the log still shows it was a would-deny first

        Verdict ready = await pipeline.ResolveAsync(pipeline.Decide(Get("198.51.100.9"), null), resolver, CancellationToken.None);
        Assert.Equal(VerdictStep.Ready, ready.Step);
        Assert.Equal(ProxyErrorKind.PolicyDenied, ready.WouldRefuse);
        Assert.Equal([IPAddress.Parse("198.51.100.9")], ready.Permitted);
    }
}
