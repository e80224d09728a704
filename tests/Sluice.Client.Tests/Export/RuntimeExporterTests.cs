using Sluice.Client.Export;

namespace Sluice.Client.Tests.Export;

public sealed class PythonExporterTests
{
    [Fact]
    public void Representative_settings()
    {
        ExportResult result = new PythonExporter().Export(ExportTestData.Representative("/etc/proxy-ca.pem"));
        const string url = "http://etl:s3cr3t%21pw@proxy.test:3128";
        const string noProxy = ".localhost,.corp.example,10.0.0.0/8,.db.internal:5432";
        Assert.Equal(
            [
                $"export http_proxy='{url}'", $"export HTTP_PROXY='{url}'", $"export https_proxy='{url}'", $"export HTTPS_PROXY='{url}'",
                $"export no_proxy='{noProxy}'", $"export NO_PROXY='{noProxy}'",
                "export REQUESTS_CA_BUNDLE='/etc/proxy-ca.pem'", "export SSL_CERT_FILE='/etc/proxy-ca.pem'", "export PIP_CERT='/etc/proxy-ca.pem'",
            ],
            result.Lines);
    }

    [Theory]
    [InlineData("example.com", ".example.com", "written .example.com: requests matches a bare name as a plain suffix")]
    [InlineData(".example.com", ".example.com", null)]
    [InlineData("*.example.com", ".example.com", "Python reads *.example.com literally and matches nothing; written .example.com, which urllib and requests read as example.com and its subdomains, so it also sends example.com itself direct")]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", "requests honours it, urllib reads it as a host name and matches nothing")]
    [InlineData("fd00::/8", "fd00::/8", "urllib and requests read an IPv6 CIDR as a host name")]
    [InlineData("::1", "::1,[::1]", "requests compares the bare address, urllib the bracketed host")]
    [InlineData(".api.example:8443", ".api.example:8443", "Python compares the port only when the URL writes :8443 explicitly")]
    [InlineData("10.1.2.3", "10.1.2.3", null)]
    [InlineData("*", "*", null)]
    [InlineData("a.example,*", "*", "written alone (it covers the other entries): Python honours * only as the whole value")]
    public void No_proxy(string excluded, string written, string? lint)
    {
        NoProxyTranslation translation = PythonExporter.TranslateNoProxy(NoProxyList.Parse(excluded));
        ExportTestData.AssertTranslation(translation, ",", written, lint);
    }

    [Fact]
    public void An_https_proxy_is_linted_for_urllib()
    {
        ExportResult result = new PythonExporter().Export(ExportTestData.With("", "https://proxy.test:3129"));
        Assert.Equal(["type: https: urllib cannot speak TLS to a proxy (it sends plain HTTP to this port); requests and pip can (urllib3 ≥ 1.26)"], ExportTestData.Lints(result));
    }
}

public sealed class NodeExporterTests
{
    [Fact]
    public void Representative_settings()
    {
        ExportResult result = new NodeExporter().Export(ExportTestData.Representative("/etc/proxy-ca.pem"));
        const string url = "http://etl:s3cr3t%21pw@proxy.test:3128";
        const string noProxy = "localhost,.localhost,*.corp.example,10.0.0.0-10.255.255.255,db.internal:5432,.db.internal:5432";
        Assert.Equal(
            [
                "export NODE_USE_ENV_PROXY='1'",
                $"export http_proxy='{url}'", $"export HTTP_PROXY='{url}'", $"export https_proxy='{url}'", $"export HTTPS_PROXY='{url}'",
                $"export no_proxy='{noProxy}'", $"export NO_PROXY='{noProxy}'",
                "export NODE_EXTRA_CA_CERTS='/etc/proxy-ca.pem'",
                "cat >> ~/.npmrc <<'EOF'",
                $"proxy={url}",
                $"https-proxy={url}",
                "noproxy=localhost,corp.example,db.internal",
                "cafile=/etc/proxy-ca.pem",
                "EOF",
            ],
            result.Lines);
    }

    [Theory]
    [InlineData("example.com", "example.com,.example.com", "Node reads a bare name as that host only: written example.com,.example.com")]
    [InlineData("*.example.com", "*.example.com", null)]
    [InlineData("10.0.0.0/8", "10.0.0.0-10.255.255.255", "Node has no CIDR: written as the range 10.0.0.0-10.255.255.255")]
    [InlineData("192.168.1.0/24", "192.168.1.0-192.168.1.255", "range 192.168.1.0-192.168.1.255")]
    [InlineData("fd00::/8", "", "an IPv6 network is left out")]
    [InlineData("api.example:8443", "api.example:8443,.api.example:8443", "written api.example:8443,.api.example:8443")]
    [InlineData("10.1.2.3", "10.1.2.3", null)]
    [InlineData("*,a.example", "*", null)]
    public void Node_no_proxy(string excluded, string written, string? lint)
    {
        NoProxyTranslation translation = NodeExporter.TranslateNodeNoProxy(NoProxyList.Parse(excluded));
        ExportTestData.AssertTranslation(translation, ",", written, lint);
    }

