using Sluice.Deploy.Squid;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// always_direct, never_direct, prefer_direct, nonhierarchical_direct and cache_peer_access as via: an allow line
/// becomes one rule per route Squid would take for its requests, the last being the line's own condition.
/// </summary>
public sealed class SquidRoutesTests
{
    private const string Acls = """
        acl localnet src 10.0.0.0/8
        acl saas dstdomain .example-saas.com
        acl intranet dstdomain .corp.example
        acl lunch time 12:00-13:00
        acl corpnet dst 10.0.0.0/8

        """;

    private const string Peer = "cache_peer proxy.corp parent 3128 0 no-query name=corp\n";

    private static SquidTranslation Translate(string text) => SquidTranslatorTests.Translate(Acls + text);

    private static string Notes(SquidTranslation t) => string.Join("\n", t.Notes);

    [Theory]
    [InlineData("without never_direct GET goes to the parent and the rest direct", Peer + "http_access allow localnet",
        "allow-localnet-GET allow methods=GET clients=10.0.0.0/8 via=corp | allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("never_direct allow all is route.default", Peer + "never_direct allow all\nhttp_access allow localnet",
        "allow-localnet allow clients=10.0.0.0/8", "corp")]
    [InlineData("always_direct comes first", Peer + "always_direct allow intranet\nnever_direct allow all\nhttp_access allow localnet",
        "allow-localnet-intranet allow dest=.corp.example clients=10.0.0.0/8 via=direct | allow-localnet allow clients=10.0.0.0/8", "corp")]
    [InlineData("always_direct deny lines go on to never_direct", Peer + "always_direct deny saas\nalways_direct allow all\nnever_direct allow all\nhttp_access allow localnet",
        "allow-localnet-saas allow dest=.example-saas.com clients=10.0.0.0/8 via=corp | allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("never_direct allow ACL sends those requests through the parent", Peer + "never_direct allow saas\nhttp_access allow localnet",
        "allow-localnet-saas allow dest=.example-saas.com clients=10.0.0.0/8 via=corp | allow-localnet-GET allow methods=GET clients=10.0.0.0/8 via=corp | allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("cache_peer_access allow picks the destinations", Peer + "cache_peer_access corp allow saas\nnever_direct allow saas\nhttp_access allow localnet",
        "allow-localnet-saas allow dest=.example-saas.com clients=10.0.0.0/8 via=corp | allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("what no parent takes under never_direct is refused", Peer + "cache_peer_access corp deny intranet\nnever_direct allow all\nhttp_access allow localnet",
        "deny-localnet-intranet deny dest=.corp.example clients=10.0.0.0/8 | allow-localnet allow clients=10.0.0.0/8", "corp")]
    [InlineData("a negated dstdomain is taken apart", Peer + "cache_peer_access corp allow !intranet\nnever_direct allow all\nhttp_access allow localnet",
        "deny-localnet-intranet deny dest=.corp.example clients=10.0.0.0/8 | allow-localnet allow clients=10.0.0.0/8", "corp")]
    [InlineData("never_direct without parents refuses", "never_direct allow saas\nhttp_access allow localnet",
        "deny-localnet-saas deny dest=.example-saas.com clients=10.0.0.0/8 | allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("nonhierarchical_direct off sends every request to the parent", Peer + "nonhierarchical_direct off\nhttp_access allow localnet",
        "allow-localnet allow clients=10.0.0.0/8", "corp")]
    [InlineData("prefer_direct on goes direct", Peer + "prefer_direct on\nhttp_access allow localnet", "allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("always_direct without parents changes nothing", "always_direct allow intranet\nhttp_access allow localnet", "allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("the line's own acl is not repeated", Peer + "cache_peer_access corp allow saas\nnever_direct allow all\nhttp_access allow saas",
        "allow-saas allow dest=.example-saas.com via=corp", null)]
    [InlineData("names are intersected", Peer + "cache_peer_access corp allow saas\nnever_direct allow all\nacl vendors dstdomain api.example-saas.com .vendor.example\nhttp_access allow vendors",
        "allow-vendors-saas allow dest=api.example-saas.com via=corp | deny-vendors deny dest=api.example-saas.com,.vendor.example", null)]
    [InlineData("deny lines have no via", Peer + "never_direct allow saas\nhttp_access deny intranet\nhttp_access allow all",
        "deny-intranet deny dest=.corp.example | allow-saas allow dest=.example-saas.com via=corp | allow-GET allow methods=GET via=corp | allow-all allow", null)]
    [InlineData("the first parent that takes a request is its upstream", "cache_peer a.corp parent 3128 0 name=a\ncache_peer b.corp parent 3128 0 name=b\ncache_peer_access a allow saas\nnever_direct allow all\nhttp_access allow localnet",
        "allow-localnet-saas allow dest=.example-saas.com clients=10.0.0.0/8 via=a | allow-localnet allow clients=10.0.0.0/8", "b")]
    [InlineData("a route Sluice cannot express is left out", Peer + "never_direct allow lunch\nnever_direct allow saas\nhttp_access allow localnet",
        "allow-localnet-saas allow dest=.example-saas.com clients=10.0.0.0/8 via=corp | allow-localnet-GET allow methods=GET clients=10.0.0.0/8 via=corp | allow-localnet allow clients=10.0.0.0/8", null)]
    [InlineData("acls a rule cannot hold together refuse more", Peer + "cache_peer_access corp allow corpnet\nnever_direct allow all\nhttp_access allow saas",
        "deny-saas deny dest=.example-saas.com", null)]
    public void Allow_lines_become_one_rule_per_route(string proves, string text, string expected, string? routeDefault)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        SquidTranslation t = Translate(text);
        Assert.Equal(expected, SquidTranslatorTests.Rules(t));
        Assert.Equal(routeDefault, t.RouteDefault);
    }

