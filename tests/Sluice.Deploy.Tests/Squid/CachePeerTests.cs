using Sluice.Deploy.Squid;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// cache_peer lines to upstreams: the parent's URL, its options, how parents become one upstream, and the login's
/// password, which no output and no note ever carries.
/// </summary>
public sealed class CachePeerTests
{
    private const string Password = "SECRET-PW-4711";

    /// <summary>Translated, written, and checked for the password in the configuration and in every note.</summary>
    private static SquidTranslation Translate(string text)
    {
        SquidTranslation t = SquidTranslatorTests.Translate(text);
        Assert.DoesNotContain(Password, SquidWriter.Write(t, "squid.conf"), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, string.Join("\n", t.Notes), StringComparison.Ordinal);
        return t;
    }

    private static string Upstreams(SquidTranslation t) => string.Join(" | ", t.Upstreams.Select(u =>
        $"{u.Name} {string.Join(",", u.Proxies)} {u.Balance}{(u.User is null ? "" : $" user={u.User} env={u.PasswordEnv}")}{(u.Ca is null ? "" : $" ca={u.Ca}")}"));

    [Theory]
    [InlineData("no-query", "cache_peer proxy.corp parent 3128 0 no-query", "proxy.corp http://proxy.corp:3128 Failover")]
    [InlineData("name= names the upstream", "cache_peer 10.1.2.3 parent 3128 0 name=corp", "corp http://10.1.2.3:3128 Failover")]
    [InlineData("a name that is not a config name is made one", "cache_peer 10.1.2.3 parent 3128 0", "peer-10.1.2.3 http://10.1.2.3:3128 Failover")]
    [InlineData("an IPv6 parent is written in brackets", "cache_peer 2001:db8::1 parent 3128 0", "peer-2001-db8--1 http://[2001:db8::1]:3128 Failover")]
    [InlineData("a parent named direct is renamed", "cache_peer 10.1.2.3 parent 3128 0 name=direct", "direct-2 http://10.1.2.3:3128 Failover")]
    [InlineData("ssl is https://", "cache_peer proxy.corp parent 3129 0 ssl", "proxy.corp https://proxy.corp:3129 Failover")]
    [InlineData("tls is https://", "cache_peer proxy.corp parent 3129 0 tls", "proxy.corp https://proxy.corp:3129 Failover")]
    [InlineData("tls-cafile is the ca", "cache_peer proxy.corp parent 3129 0 tls tls-cafile=/etc/ca.pem", "proxy.corp https://proxy.corp:3129 Failover ca=/etc/ca.pem")]
    [InlineData("sslcafile is the ca", "cache_peer proxy.corp parent 3129 0 ssl sslcafile=/etc/ca.pem", "proxy.corp https://proxy.corp:3129 Failover ca=/etc/ca.pem")]
    [InlineData("a CA without TLS is left out", "cache_peer proxy.corp parent 3128 0 tls-cafile=/etc/ca.pem", "proxy.corp http://proxy.corp:3128 Failover")]
    [InlineData("login= keeps the user and names a variable for the password", $"cache_peer proxy.corp parent 3128 0 login=alice:{Password}", "proxy.corp http://proxy.corp:3128 Failover user=alice env=PROXY_CORP_PROXY_PASSWORD")]
    [InlineData("login= reads URL escapes", $"cache_peer proxy.corp parent 3128 0 login=bob%20smith%%:{Password}", "proxy.corp http://proxy.corp:3128 Failover user=bob smith% env=PROXY_CORP_PROXY_PASSWORD")]
    [InlineData("login=PASSTHRU sends no credentials", "cache_peer proxy.corp parent 3128 0 login=PASSTHRU", "proxy.corp http://proxy.corp:3128 Failover")]
    [InlineData("login=*: sends no credentials", $"cache_peer proxy.corp parent 3128 0 login=*:{Password}", "proxy.corp http://proxy.corp:3128 Failover")]
    [InlineData("a sibling is not an upstream", "cache_peer sib.corp sibling 3128 3130", "")]
    [InlineData("a multicast group is not an upstream", "cache_peer 239.0.0.1 multicast 3128 3130 ttl=16", "")]
    [InlineData("an origin server is not an upstream", "cache_peer app.corp parent 80 0 originserver", "")]
    [InlineData("an unknown type is not an upstream", "cache_peer proxy.corp neighbour 3128 0", "")]
    [InlineData("a port out of range is not an upstream", "cache_peer proxy.corp parent 99999 0", "")]
    [InlineData("a host Sluice cannot connect to is not an upstream", "cache_peer proxy_corp! parent 3128 0", "")]
    [InlineData("too few words", "cache_peer proxy.corp parent", "")]
    [InlineData("a second peer of the same name is left out", "cache_peer a.corp parent 3128 0 name=corp\ncache_peer b.corp parent 3128 0 name=CORP", "corp http://a.corp:3128 Failover")]
    public void A_parent_becomes_an_upstream(string proves, string text, string expected)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        Assert.Equal(expected, Upstreams(Translate(text)));
    }

    [Theory]
    [InlineData("cache_peer p.corp parent 3128 3130", "line 1: cache_peer: p.corp: Sluice sends no ICP queries (port 3130); the upstream's balance picks the parent")]
    [InlineData("cache_peer p.corp parent 3128 0 default", "line 1: cache_peer: p.corp: default (Squid's last resort) needs nothing: Sluice tries the proxies of an upstream in order and probes a proxy marked down again")]
    [InlineData("cache_peer p.corp parent 3128 0 proxy-only", "line 1: cache_peer: p.corp: proxy-only is about Squid's cache or its ICP, HTCP and digest exchanges, which Sluice does not have: nothing to translate")]
    [InlineData("cache_peer p.corp parent 3128 0 no-digest", "line 1: cache_peer: p.corp: no-digest is about Squid's cache")]
    [InlineData("cache_peer p.corp parent 3128 0 connect-timeout=5", "line 1: cache_peer: not translated: p.corp: Sluice has no connect timeout per parent; timeouts.connect applies to parents as to origins")]
    [InlineData("cache_peer p.corp parent 3128 0 connect-fail-limit=2", "line 1: cache_peer: not translated: p.corp: Sluice marks a parent down after 3 failures in a row")]
    [InlineData("cache_peer p.corp parent 3128 0 weight=2", "line 1: cache_peer: not translated: p.corp: the proxies of a Sluice upstream have no weights")]
    [InlineData("cache_peer p.corp parent 3128 0 max-conn=5", "line 1: cache_peer: not translated: p.corp: option 'max-conn' has no Sluice equivalent; the parent is translated without it")]
    [InlineData("cache_peer p.corp parent 3129 0 tls tls-cafile=/ca.pem", "line 1: cache_peer: p.corp: tls-cafile becomes ca: /ca.pem, which must exist and hold PEM certificates when the configuration is loaded")]
    [InlineData("cache_peer p.corp parent 3128 0 sslcafile=/ca.pem", "line 1: cache_peer: not translated: p.corp: sslcafile is for TLS to the parent (ssl or tls), which this peer does not use")]
    [InlineData("cache_peer p.corp parent 3129 0 ssl sslcert=/c.pem", "line 1: cache_peer: not translated: p.corp: sslcert: Sluice presents no client certificate to a parent proxy")]
    [InlineData("cache_peer p.corp parent 3129 0 tls tls-domain=other.corp", "line 1: cache_peer: not translated: p.corp: tls-domain: Sluice checks the parent's certificate against the host name of its URL")]
    [InlineData("cache_peer p.corp parent 3129 0 ssl sslflags=DONT_VERIFY_PEER", "line 1: cache_peer: not translated: p.corp: sslflags: Sluice always verifies the parent's certificate")]
    [InlineData($"cache_peer p.corp parent 3128 0 login=alice:{Password}", "line 1: cache_peer: p.corp: login= becomes credentials.user alice; the password is not copied: Sluice reads it from the environment variable P_CORP_PROXY_PASSWORD when it starts")]
    [InlineData("cache_peer p.corp parent 3128 0 login=PASSTHRU", "line 1: cache_peer: not translated: p.corp: login=PASSTHRU: Sluice never passes its clients' credentials on, it sends fixed ones (login=user:password); translated without credentials")]
    [InlineData("cache_peer p.corp parent 3128 0 login=PROXYPASS", "line 1: cache_peer: not translated: p.corp: login=PROXYPASS: Sluice never passes")]
    [InlineData("cache_peer p.corp parent 3128 0 login=PASS", "line 1: cache_peer: not translated: p.corp: login=PASS: Sluice never passes")]
    [InlineData("cache_peer p.corp parent 3128 0 login=NEGOTIATE:HTTP/p.corp", "line 1: cache_peer: not translated: p.corp: login=NEGOTIATE: Sluice never passes")]
    [InlineData($"cache_peer p.corp parent 3128 0 login=*:{Password}", "line 1: cache_peer: not translated: p.corp: login=*:... sends each client's user name with a fixed password")]
    [InlineData($"cache_peer p.corp parent 3128 0 login={Password}", "line 1: cache_peer: not translated: p.corp: login= is not user:password; translated without credentials")]
    [InlineData("cache_peer sib.corp sibling 3128 3130", "line 1: cache_peer: not translated: sib.corp: a sibling is asked about its cache over ICP; Sluice has no cache and no ICP, so only parents translate")]
    [InlineData("cache_peer 239.0.0.1 multicast 3128 3130", "line 1: cache_peer: not translated: 239.0.0.1: a multicast is asked about its cache over ICP")]
    [InlineData("cache_peer app.corp parent 80 0 originserver name=app", "line 1: cache_peer: not translated: app: originserver is a reverse-proxy backend, not a parent proxy; Sluice is a forward proxy only")]
    [InlineData("cache_peer p.corp neighbour 3128 0", "line 1: cache_peer: not translated: p.corp: type 'neighbour' is not parent, sibling or multicast")]
    [InlineData("cache_peer p.corp parent 99999 0", "line 1: cache_peer: not translated: p.corp: 'p.corp' port '99999' is not a host and port Sluice can connect to")]
    [InlineData("cache_peer p.corp parent", "line 1: cache_peer: not translated: expected cache_peer HOST TYPE HTTP-PORT ICP-PORT [OPTION...]")]
    [InlineData("cache_peer a.corp parent 3128 0 name=x\ncache_peer b.corp parent 3128 0 name=X", "line 2: cache_peer: not translated: X: a second peer of that name (Squid refuses such a file)")]
    [InlineData("cache_peer_domain p.corp .example.com", "line 1: cache_peer_domain: not translated: removed in Squid 4: write cache_peer_access PEER allow DSTDOMAIN-ACL, which translates")]
    public void Options_say_how_they_translate(string text, string expected)
    {
        Assert.Contains(expected, string.Join("\n", Translate(text).Notes), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("failover in file order", "", "", "parents http://a.corp:3128,http://b.corp:3128 Failover", null)]
    [InlineData("round-robin on every parent", "round-robin", "round-robin", "parents http://a.corp:3128,http://b.corp:3128 RoundRobin", null)]
    [InlineData("weighted-round-robin is round-robin", "round-robin", "weighted-round-robin", "parents http://a.corp:3128,http://b.corp:3128 RoundRobin", "parents: weighted-round-robin becomes round-robin: Sluice takes the proxies in turn")]
    [InlineData("carp is hash-destination", "carp", "carp", "parents http://a.corp:3128,http://b.corp:3128 HashDestination", "parents: carp becomes hash-destination: Squid hashes the URL, Sluice hashes host:port")]
    [InlineData("sourcehash fails over", "sourcehash", "sourcehash", "parents http://a.corp:3128,http://b.corp:3128 Failover", "not translated: parents: sourcehash keeps each client on one parent")]
    [InlineData("userhash fails over", "userhash", "userhash", "parents http://a.corp:3128,http://b.corp:3128 Failover", "not translated: parents: userhash keeps each user on one parent")]
    [InlineData("round-robin on some parents fails over", "round-robin", "", "parents http://a.corp:3128,http://b.corp:3128 Failover", "not translated: parents: its parents balance in different ways (round-robin, no option (first up))")]
    public void Parents_without_restrictions_are_one_upstream_balanced_as_their_options_say(string proves, string a, string b, string expected, string? note)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        SquidTranslation t = Translate($"cache_peer a.corp parent 3128 0 no-query {a}\ncache_peer b.corp parent 3128 0 no-query {b}\nnever_direct allow all\nhttp_access allow all");
        Assert.Equal(expected, Upstreams(t));
        Assert.Equal("parents", t.RouteDefault);
        if (note is not null)
        {
            Assert.Contains(note, string.Join("\n", t.Notes), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("the same cache_peer_access lines", "cache_peer_access a allow saas\ncache_peer_access b allow saas", "parents http://a.corp:3128,http://b.corp:3128 Failover")]
    [InlineData("other cache_peer_access lines", "cache_peer_access a allow saas", "a http://a.corp:3128 Failover | b http://b.corp:3128 Failover")]
    public void Parents_with_the_same_cache_peer_access_lines_are_one_upstream(string proves, string access, string expected)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        Assert.Equal(expected, Upstreams(Translate($"acl saas dstdomain .saas.example\ncache_peer a.corp parent 3128 0 name=a\ncache_peer b.corp parent 3128 0 name=b\n{access}")));
    }

    [Fact]
    public void A_parent_with_another_login_is_an_upstream_of_its_own_that_no_rule_uses()
    {
        SquidTranslation t = Translate($"cache_peer a.corp parent 3128 0 login=alice:{Password}\ncache_peer b.corp parent 3128 0 login=bob:{Password}-2\nnever_direct allow all\nhttp_access allow all");
        Assert.Equal("a.corp http://a.corp:3128 Failover user=alice env=A_CORP_PROXY_PASSWORD | b.corp http://b.corp:3128 Failover user=bob env=B_CORP_PROXY_PASSWORD", Upstreams(t));
        string notes = string.Join("\n", t.Notes);
        Assert.Contains("line 2: cache_peer: b.corp: the same requests as a.corp but another login= or CA", notes, StringComparison.Ordinal);
        Assert.Contains("line 2: cache_peer: no rule sends requests through the upstream b.corp (b.corp)", notes, StringComparison.Ordinal);
        Assert.Equal("a.corp", t.RouteDefault);
    }

    [Fact]
    public void The_same_proxy_twice_is_in_its_upstream_once()
    {
        SquidTranslation t = Translate("cache_peer a.corp parent 3128 0 name=one\ncache_peer a.corp parent 3128 0 name=two ssl");
        Assert.Equal("one http://a.corp:3128 Failover", Upstreams(t));
        Assert.Contains("line 2: cache_peer: not translated: two: the same proxy as one (line 1), which is already in its upstream", string.Join("\n", t.Notes), StringComparison.Ordinal);
    }

    [Fact]
    public void Names_that_become_the_same_config_name_are_made_unique()
    {
        SquidTranslation t = Translate("acl s dstdomain .s.example\ncache_peer a.corp parent 3128 0 name=a/b\ncache_peer b.corp parent 3128 0 name=a-b\ncache_peer_access a/b allow s");
        Assert.Equal(["a-b", "a-b-2"], t.Upstreams.Select(u => u.Name));
    }
}