    [Theory]
    [InlineData(".example.com", "example.com", null)]
    [InlineData("*.example.com", "example.com", "npm reads *.example.com literally and matches nothing")]
    [InlineData("10.0.0.0/8", "", "npm's noproxy has no CIDR")]
    [InlineData("::1", "[::1]", "npm cannot reach an IPv6 address directly")]
    [InlineData("api.example:8443", "api.example", "npm's noproxy has no ports: written without one")]
    public void Npm_noproxy(string excluded, string written, string? lint)
    {
        NoProxyTranslation translation = NodeExporter.TranslateNpmNoProxy(NoProxyList.Parse(excluded));
        ExportTestData.AssertTranslation(translation, ",", written, lint);
    }

    [Fact]
    public void A_lone_star_leaves_npm_without_a_proxy()
    {
        ExportResult result = new NodeExporter().Export(ExportTestData.With("*"));
        Assert.DoesNotContain(result.Lines, l => l.StartsWith("proxy=", StringComparison.Ordinal));
        Assert.Contains("export NO_PROXY='*'", result.Lines);
        Assert.Contains(result.Lints, l => l.Message.StartsWith("npm's noproxy has no wildcard", StringComparison.Ordinal));
    }
}

public sealed class GitExporterTests
{
    [Fact]
    public void Representative_settings()
    {
        ExportResult result = new GitExporter().Export(ExportTestData.Representative());
        Assert.Equal(
            [
                "git config --global http.proxy 'http://etl:s3cr3t%21pw@proxy.test:3128'",
                "git config --global http.http://localhost/.proxy ''",
                "git config --global 'http.http://*.localhost/.proxy' ''",
                "git config --global http.https://localhost/.proxy ''",
                "git config --global 'http.https://*.localhost/.proxy' ''",
                "git config --global 'http.http://*.corp.example/.proxy' ''",
                "git config --global 'http.https://*.corp.example/.proxy' ''",
                "git config --global http.http://db.internal:5432/.proxy ''",
                "git config --global 'http.http://*.db.internal:5432/.proxy' ''",
                "git config --global http.https://db.internal:5432/.proxy ''",
                "git config --global 'http.https://*.db.internal:5432/.proxy' ''",
            ],
            result.Lines);
    }

    [Theory]
    [InlineData("example.com", "http://example.com/ http://*.example.com/ https://example.com/ https://*.example.com/", "git's * stands for one label, so deeper names (a.b.example.com) still go through the proxy")]
    [InlineData("example.com", "http://example.com/ http://*.example.com/ https://example.com/ https://*.example.com/", "a key without one means the default port")]
    [InlineData("*.example.com", "http://*.example.com/ https://*.example.com/", "git's * stands for one label")]
    [InlineData("10.1.2.3:8080", "http://10.1.2.3:8080/ https://10.1.2.3:8080/", null)]
    [InlineData("::1", "http://[::1]/ https://[::1]/", "default port")]
    [InlineData("10.0.0.0/8", "", "git matches URLs, not address ranges: left out")]
    public void Urls(string excluded, string written, string? lint)
    {
        NoProxyTranslation translation = GitExporter.TranslateUrls(NoProxyList.Parse(excluded));
        ExportTestData.AssertTranslation(translation, " ", written, lint);
    }

    [Fact]
    public void The_proxy_ca_is_written_for_an_https_proxy_only()
    {
        Assert.Contains("git config --global http.proxySSLCAInfo '/etc/ca.pem'", new GitExporter().Export(ExportTestData.With("", "https://proxy.test:3129", "/etc/ca.pem")).Lines);
        ExportResult http = new GitExporter().Export(ExportTestData.With("", ca: "/etc/ca.pem"));
        Assert.DoesNotContain(http.Lines, l => l.Contains("proxySSLCAInfo", StringComparison.Ordinal));
        Assert.Contains(http.Lints, l => l.Subject == "--ca" && l.Message.Contains("http.sslCAInfo", StringComparison.Ordinal));
    }

