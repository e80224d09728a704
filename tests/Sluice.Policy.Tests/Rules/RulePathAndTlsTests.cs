using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>
/// A rule's <c>paths</c> and <c>tls</c> against the two decisions: the CONNECT (its connection keys only, for an
/// inspecting rule whose destination may be inspected) and each request inside (every key).
/// </summary>
public sealed class RulePathAndTlsTests
{
    private const RuleAction Allow = RuleAction.Allow;

    private static readonly Dictionary<string, Rule> Rules = new()
    {
        ["inspect-paths"] = RuleKit.Rule("inspect-paths", Allow, destinations: ["github.com"], paths: ["/our-org/*"], tls: TlsMode.Inspect),
        ["inspect-prefix"] = RuleKit.Rule("inspect-prefix", Allow, destinations: ["github.com"], paths: ["/our-org"], tls: TlsMode.Inspect),
        ["inspect-methods"] = RuleKit.Rule("inspect-methods", Allow, destinations: ["github.com"], methods: ["GET", "HEAD"], tls: TlsMode.Inspect),
        ["inspect-both"] = RuleKit.Rule("inspect-both", Allow, destinations: ["github.com"], methods: ["GET"], paths: ["/our-org/*"], tls: TlsMode.Inspect),
        ["inspect-plain"] = RuleKit.Rule("inspect-plain", Allow, destinations: ["github.com"], tls: TlsMode.Inspect),
        ["inspect-narrow"] = RuleKit.Rule("inspect-narrow", Allow, destinations: ["github.com"], ports: ["443"], clients: ["10.20.0.0/16"], users: ["alice"], paths: ["/our-org/*"], tls: TlsMode.Inspect),
        ["tunnel-paths"] = RuleKit.Rule("tunnel-paths", Allow, destinations: ["github.com"], paths: ["/our-org/*"]),
        ["tunnel-get"] = RuleKit.Rule("tunnel-get", Allow, destinations: ["github.com"], methods: ["GET"]),
        ["tunnel-plain"] = RuleKit.Rule("tunnel-plain", Allow, destinations: ["github.com"]),
        ["https-only"] = RuleKit.Rule("https-only", Allow, destinations: ["github.com"], schemes: [RequestScheme.Https]),
        ["http-and-https"] = RuleKit.Rule("http-and-https", Allow, destinations: ["github.com"], schemes: [RequestScheme.Http, RequestScheme.Https]),
    };

    private static readonly Dictionary<string, RequestFacts> Requests = new()
    {
        ["CONNECT inspectable"] = RuleKit.Connect("github.com", mayInspect: true),
        ["CONNECT never-inspected"] = RuleKit.Connect("github.com", mayInspect: false),
        ["CONNECT inspectable :8443"] = RuleKit.Connect("github.com", mayInspect: true, port: 8443),
        ["CONNECT inspectable from 10.99.0.1"] = RuleKit.Connect("github.com", mayInspect: true, client: "10.99.0.1"),
        ["CONNECT inspectable as alice"] = RuleKit.Connect("github.com", mayInspect: true, user: "alice"),
        ["CONNECT inspectable, another host"] = RuleKit.Connect("gitlab.com", mayInspect: true),
        ["https GET /our-org/repo"] = RuleKit.Inside("github.com", "GET", "/our-org/repo"),
        ["https GET /our-org/repo as alice"] = RuleKit.Inside("github.com", "GET", "/our-org/repo", user: "alice"),
        ["https GET /our-org"] = RuleKit.Inside("github.com", "GET", "/our-org"),
        ["https GET /other-org/repo"] = RuleKit.Inside("github.com", "GET", "/other-org/repo"),
        ["https GET /our-org/%2e%2e/other-org/repo"] = RuleKit.Inside("github.com", "GET", "/our-org/%2e%2e/other-org/repo"),
        ["https GET /our-orgs/repo"] = RuleKit.Inside("github.com", "GET", "/our-orgs/repo"),
        ["https POST /our-org/repo"] = RuleKit.Inside("github.com", "POST", "/our-org/repo"),
        ["https HEAD /x"] = RuleKit.Inside("github.com", "HEAD", "/x"),
        ["http GET /our-org/repo"] = RuleKit.Forwarded("github.com", "GET", "/our-org/repo"),
        ["http GET /other-org/repo"] = RuleKit.Forwarded("github.com", "GET", "/other-org/repo"),
        ["http GET, no path"] = RuleKit.Request("github.com", 80, "GET", RequestScheme.Http),
    };

