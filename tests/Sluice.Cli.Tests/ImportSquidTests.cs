using System.Runtime.CompilerServices;
using Sluice.Cli.Commands;

namespace Sluice.Cli.Tests;

/// <summary>
/// `sluice import-squid` on several squid.conf files: each result passes `sluice check`, and `sluice explain`
/// decides as Squid would (IP literals or --no-resolve: no name is ever resolved).
/// </summary>
public sealed class ImportSquidTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-squid-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string name, [CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Squid", name);

    private (int Exit, string Config, string Errors) Convert(string squidConf)
    {
        string output = Path.Combine(_dir, Path.GetFileNameWithoutExtension(squidConf) + ".yaml");
        var errors = new StringWriter();
        int exit = ImportSquidCommand.Run(new FileInfo(squidConf), new FileInfo(output), TextWriter.Null, errors);
        var checkErrors = new StringWriter();
        Assert.True(CheckCommand.Run(new FileInfo(output), TextWriter.Null, checkErrors) == 0, $"sluice check refused the converted file: {checkErrors}\n{File.ReadAllText(output)}");
        return (exit, output, errors.ToString());
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<bool> Allowed(string config, string target, string client = "10.1.1.1", string? method = null, string? user = null)
    {
        var output = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(target, client, user, method, [], NoResolve: true);
        int exit = await ExplainCommand.RunAsync(new FileInfo(config), request, json: false, output, TextWriter.Null, CancellationToken.None);
        Assert.True(exit is 0 or 1, output.ToString());
        return exit == 0;
    }

    [Fact]
    public async Task The_istio_example_denies_connect_to_other_ports_than_443_and_allows_the_rest()
    {
        (int exit, string config, string errors) = Convert(Fixture("istio-external-proxy.conf"));
        Assert.Equal(0, exit);
        Assert.Contains("line 7: http_access: never matches in Sluice (manager", errors, StringComparison.Ordinal);
        Assert.Contains("line 8: http_access: never matches", errors, StringComparison.Ordinal);
        Assert.Contains("line 11: coredump_dir: not translated", errors, StringComparison.Ordinal);
        Assert.True(await Allowed(config, "example.com:443"));
        Assert.False(await Allowed(config, "example.com:8443"));
        Assert.False(await Allowed(config, "example.com:22"));
        Assert.True(await Allowed(config, "http://example.com:8080/")); // deny CONNECT !SSL_ports is about CONNECT only
        Assert.True(await Allowed(config, "http://example.com/", method: "POST"));
        string yaml = File.ReadAllText(config);
        Assert.Contains("default: deny", yaml, StringComparison.Ordinal); // opposite of the last line, allow all
    }

    [Fact]
    public async Task Debians_default_config_allows_localhost_on_safe_ports_only()
    {
        (int exit, string config, string errors) = Convert(Fixture("debian-default.conf"));
        Assert.Equal(0, exit);
        Assert.Contains("include: not translated", errors, StringComparison.Ordinal);
        Assert.Contains("refresh_pattern: not translated: Sluice does not cache", errors, StringComparison.Ordinal);
        Assert.True(await Allowed(config, "example.com:443", client: "127.0.0.1"));
        Assert.True(await Allowed(config, "http://example.com/", client: "::1"));
        Assert.True(await Allowed(config, "http://example.com:8080/", client: "127.0.0.1")); // 1025-65535 is safe
        Assert.False(await Allowed(config, "example.com:8443", client: "127.0.0.1")); // CONNECT !SSL_ports
        Assert.False(await Allowed(config, "http://example.com:25/", client: "127.0.0.1")); // !Safe_ports
        Assert.False(await Allowed(config, "example.com:443", client: "10.1.1.1")); // localnet is defined but not allowed
        // The last line is deny all: Squid's default (allow) is never reached, and the file says deny.
        Assert.Contains("default: deny", File.ReadAllText(config), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Domains_sources_methods_users_and_timeouts_translate()
    {
        string users = Write("passwd", "alice:$2y$05$abcdefghijklmnopqrstuu5N7tWqkEWdXpHpdgHq2P1GJPkqJq0z6\n");
        string conf = Write("corp.conf", $"""
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
        (int exit, string config, string errors) = Convert(conf);
        Assert.Equal(0, exit);
        string yaml = File.ReadAllText(config);
        Assert.Contains("realm: Corp Proxy", yaml, StringComparison.Ordinal);
        Assert.Contains("connect: 1m", yaml, StringComparison.Ordinal);
        Assert.Contains("idle: 15m", yaml, StringComparison.Ordinal);
        Assert.Contains("line 4: auth_param: not translated", errors, StringComparison.Ordinal);
        Assert.Contains("line 13: acl: not translated: lunch: type time", errors, StringComparison.Ordinal);
        Assert.Contains("line 20: http_access: not translated", errors, StringComparison.Ordinal); // allow office lunch: left out

        Assert.True(await Allowed(config, "api.example-vendor.com:443", user: "bob"));
        Assert.True(await Allowed(config, "example-vendor.com:443", user: "bob")); // .x matches x too
        Assert.True(await Allowed(config, "auth.example.net:443", user: "bob"));
        Assert.False(await Allowed(config, "www.auth.example.net:443", user: "bob")); // x matches exactly
        Assert.False(await Allowed(config, "example.org:443", user: "bob")); // default: deny (last line was allow)
        Assert.True(await Allowed(config, "example.org:443", user: "alice"));
        Assert.False(await Allowed(config, "example.org:8443", user: "alice")); // CONNECT !SSL_ports
        Assert.False(await Allowed(config, "203.0.113.9:443", user: "alice")); // deny blocked comes first
        // deny writes !office: a POST from outside the office is denied, from inside it goes on to the vendor rule.
        Assert.False(await Allowed(config, "http://api.example-vendor.com/", client: "172.16.0.1", method: "POST", user: "bob"));
        Assert.True(await Allowed(config, "http://api.example-vendor.com/", client: "10.20.3.4", method: "POST", user: "bob"));
        Assert.True(await Allowed(config, "http://api.example-vendor.com/", client: "192.168.1.7", method: "PUT", user: "bob"));
        Assert.True(await Allowed(config, "http://api.example-vendor.com/", client: "172.16.0.1", method: "GET", user: "bob"));
    }

    [Fact]
    public async Task Https_port_and_negated_dstdomain_are_translated_so_that_nothing_more_is_allowed()
    {
        Write("proxy.pem", "cert");
        Write("proxy.key", "key");
        string conf = Write("tls.conf", $"""
            https_port 0.0.0.0:3129 cert={_dir}/proxy.pem key={_dir}/proxy.key
            http_port 3128 intercept
            acl partners dstdomain .partner.example
            acl localnet src 10.0.0.0/8
            http_access allow localnet !partners
            http_access deny !partners
            http_access allow localnet
            cache_peer parent.example 3128 0 no-query default
            """);
        (int exit, string config, string errors) = Convert(conf);
        Assert.Equal(0, exit);
        Assert.Contains("line 2: http_port: not translated: 'intercept'", errors, StringComparison.Ordinal);
        Assert.Contains("line 5: http_access: not translated", errors, StringComparison.Ordinal);
        Assert.Contains("line 6: http_access: not translated", errors, StringComparison.Ordinal);
        Assert.Contains("line 8: cache_peer: not translated", errors, StringComparison.Ordinal);
        string yaml = File.ReadAllText(config);
        Assert.Contains($"certificate: {_dir}/proxy.pem", yaml, StringComparison.Ordinal);
        // Squid: 10.x may reach partners (line 7) and everything else (line 5). Sluice: line 5 is left out and line 6
        // is widened to deny everything, which makes line 7 unreachable: stricter, never more permissive.
        Assert.False(await Allowed(config, "www.partner.example:443"));
        Assert.False(await Allowed(config, "example.com:443"));
        Assert.Contains("never decides anything", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dstdomain_acl_without_a_name_sluice_can_match_never_matches_as_an_empty_dst_acl_does()
    {
        string conf = Write("empty.conf", """
            http_port 127.0.0.1:3128
            acl literal dstdomain 192.0.2.1
            acl nowhere dst 999.1.1.1
            http_access allow literal
            http_access deny nowhere
            http_access allow all
            """);
        (int exit, string config, string errors) = Convert(conf);
        Assert.Equal(0, exit);
        Assert.Contains("line 2: acl: not translated: literal: '192.0.2.1' is not a domain name", errors, StringComparison.Ordinal);
        Assert.Contains("line 4: http_access: never matches in Sluice", errors, StringComparison.Ordinal);
        Assert.Contains("line 5: http_access: never matches in Sluice", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("destinations:", File.ReadAllText(config), StringComparison.Ordinal);
        Assert.True(await Allowed(config, "example.com:443"));
    }

    [Fact]
    public void A_missing_users_file_is_reported_and_the_exit_code_says_so()
    {
        string conf = Write("auth.conf", "http_port 3128\nauth_param basic program /usr/lib/squid/basic_ncsa_auth /nonexistent/passwd\nacl a proxy_auth REQUIRED\nhttp_access allow a\n");
        var errors = new StringWriter();
        var output = new StringWriter();
        int exit = ImportSquidCommand.Run(new FileInfo(conf), null, output, errors);
        Assert.Equal(1, exit);
        Assert.Contains("does not load yet", errors.ToString(), StringComparison.Ordinal);
        Assert.Contains("usersFile: /nonexistent/passwd", output.ToString(), StringComparison.Ordinal);
    }
}
