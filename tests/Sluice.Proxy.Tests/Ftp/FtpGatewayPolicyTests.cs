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

        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains($" TCP_DENIED/403 ") && l.Contains($" GET ftp://other.test:{server.Port}/x.bin "));
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

    private static Verdict Explain(RequestPipeline pipeline, string url)
    {
        Assert.True(RequestTargets.TryReadRequest(url, null, IPAddress.Loopback, out RequestFacts facts, out string problem), problem);
        return pipeline.Decide(facts, null);
    }

    private static DestinationPattern Pattern(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern pattern, out string problem) ? pattern : throw new ArgumentException(problem);
}