    [Theory]
    // an inspecting rule with paths: the CONNECT by its connection keys, the requests inside by their paths
    [InlineData("inspect-paths", "CONNECT inspectable", null, "an inspectable CONNECT is matched on connection keys only")]
    [InlineData("inspect-paths", "CONNECT never-inspected", "the destination is never inspected, so its paths cannot be seen", "never-inspected: a path rule cannot open a blind tunnel")]
    [InlineData("inspect-paths", "CONNECT inspectable, another host", "gitlab.com:443 is not in destinations", "connection keys still decide")]
    [InlineData("inspect-paths", "https GET /our-org/repo", null, "inside: a path under the glob")]
    [InlineData("inspect-paths", "https GET /our-org", "path /our-org is not in paths", "inside: the glob needs the slash")]
    [InlineData("inspect-paths", "https GET /other-org/repo", "path /other-org/repo is not in paths", "inside: another path")]
    [InlineData("inspect-paths", "https GET /our-org/%2e%2e/other-org/repo", "path /other-org/repo is not in paths", "inside: escaped dots are read before matching")]
    [InlineData("inspect-paths", "https GET /our-orgs/repo", "path /our-orgs/repo is not in paths", "inside: a longer name")]
    [InlineData("inspect-paths", "http GET /our-org/repo", null, "paths apply to http:// forwarding too")]
    [InlineData("inspect-paths", "http GET /other-org/repo", "path /other-org/repo is not in paths", "and refuse there too")]
    [InlineData("inspect-paths", "http GET, no path", "the request shows no path and this rule names paths", "a forwarded request without a path is not called a CONNECT")]
    [InlineData("inspect-prefix", "https GET /our-org", null, "a prefix matches the bare name")]
    [InlineData("inspect-prefix", "https GET /our-orgs/repo", "path /our-orgs/repo is not in paths", "a prefix on segment boundaries")]
    // an inspecting rule with methods
    [InlineData("inspect-methods", "CONNECT inspectable", null, "methods are for the requests inside")]
    [InlineData("inspect-methods", "CONNECT never-inspected", "method CONNECT is not in methods: the destination is never inspected, so they apply to the CONNECT itself", "never-inspected: methods [GET] cannot match the CONNECT, and the reason says why")]
    [InlineData("inspect-methods", "https GET /our-org/repo", null, "a listed method inside")]
    [InlineData("inspect-methods", "https HEAD /x", null, "another listed method")]
    [InlineData("inspect-methods", "https POST /our-org/repo", "method POST is not in methods", "an unlisted method inside")]
    [InlineData("inspect-both", "CONNECT inspectable", null, "methods and paths both deferred")]
    [InlineData("inspect-both", "CONNECT never-inspected", "method CONNECT is not in methods: the destination is never inspected, so they apply to the CONNECT itself", "methods are named first")]
    [InlineData("inspect-both", "https POST /our-org/repo", "method POST is not in methods", "inside, methods before paths")]
    [InlineData("inspect-both", "https GET /other-org/repo", "path /other-org/repo is not in paths", "inside, then paths")]
    // an inspecting rule with connection keys only: the tunnel is allowed either way
    [InlineData("inspect-plain", "CONNECT inspectable", null, "inspectable")]
    [InlineData("inspect-plain", "CONNECT never-inspected", null, "never-inspected: the untouched tunnel is still allowed")]
    [InlineData("inspect-plain", "https POST /our-org/repo", null, "any request inside")]
    // connection keys are never deferred
    [InlineData("inspect-narrow", "CONNECT inspectable as alice", null, "every connection key matches")]
    [InlineData("inspect-narrow", "CONNECT inspectable :8443", "port 8443 is not in ports [443]", "ports decide the CONNECT")]
    [InlineData("inspect-narrow", "CONNECT inspectable from 10.99.0.1", "client 10.99.0.1 is not in clients", "clients decide the CONNECT")]
    [InlineData("inspect-narrow", "CONNECT inspectable", "the client is anonymous and this rule names users", "users decide the CONNECT")]
    [InlineData("inspect-narrow", "https GET /our-org/repo as alice", null, "inside, with the tunnel's identity")]
    // a tunnelling rule with paths or methods never matches a CONNECT
    [InlineData("tunnel-paths", "CONNECT inspectable", "a CONNECT shows no path and this rule names paths", "tls: tunnel defers nothing")]
    [InlineData("tunnel-paths", "CONNECT never-inspected", "a CONNECT shows no path and this rule names paths", "nor when never inspected")]
    [InlineData("tunnel-paths", "https GET /our-org/repo", null, "but matches requests inside a tunnel another rule inspects")]
    [InlineData("tunnel-paths", "http GET /our-org/repo", null, "and http://")]
    [InlineData("tunnel-get", "CONNECT inspectable", "method CONNECT is not in methods", "methods [GET] on a tunnelling rule")]
    [InlineData("tunnel-get", "https GET /our-org/repo", null, "inside, GET is listed")]
    [InlineData("tunnel-get", "https HEAD /x", "method HEAD is not in methods", "inside, HEAD is not")]
    [InlineData("tunnel-plain", "CONNECT never-inspected", null, "a plain rule matches every CONNECT")]
    [InlineData("tunnel-plain", "https POST /our-org/repo", null, "and every request inside")]
    // schemes
    [InlineData("https-only", "https GET /our-org/repo", null, "scheme https inside an inspected tunnel")]
    [InlineData("https-only", "http GET /our-org/repo", "scheme http is not in schemes", "not http://")]
    [InlineData("https-only", "CONNECT inspectable", "scheme tunnel is not in schemes", "not the CONNECT")]
    [InlineData("http-and-https", "http GET /our-org/repo", null, "http listed")]
    [InlineData("http-and-https", "https GET /our-org/repo", null, "https listed")]
    [InlineData("http-and-https", "CONNECT never-inspected", "scheme tunnel is not in schemes", "tunnel not listed")]
    public void Mismatch(string rule, string request, string? mismatch, string why)
    {
        Rule r = Rules[rule];
        RequestFacts facts = Requests[request];

        string? actual = r.Mismatch(facts);

        Assert.True(mismatch == actual, $"{why}: {rule} vs {request}: got '{actual}'");
        Assert.Equal(actual is null, r.Matches(facts));
    }