    [Fact]
    public void A_lone_star_disables_the_proxy()
    {
        Assert.Equal(["git config --global http.proxy ''"], new GitExporter().Export(ExportTestData.With("*")).Lines);
    }
}

public sealed class AptExporterTests
{
    [Fact]
    public void Representative_settings()
    {
        ExportResult result = new AptExporter().Export(ExportTestData.Representative());
        Assert.Equal(
            [
                "Acquire::http::Proxy \"http://etl:s3cr3t%21pw@proxy.test:3128/\";",
                "Acquire::https::Proxy \"http://etl:s3cr3t%21pw@proxy.test:3128/\";",
                "Acquire::http::Proxy::localhost \"DIRECT\";",
                "Acquire::https::Proxy::localhost \"DIRECT\";",
                "Acquire::http::Proxy::db.internal \"DIRECT\";",
                "Acquire::https::Proxy::db.internal \"DIRECT\";",
            ],
            result.Lines);
    }

    [Theory]
    [InlineData("example.com", "example.com", "apt matches the exact host only: example.com goes direct, its subdomains still go through the proxy")]
    [InlineData("*.example.com", "", "apt has no wildcard: left out")]
    [InlineData("10.0.0.0/8", "", "apt has no address ranges: left out")]
    [InlineData("10.1.2.3", "10.1.2.3", null)]
    [InlineData("mirror.example:8080", "mirror.example", "apt's per-host setting has no port: written for mirror.example, so apt reaches every port of it directly")]
    [InlineData("fd00::5", "", "apt cannot name an IPv6 host: :: separates apt.conf keys")]
    [InlineData("bücher.example", "xn--bcher-kva.example bücher.example", "apt matches the exact host only")]
    public void Hosts(string excluded, string written, string? lint)
    {
        NoProxyTranslation translation = AptExporter.TranslateHosts(NoProxyList.Parse(excluded));
        ExportTestData.AssertTranslation(translation, " ", written, lint);
    }

    [Fact]
    public void A_lone_star_goes_direct()
    {
        Assert.Equal(["Acquire::http::Proxy \"DIRECT\";", "Acquire::https::Proxy \"DIRECT\";"], new AptExporter().Export(ExportTestData.With("*")).Lines);
    }
}

public sealed class CommonLintTests
{
    public static TheoryData<string> AllFormats => new(ProxyExporters.Formats);

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void Lints_never_carry_the_credentials(string format)
    {
        ExportRequest request = ExportTestData.Representative("/etc/proxy-ca.pem") with { };
        request = request with { Proxy = request.Proxy with { RejectUnauthorized = false, Excluded = NoProxyList.Parse("localhost,*.corp.example,10.0.0.0/8,db.internal:5432,::1,bad*,fd00::/8") } };
        ExportResult result = ProxyExporters.Find(format)!.Export(request);
        Assert.NotEmpty(result.Lints);
        Assert.All(result.Lints, l => Assert.DoesNotContain(ExportTestData.Password, l.ToString(), StringComparison.Ordinal));
        Assert.All(result.Lints, l => Assert.DoesNotContain("s3cr3t", l.ToString(), StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void Skip_verify_cannot_be_limited_to_the_proxy_and_is_never_emitted(string format)
    {
        ExportRequest request = ExportTestData.With("");
        ExportResult result = ProxyExporters.Find(format)!.Export(request with { Proxy = request.Proxy with { RejectUnauthorized = false } });
        Assert.Contains(result.Lints, l => l.Subject == "sslRejectUnauthorized: false" && l.Message.Contains("the proxy's certificate is still verified", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Lines, l => l.Contains("insecure", StringComparison.OrdinalIgnoreCase) || l.Contains("sslVerify", StringComparison.OrdinalIgnoreCase) || l.Contains("strict-ssl", StringComparison.Ordinal));
    }

    [Fact]
    public void An_inline_ca_without_a_file_asks_for_one()
    {
        ExportRequest request = ExportTestData.With("");
        ExportResult result = new EnvExporter(EnvStyle.Sh).Export(request with { Proxy = request.Proxy with { CaPem = "-----BEGIN CERTIFICATE-----" } });
        Assert.Contains(result.Lints, l => l.Subject == "sslCA" && l.Message.Contains("pass --ca FILE", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_format_is_registered_once()
    {
        Assert.Equal(["sh", "fish", "powershell", "dotenv", "systemd", "docker", "k8s", "java", "node", "python", "git", "apt", "system", "pac"], ProxyExporters.Formats);
        Assert.Same(ProxyExporters.Find("sh"), ProxyExporters.Find("SH"));
        Assert.Null(ProxyExporters.Find("cmd"));
    }
}
