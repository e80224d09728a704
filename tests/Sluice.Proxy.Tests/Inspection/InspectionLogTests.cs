using System.Text.Json;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The access log of an inspected tunnel: one line per request inside, as Squid logs a bumped connection, and the
/// CONNECT's own line at the end; the JSON format names the rule that decided each one.
/// </summary>
public sealed class InspectionLogTests
{
    private static Rule DenyHeaders => new()
    {
        Name = "no-headers",
        Action = RuleAction.Deny,
        Destinations = [InspectionKit.Pattern(InspectionKit.OriginName)],
        Paths = [InspectionKit.PathEntry("/headers")],
    };

    private static async Task ThreeRequestsAsync(InspectionKit kit, TestProxy proxy)
    {
        await using (TunnelClient tunnel = await kit.OpenAsync(proxy))
        {
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
            Assert.Equal(403, (await tunnel.GetAsync("/headers")).Status);
            Assert.Equal(403, (await tunnel.GetAsync("/status/204")).Status);
        }

        await proxy.StopAsync();
    }

    [Fact]
    public async Task Squid_lines_one_per_request_inside_then_the_connect_as_none_none()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect("api", paths: ["/hello"]), DenyHeaders);
        await ThreeRequestsAsync(kit, proxy);

        string[] lines = [.. proxy.AccessLog.Lines];
        Assert.Equal(4, lines.Length);
        string port = kit.Origin.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Matches($@"^\d+\.\d{{3}} +\d+ 127\.0\.0\.1 TCP_MISS/200 \d+ GET https://secure\.test:{port}/hello - HIER_DIRECT/127\.0\.0\.1 text/plain", lines[0]);
        Assert.Matches($@" TCP_DENIED/403 \d+ GET https://secure\.test:{port}/headers - HIER_NONE/- text/plain", lines[1]);
        Assert.Matches($@" TCP_DENIED/403 \d+ GET https://secure\.test:{port}/status/204 - HIER_NONE/- text/plain", lines[2]);
        Assert.Matches($@" NONE_NONE/200 \d+ CONNECT secure\.test:{port} - HIER_DIRECT/127\.0\.0\.1 -$", lines[3]);
    }

    [Fact]
    public async Task Json_lines_name_the_deciding_rule_of_each_request_and_of_the_connect()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect("api", paths: ["/hello"]), DenyHeaders], AccessLogFormat.Json);
        await ThreeRequestsAsync(kit, proxy);

        JsonElement[] lines = [.. proxy.AccessLog.Lines.Select(l => JsonDocument.Parse(l).RootElement)];
        Assert.Equal(4, lines.Length);
        string Get(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) ? v.ToString() : "-";

        Assert.Equal(("TCP_MISS", "200", $"https://{kit.Authority}/hello", "api"), (Get(lines[0], "code"), Get(lines[0], "status"), Get(lines[0], "url"), Get(lines[0], "rule")));
        Assert.Equal(("TCP_DENIED", "403", "no-headers", "http_request_denied"), (Get(lines[1], "code"), Get(lines[1], "status"), Get(lines[1], "rule"), Get(lines[1], "proxyStatus")));
        Assert.Equal(("TCP_DENIED", "403", "-", "http_request_denied"), (Get(lines[2], "code"), Get(lines[2], "status"), Get(lines[2], "rule"), Get(lines[2], "proxyStatus")));
        Assert.Equal(("NONE_NONE", "200", "CONNECT", kit.Authority, "api"), (Get(lines[3], "code"), Get(lines[3], "status"), Get(lines[3], "method"), Get(lines[3], "url"), Get(lines[3], "rule")));
        Assert.Equal("-", Get(lines[3], "proxyStatus")); // a tunnel that ended well has no error
    }

    [Fact]
    public async Task Httpclient_requests_are_logged_as_the_existing_test_shows_and_the_connect_line_is_last()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect("api"));
        using (HttpClient client = kit.Client(proxy))
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal("hello from origin", await client.GetStringAsync(kit.Url("/hello")));
            }
        }

        await proxy.StopAsync();
        string[] lines = [.. proxy.AccessLog.Lines];
        Assert.Equal(4, lines.Length);
        Assert.All(lines[..3], l => Assert.Contains($" TCP_MISS/200 ", l));
        Assert.Contains($" CONNECT {kit.Authority} ", lines[3]);
    }
}
