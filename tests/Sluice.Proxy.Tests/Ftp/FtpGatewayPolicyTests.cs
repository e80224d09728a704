using System.Net;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Ftp.FtpGatewayKit;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>ftp:// URLs are decided by the one pipeline with scheme ftp, and what <c>sluice explain</c> reads agrees.</summary>
public sealed class FtpGatewayPolicyTests
{
    [Fact]
    public async Task A_rule_for_scheme_ftp_allows_the_gateway_and_the_rest_is_refused_as_explain_says()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        server.WriteFile("x.bin", 10);
        await using TestProxy proxy = await StartProxyAsync(c => c with
        {
            Default = RuleAction.Deny,
            Rules = [new Rule { Name = "partner-ftp", Action = RuleAction.Allow, Destinations = [Pattern(Host)], Schemes = [RequestScheme.Ftp] }],
        });
        proxy.Resolver.Map("other.test", IPAddress.Loopback);
        var pipeline = new RequestPipeline(proxy.Server.CurrentConfig, OwnEndpoints.None);
        string allowedUrl = $"ftp://{Host}:{server.Port}/x.bin";
        string[] refusedUrls = [$"ftp://other.test:{server.Port}/x.bin", $"http://{Host}:{server.Port}/x.bin"];

        (string allowed, _) = await RawAsync(proxy, $"GET {allowedUrl} HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", allowed);
        Assert.False(Explain(pipeline, allowedUrl).Refused);
        Assert.Equal("partner-ftp", Explain(pipeline, allowedUrl).Rule);
        foreach (string url in refusedUrls)
        {
            (string refused, _) = await RawAsync(proxy, $"GET {url} HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 403 ", refused);
            Assert.Contains("error=http_request_denied", refused);
            Assert.Equal(ProxyErrorKind.PolicyDenied, Explain(pipeline, url).Refusal);
        }

        await proxy.AccessLog.WaitForAsync(l => l.Contains(" TCP_DENIED/403 ") && l.Contains($" GET ftp://other.test:{server.Port}/x.bin "), "the refused URL's line"); // written in the background
    }

    [Fact]
    public void Explain_reads_ftp_urls_as_the_gateway_does()
    {
        Assert.True(RequestTargets.TryReadRequest("ftp://user:pw@ftp.test/pub/a%20b.txt;type=i", null, IPAddress.Loopback, out RequestFacts facts, out string problem), problem);
        Assert.Equal((RequestScheme.Ftp, "ftp.test", 21, "GET"), (facts.Scheme, facts.Host, facts.Port, facts.Method));
        Assert.NotNull(facts.Path);

        Assert.False(RequestTargets.TryReadRequest("ftp://ftp.test/a.txt", "DELETE", IPAddress.Loopback, out _, out problem));
        Assert.Contains("405", problem);
        Assert.False(RequestTargets.TryReadRequest("ftp://ftp.test/a%0d%0aDELE%20b", null, IPAddress.Loopback, out _, out problem));
        Assert.Contains("400", problem);
    }

    [Fact]
    public void An_ftp_url_a_rule_routes_through_a_parent_is_refused_by_the_pipeline_not_fetched_direct()
    {
        var pipeline = new RequestPipeline(Policy.Config.ConfigLoader.Parse("""
            upstreams:
              - { name: corp, proxies: ["http://127.0.0.1:3999"] }
            rules:
              - { name: via-corp, action: allow, destinations: [ftp.test], via: corp }
              - { name: ftp-direct, action: allow, destinations: [direct.test] }
            default: deny
            """, "test.yaml"), OwnEndpoints.None);

        Verdict refused = Explain(pipeline, "ftp://ftp.test/pub/a.txt");
        Assert.Equal(ProxyErrorKind.ParentError, refused.Refusal);
        Assert.Equal(RouteKind.Parent, refused.Route.Kind);
        Assert.Contains("routes this ftp:// URL through parent corp", refused.Detail, StringComparison.Ordinal);
        Assert.False(Explain(pipeline, "ftp://direct.test/pub/a.txt").Refused);
        Assert.False(pipeline.Decide(new RequestFacts("CONNECT", RequestScheme.Tunnel, "ftp.test", null, 21, IPAddress.Loopback), null).Refused); // a tunnel may go up
    }

    private static Verdict Explain(RequestPipeline pipeline, string url)
    {
        Assert.True(RequestTargets.TryReadRequest(url, null, IPAddress.Loopback, out RequestFacts facts, out string problem), problem);
        return pipeline.Decide(facts, null);
    }

    private static DestinationPattern Pattern(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern pattern, out string problem) ? pattern : throw new ArgumentException(problem);
}