    [Theory]
    [InlineData(null, null, null, true, "no request keys")]
    [InlineData(new[] { "/a" }, null, null, false, "paths: a CONNECT shows none")]
    [InlineData(null, new[] { "GET" }, null, false, "methods without CONNECT")]
    [InlineData(null, new[] { "CONNECT" }, null, true, "CONNECT listed")]
    [InlineData(null, new[] { "GET", "CONNECT" }, null, true, "CONNECT among others")]
    [InlineData(null, null, new[] { RequestScheme.Http }, false, "schemes without tunnel")]
    [InlineData(null, null, new[] { RequestScheme.Https }, false, "https is not a tunnel")]
    [InlineData(null, null, new[] { RequestScheme.Tunnel }, true, "tunnel listed")]
    [InlineData(new[] { "/a" }, new[] { "CONNECT" }, new[] { RequestScheme.Tunnel }, false, "paths win over everything")]
    public void MatchesTunnels_says_whether_a_plain_CONNECT_can_match(string[]? paths, string[]? methods, RequestScheme[]? schemes, bool expected, string why)
    {
        foreach (TlsMode tls in new[] { TlsMode.Tunnel, TlsMode.Inspect })
        {
            Rule rule = RuleKit.Rule("r", Allow, paths: paths, methods: methods, schemes: schemes, tls: tls);
            Assert.True(expected == rule.MatchesTunnels, $"{why} (tls {tls})");

            // It is exactly "matches a never-inspected CONNECT" for a rule without connection keys.
            Assert.True(expected == rule.Matches(RuleKit.Connect("github.com", mayInspect: false)), $"{why} (tls {tls}): MatchesTunnels disagrees with matching");
        }
    }

    [Fact]
    public void An_inspecting_rule_that_names_users_waits_on_identity_for_an_inspectable_CONNECT()
    {
        Rule rule = Rules["inspect-narrow"];

        Assert.True(rule.WaitsOnIdentity(RuleKit.Connect("github.com", mayInspect: true)), "the paths are deferred, so only the user is missing");
        Assert.False(rule.WaitsOnIdentity(RuleKit.Connect("github.com", mayInspect: false)), "never-inspected: the paths already fail");
        Assert.False(rule.WaitsOnIdentity(RuleKit.Inside("github.com", "GET", "/other-org/x")), "inside: the path already fails");
        Assert.True(rule.WaitsOnIdentity(RuleKit.Inside("github.com", "GET", "/our-org/x")), "inside: only the user is missing");
    }

    [Fact]
    public void Tls_plays_no_part_in_a_request_inside_or_a_forwarded_one()
    {
        string[] targets = ["/our-org/x", "/other-org/x", "/", "/our-org"];
        foreach (Rule tunnel in Rules.Values.Where(r => r.Tls == TlsMode.Tunnel && r.Schemes.IsEmpty))
        {
            Rule inspect = tunnel with { Tls = TlsMode.Inspect };
            foreach (string method in new[] { "GET", "POST" })
            {
                foreach (string target in targets)
                {
                    foreach (RequestFacts request in new[] { RuleKit.Inside("github.com", method, target), RuleKit.Forwarded("github.com", method, target) })
                    {
                        Assert.Equal(tunnel.Mismatch(request), inspect.Mismatch(request));
                    }
                }
            }
        }
    }

    [Fact]
    public void MayInspect_matters_only_to_inspecting_rules_and_only_on_a_CONNECT()
    {
        foreach (Rule rule in Rules.Values)
        {
            foreach (RequestFacts request in Requests.Values)
            {
                RequestFacts flipped = request with { MayInspect = !request.MayInspect };
                if (rule.Tls == TlsMode.Tunnel || request.Scheme != RequestScheme.Tunnel)
                {
                    Assert.Equal(rule.Mismatch(request), rule.Mismatch(flipped));
                }
            }
        }
    }
}