    [Theory]
    [InlineData(Peer + "http_access allow all", "cache_peer: without never_direct, Squid sends GET requests to a parent first (direct when it fails) and every other request direct (nonhierarchical_direct)")]
    [InlineData(Peer + "prefer_direct on\nhttp_access allow all", "prefer_direct: on: Squid goes direct first and to a parent when that fails; Sluice has no fallback")]
    [InlineData(Peer + "nonhierarchical_direct off\nhttp_access allow all", "nonhierarchical_direct: off: the requests never_direct does not cover go to the parents first")]
    [InlineData(Peer + "prefer_direct maybe", "prefer_direct: not translated: expected on or off")]
    [InlineData(Peer + "never_direct", "never_direct: not translated: expected never_direct allow|deny ACL...")]
    [InlineData(Peer + "cache_peer_access corp", "cache_peer_access: not translated: expected cache_peer_access PEER allow|deny ACL...")]
    [InlineData(Peer + "cache_peer_access other allow all", "cache_peer_access: not translated: no cache_peer is named other (Squid refuses such a file)")]
    [InlineData("always_direct allow intranet", "always_direct: no parent is translated: every request goes direct anyway")]
    [InlineData("never_direct allow all\nhttp_access allow all", "never_direct: no parent is translated, so Squid cannot forward the requests never_direct keeps from going direct: the rules that allow them deny instead")]
    [InlineData(Peer + "cache_peer_access corp deny intranet\nnever_direct allow all\nhttp_access allow all", "never_direct: Squid cannot forward the requests never_direct keeps from going direct when no cache_peer_access lets them through")]
    [InlineData(Peer + "never_direct allow lunch\nhttp_access allow all", "never_direct: not translated: lunch: acl type time has no Sluice equivalent: Sluice cannot single out the requests that go through corp (never_direct line 7), so they leave as the requests after them do")]
    [InlineData(Peer + "cache_peer_access corp allow corpnet\nnever_direct allow all\nhttp_access allow saas", "line 9: http_access: not translated: through corp (never_direct line 8, cache_peer_access line 7): Sluice cannot put this line's acls and those on one rule (a dstdomain and a dst acl on one line")]
    [InlineData(Peer + "cache_peer_access corp allow saas\nnever_direct allow all\nhttp_access deny intranet", "line 0: never_direct: not translated: the requests no http_access line matches are allowed in Squid but, where no parent takes them, cannot be forwarded: the default is deny")]
    [InlineData(Peer + "never_direct allow saas\nhttp_access deny intranet", "line 0: never_direct: not translated: the requests no http_access line matches leave direct (route.default)")]
    [InlineData("cache_peer a.corp parent 3128 0 name=a\ncache_peer b.corp parent 3128 0 name=b\nacl x dstdomain .x.example\ncache_peer_access b allow x\nnever_direct allow all\nhttp_access allow all",
        "cache_peer: no rule sends requests through the upstream b (b): no allowed request reaches it first in Squid's order")]
    public void Notes_say_how_routes_translate(string text, string expected) => Assert.Contains(expected, Notes(Translate(text)), StringComparison.Ordinal);

    [Fact]
    public void A_rule_says_which_lines_chose_its_route()
    {
        SquidTranslation t = Translate(Peer + "always_direct allow intranet\ncache_peer_access corp deny saas\nnever_direct allow all\nhttp_access allow localnet");
        Assert.Equal(
            ["direct: always_direct line 7", "nowhere (no parent takes them and Squid may not go direct): never_direct line 9, cache_peer_access line 8", "through corp: never_direct line 9, cache_peer_access's implicit allow after line 8"],
            t.Rules.Select(r => r.Route));
        string yaml = SquidWriter.Write(t, "squid.conf");
        Assert.Contains("# line 10: http_access allow localnet\n# direct: always_direct line 7\n  - name: allow-localnet-intranet\n", yaml, StringComparison.Ordinal);
        Assert.Contains("  # line 10: http_access allow localnet\n  # through corp: never_direct line 9, cache_peer_access's implicit allow after line 8\n  - name: allow-localnet\n", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_route_is_written_when_it_is_an_upstream()
    {
        string yaml = SquidWriter.Write(Translate(Peer + "never_direct allow all\nhttp_access allow localnet"), "squid.conf");
        Assert.Contains("# Where allowed requests go when their rule has no via:\nroute:\n  default: corp\n", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("    via:", yaml, StringComparison.Ordinal);
    }
}
