using Sluice.Deploy.Squid;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// Whole squid.conf files through reader, translator and writer: each result loads as a Sluice configuration, and
/// its rules decide as Squid would (IP literals or names, never resolved).
/// </summary>
public sealed class SquidConversionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-squid-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private SquidConversion Convert(string text) => SquidConversion.Of(text, _dir);

    private SquidConversion ConvertFixture(string name) => Convert(File.ReadAllText(SquidConversion.Fixture(name)));

    [Fact]
    public void The_istio_example_denies_connect_to_other_ports_than_443_and_allows_the_rest()
    {
        SquidConversion c = ConvertFixture("istio-external-proxy.conf");
        Assert.Contains("line 7: http_access: never matches in Sluice (manager", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 8: http_access: never matches", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 11: coredump_dir: not translated", c.Notes, StringComparison.Ordinal);
        Assert.True(c.Allows("example.com:443"));
        Assert.False(c.Allows("example.com:8443"));
        Assert.False(c.Allows("example.com:22"));
        Assert.True(c.Allows("http://example.com:8080/")); // deny CONNECT !SSL_ports is about CONNECT only
        Assert.True(c.Allows("http://example.com/", method: "POST"));
        Assert.Contains("default: deny", c.Yaml, StringComparison.Ordinal); // opposite of the last line, allow all
    }

    [Fact]
    public void Debians_default_config_allows_localhost_on_safe_ports_only()
    {
        SquidConversion c = ConvertFixture("debian-default.conf");
        Assert.Contains("include: not translated", c.Notes, StringComparison.Ordinal);
        Assert.Contains("refresh_pattern: not translated: Sluice does not cache", c.Notes, StringComparison.Ordinal);
        Assert.True(c.Allows("example.com:443", client: "127.0.0.1"));
        Assert.True(c.Allows("http://example.com/", client: "::1"));
        Assert.True(c.Allows("http://example.com:8080/", client: "127.0.0.1")); // 1025-65535 is safe
        Assert.False(c.Allows("example.com:8443", client: "127.0.0.1")); // CONNECT !SSL_ports
        Assert.False(c.Allows("http://example.com:25/", client: "127.0.0.1")); // !Safe_ports
        Assert.False(c.Allows("example.com:443", client: "10.1.1.1")); // localnet is defined but not allowed
        // The last line is deny all: Squid's default (allow) is never reached, and the file says deny.
        Assert.Contains("default: deny", c.Yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void Domains_sources_methods_users_and_timeouts_translate()
    {
        string users = Write("passwd", "alice:$2y$05$abcdefghijklmnopqrstuu5N7tWqkEWdXpHpdgHq2P1GJPkqJq0z6\n");
        SquidConversion c = Convert($"""
            http_port 127.0.0.1:3128
            auth_param basic program /usr/lib/squid/basic_ncsa_auth {users}
            auth_param basic realm Corp Proxy
            auth_param basic children 5
            acl office src 10.20.0.0/16 192.168.1.0/255.255.255.0
            acl vendor dstdomain .example-vendor.com auth.example.net
            acl blocked dst 203.0.113.0/24
            acl SSL_ports port 443
            acl Safe_ports port 80 443 8000-8100
            acl writes method POST PUT
            acl authenticated proxy_auth REQUIRED
            acl admins proxy_auth alice
            acl lunch time 12:00-13:00
            http_access deny !Safe_ports
            http_access deny CONNECT !SSL_ports
            http_access deny blocked
            http_access allow admins
            http_access deny writes !office
            http_access allow vendor authenticated
            http_access allow office lunch
            connect_timeout 1 minute
            read_timeout 15 minutes
            """);
        Assert.Contains("realm: Corp Proxy", c.Yaml, StringComparison.Ordinal);
        Assert.Contains("connect: 1m", c.Yaml, StringComparison.Ordinal);
        Assert.Contains("idle: 15m", c.Yaml, StringComparison.Ordinal);
        Assert.Contains("line 4: auth_param: not translated", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 13: acl: not translated: lunch: type time", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 20: http_access: not translated", c.Notes, StringComparison.Ordinal); // allow office lunch: left out

        Assert.True(c.Allows("api.example-vendor.com:443", user: "bob"));
        Assert.True(c.Allows("example-vendor.com:443", user: "bob")); // .x matches x too
        Assert.True(c.Allows("auth.example.net:443", user: "bob"));
        Assert.False(c.Allows("www.auth.example.net:443", user: "bob")); // x matches exactly
        Assert.False(c.Allows("example.org:443", user: "bob")); // default: deny (last line was allow)
        Assert.True(c.Allows("example.org:443", user: "alice"));
        Assert.False(c.Allows("example.org:8443", user: "alice")); // CONNECT !SSL_ports
        Assert.False(c.Allows("203.0.113.9:443", user: "alice")); // deny blocked comes first
        // deny writes !office: a POST from outside the office is denied, from inside it goes on to the vendor rule.
        Assert.False(c.Allows("http://api.example-vendor.com/", client: "172.16.0.1", method: "POST", user: "bob"));
        Assert.True(c.Allows("http://api.example-vendor.com/", client: "10.20.3.4", method: "POST", user: "bob"));
        Assert.True(c.Allows("http://api.example-vendor.com/", client: "192.168.1.7", method: "PUT", user: "bob"));
        Assert.True(c.Allows("http://api.example-vendor.com/", client: "172.16.0.1", method: "GET", user: "bob"));
    }

    [Fact]
    public void Https_port_and_negated_dstdomain_are_translated_so_that_nothing_more_is_allowed()
    {
        Write("proxy.pem", "cert");
        Write("proxy.key", "key");
        SquidConversion c = Convert($"""
            https_port 0.0.0.0:3129 cert={_dir}/proxy.pem key={_dir}/proxy.key
            http_port 3128 intercept
            acl partners dstdomain .partner.example
            acl localnet src 10.0.0.0/8
            http_access allow localnet !partners
            http_access deny !partners
            http_access allow localnet
            cache_peer parent.example 3128 0 no-query default
            """);
        Assert.Contains("line 2: http_port: not translated: 'intercept'", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 5: http_access: not translated", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 6: http_access: not translated", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 8: cache_peer: not translated", c.Notes, StringComparison.Ordinal);
        Assert.Contains($"certificate: {_dir}/proxy.pem", c.Yaml, StringComparison.Ordinal);
        // Squid: 10.x may reach partners (line 7) and everything else (line 5). Sluice: line 5 is left out and line 6
        // is widened to deny everything, which makes line 7 unreachable: stricter, never more permissive.
        Assert.False(c.Allows("www.partner.example:443"));
        Assert.False(c.Allows("example.com:443"));
        Assert.Contains("never decides anything", c.Notes, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dstdomain_acl_without_a_name_sluice_can_match_never_matches_as_an_empty_dst_acl_does()
    {
        SquidConversion c = Convert("""
            http_port 127.0.0.1:3128
            acl literal dstdomain 192.0.2.1
            acl nowhere dst 999.1.1.1
            http_access allow literal
            http_access deny nowhere
            http_access allow all
            """);
        Assert.Contains("line 2: acl: not translated: literal: '192.0.2.1' is not a domain name", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 4: http_access: never matches in Sluice", c.Notes, StringComparison.Ordinal);
        Assert.Contains("line 5: http_access: never matches in Sluice", c.Notes, StringComparison.Ordinal);
        Assert.DoesNotContain("destinations:", c.Yaml, StringComparison.Ordinal);
        Assert.True(c.Allows("example.com:443"));
    }

    [Theory]
    [InlineData("auth_param basic program /usr/lib/squid/basic_ncsa_auth /nonexistent/passwd\nacl a proxy_auth REQUIRED\nhttp_access allow a", "usersFile: /nonexistent/passwd")]
    [InlineData("cache_peer p.corp parent 3129 0 ssl tls-cafile=/nonexistent/ca.pem\nnever_direct allow all\nhttp_access allow all", "ca: /nonexistent/ca.pem")]
    public void A_file_that_is_not_here_is_written_as_named_and_the_result_does_not_load_yet(string text, string written)
    {
        string yaml = SquidWriter.Write(SquidTranslator.Translate(SquidReader.Read("http_port 3128\n" + text)), "squid.conf");
        Assert.Contains(written, yaml, StringComparison.Ordinal);
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, Path.Combine(_dir, "sluice.yaml")));
        Assert.Contains(written.Split(' ')[1], e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bumped_destinations_are_inspected_their_requests_decided_as_squid_decides_bumped_ones_and_spliced_ones_tunnelled()
    {
        foreach (string file in new[] { "bump/ca.pem", "bump/ca.key", "internal-roots.pem" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(_dir, file))!);
            Write(file, "stand-in: the loader only checks that the file is there");
        }

        SquidConversion c = Convert(File.ReadAllText(SquidConversion.Fixture("bump-some.conf")).Replace("/etc/squid/", _dir + "/", StringComparison.Ordinal));
        Assert.Equal(Path.Combine(_dir, "bump/ca.pem"), c.Config.Inspection!.Ca);
        Assert.Equal(Path.Combine(_dir, "internal-roots.pem"), c.Config.Inspection.UpstreamCa);

        // The CONNECTs: bumped names inspected, spliced ones tunnelled, the terminated one refused.
        Assert.Equal("inspect", c.Tls("github.com:443"));
        Assert.Equal("inspect", c.Tls("mirror.pkg.example:443"));
        Assert.Equal("tunnel", c.Tls("www.bank.example:443"));
        Assert.Equal("tunnel", c.Tls("health.example.com:443"));
        Assert.Equal("tunnel", c.Tls("example.org:443"));
        Assert.Null(c.Tls("cdn.malware.example:443"));
        Assert.Null(c.Tls("github.com:443", client: "192.0.2.1")); // not localnet: deny github
        Assert.Null(c.Tls("example.org:8443")); // CONNECT !SSL_ports

        // Inside the inspected tunnels, as Squid decides bumped requests with http_access.
        Assert.True(c.Allows("https://github.com/our-org/repo"));
        Assert.False(c.Allows("https://github.com/other-org/repo"));
        Assert.False(c.Allows("https://github.com/our-org/../other-org/repo")); // checked as /other-org/repo
        Assert.True(c.Allows("https://mirror.pkg.example/debian/pool/x.deb"));
        Assert.True(c.Allows("https://mirror.pkg.example/debian/pool/x.deb", method: "HEAD"));
        Assert.False(c.Allows("https://mirror.pkg.example/upload", method: "POST"));

        // Paths apply to forwarded requests too; public_docs (url_regex) was left out, and localnet allows it anyway.
        Assert.True(c.Allows("http://github.com/our-org/repo"));
        Assert.False(c.Allows("http://github.com/other"));
        Assert.True(c.Allows("http://docs.example.com/public/x"));
        Assert.Contains("line 30: http_access: not translated: public_docs: url_regex", c.Notes, StringComparison.Ordinal);
    }

    [Fact]
    public void Bump_all_but_banks_inspects_every_tunnel_an_allow_rule_opens_and_no_bank()
    {
        Write("ca.pem", "stand-in");
        SquidConversion c = Convert($"""
            http_port 127.0.0.1:3128 ssl-bump cert={_dir}/ca.pem
            acl localnet src 10.0.0.0/8
            acl step1 at_step SslBump1
            acl banks ssl::server_name .bank.example
            acl uploads method POST PUT
            http_access deny uploads
            http_access allow !CONNECT localnet
            http_access allow localnet
            ssl_bump peek step1
            ssl_bump splice banks
            ssl_bump bump all
            """);
        Assert.Equal(Path.Combine(_dir, "ca.pem"), c.Config.Inspection!.Key); // no key=: the key is in the cert= file
        Assert.Equal("inspect", c.Tls("example.org:443"));
        Assert.Equal("tunnel", c.Tls("online.bank.example:443"));
        Assert.False(c.Allows("https://example.org/form", method: "POST")); // deny uploads sees inside, as in Squid
        Assert.True(c.Allows("https://example.org/form")); // !CONNECT holds inside: schemes [http, https]
        Assert.True(c.Allows("http://example.org/"));
    }
}
