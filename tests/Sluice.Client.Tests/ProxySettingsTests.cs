namespace Sluice.Client.Tests;

public sealed class ProxySettingsTests
{
    [Fact]
    public void The_vendor_external_proxy_block_loads_exactly_as_documented()
    {
        ProxySettings settings = VendorProxyConfig.Parse("""
            externalProxy:
              enabled: true
              host: proxy.internal.example
              port: 3129
              type: https
              excludedDomains: ["localhost,.svc.cluster.local"]
              sslRejectUnauthorized: false
              sslCA: |
                -----BEGIN CERTIFICATE-----
                MIIB
                -----END CERTIFICATE-----
            """)!;
        Assert.Equal("proxy.internal.example", settings.Host);
        Assert.Equal(3129, settings.Port);
        Assert.Equal(ProxyType.Https, settings.Type);
        Assert.Equal(["localhost", ".svc.cluster.local"], settings.Excluded.Entries.Select(e => e.Text));
        Assert.False(settings.RejectUnauthorized);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", settings.CaPem);
        Assert.Equal(new Uri("https://proxy.internal.example:3129"), settings.ProxyUri);
    }

    [Fact]
    public void A_disabled_block_means_no_proxy_and_mistakes_name_the_key()
    {
        Assert.Null(VendorProxyConfig.Parse("externalProxy:\n  enabled: false\n  host: p\n  port: 1\n"));
        Assert.Contains("externalProxy.port", Assert.Throws<FormatException>(() => VendorProxyConfig.Parse("externalProxy:\n  host: p\n")).Message);
        Assert.Contains("externalProxy.type 'socks5'", Assert.Throws<FormatException>(() => VendorProxyConfig.Parse("externalProxy:\n  host: p\n  port: 1\n  type: socks5\n")).Message);
        Assert.Contains("unknown key externalProxy.hostname", Assert.Throws<FormatException>(() => VendorProxyConfig.Parse("externalProxy:\n  hostname: p\n")).Message);
    }

    [Theory]
    [InlineData("http://proxy.example:3128", "proxy.example", 3128, ProxyType.Http, null, null)]
    [InlineData("https://proxy.example:3129", "proxy.example", 3129, ProxyType.Https, null, null)]
    [InlineData("proxy.example:8080", "proxy.example", 8080, ProxyType.Http, null, null)]
    [InlineData("http://proxy.example", "proxy.example", 80, ProxyType.Http, null, null)]
    [InlineData("https://etl:p%40ss%3Aword@proxy.example:3129", "proxy.example", 3129, ProxyType.Https, "etl", "p@ss:word")]
    [InlineData("http://[::1]:3128", "::1", 3128, ProxyType.Http, null, null)]
    public void Proxy_urls(string url, string host, int port, ProxyType type, string? user, string? password)
    {
        ProxySettings settings = ProxySettings.FromUrl(url);
        Assert.Equal(host, settings.Host);
        Assert.Equal(port, settings.Port);
        Assert.Equal(type, settings.Type);
        Assert.Equal(user, settings.Credentials?.UserName);
        Assert.Equal(password, settings.Credentials?.Password);
    }

    [Fact]
    public void Urls_round_trip_with_encoded_credentials()
    {
        ProxySettings settings = ProxySettings.FromUrl("https://etl:p%40ss%3Aword@proxy.example:3129");
        Assert.Equal("https://etl:p%40ss%3Aword@proxy.example:3129", settings.ToUrl());
        Assert.Equal("https://proxy.example:3129", settings.ToUrl(includeCredentials: false));
        Assert.Throws<FormatException>(() => ProxySettings.FromUrl("socks5://proxy.example:1080"));
    }

    [Fact]
    public void Environment_lower_case_wins_https_uses_https_proxy_and_cgi_ignores_upper_case_http_proxy()
    {
        var env = new Dictionary<string, string>
        {
            ["HTTPS_PROXY"] = "http://upper:1",
            ["https_proxy"] = "http://lower:2",
            ["HTTP_PROXY"] = "http://attacker:3",
            ["NO_PROXY"] = "localhost,.internal",
        };
        string? Get(string name) => env.TryGetValue(name, out string? v) ? v : null;
        Assert.Equal("lower", ProxyEnvironment.ForHttps(Get)!.Host);
        Assert.Equal("attacker", ProxyEnvironment.ForHttp(Get)!.Host);
        Assert.True(ProxyEnvironment.ForHttps(Get)!.Excluded.Bypasses("db.internal", 5432));

        env["REQUEST_METHOD"] = "GET"; // a CGI program: HTTP_PROXY may be the client's "Proxy:" header
        Assert.Null(ProxyEnvironment.ForHttp(Get));
        env["http_proxy"] = "http://configured:4";
        Assert.Equal("configured", ProxyEnvironment.ForHttp(Get)!.Host);
        env["https_proxy"] = "";
        env["HTTPS_PROXY"] = "";
        Assert.Null(ProxyEnvironment.ForHttps(Get));
    }

    [Fact]
    public void Profiles_choose_the_global_proxy_none_or_their_own()
    {
        ProxySettings global = ProxySettings.FromUrl("http://global:3128");
        ProxySettings partner = ProxySettings.FromUrl("http://partner-proxy:8080");
        var profiles = new ConnectionProfiles(global, new Dictionary<string, ConnectionProfile>
        {
            ["onprem-postgres"] = new() { UseGlobalProxy = false },
            ["partner-sftp"] = new() { UseGlobalProxy = false, Proxy = partner },
            ["s3"] = new() { UseGlobalProxy = true },
        });
        Assert.Same(global, profiles.For("s3"));
        Assert.Same(global, profiles.For("never-configured"));
        Assert.Null(profiles.For("onprem-postgres"));
        Assert.Same(partner, profiles.For("PARTNER-SFTP"));
    }
}
