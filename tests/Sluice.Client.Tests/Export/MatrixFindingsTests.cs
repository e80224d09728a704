using Sluice.Client.Export;

namespace Sluice.Client.Tests.Export;

/// <summary>
/// What the runtime matrix (tests/Sluice.Cli.Tests/EnvMatrix) found real clients doing, fixed or linted in the
/// exporters: one test per finding, on the exporters alone.
/// </summary>
public sealed class MatrixFindingsTests
{
    private static ExportResult Export(string format, string excluded) => ProxyExporters.Find(format)!.Export(ExportTestData.With(excluded));

    private static ExportLint[] Claims(ExportResult result, string subject, ClientRuntime runtime) =>
        [.. result.Lints.Where(l => l.Subject == subject && l.Differs.Contains(runtime))];

    [Fact]
    public void Curl_is_said_to_ignore_IPv6_CIDRs_and_to_honour_IPv4_ones()
    {
        Assert.NotEmpty(Claims(Export("sh", "fd00::/64"), "fd00::/64", ClientRuntime.Curl));
        Assert.Empty(Claims(Export("sh", "10.0.0.0/8"), "10.0.0.0/8", ClientRuntime.Curl));
        Assert.Contains("curl (7.88.1 verified", Assert.Single(Export("sh", "fd00::/64").Lints, l => l.Subject == "fd00::/64").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_star_the_node_format_unsets_the_proxy_variables_so_npm_goes_direct_too()
    {
        ExportResult result = Export("node", "*");
        Assert.Contains("unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY", result.Lines);
        Assert.DoesNotContain(result.Lines, l => ((string[])["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"]).Any(v => l.StartsWith($"export {v}=", StringComparison.Ordinal)));
        Assert.DoesNotContain(result.Lines, l => l.StartsWith("proxy=", StringComparison.Ordinal) || l.StartsWith("https-proxy=", StringComparison.Ordinal));
        Assert.Contains(result.Lints, l => l.Subject == "*" && l.Message.Contains("npm falls back to HTTP(S)_PROXY", StringComparison.Ordinal));
    }

    [Fact]
    public void Wget_and_dotnet_are_said_to_proxy_with_star()
    {
        ExportResult result = Export("sh", "*");
        Assert.NotEmpty(Claims(result, "*", ClientRuntime.Wget));
        Assert.NotEmpty(Claims(result, "*", ClientRuntime.DotNet));
    }

    [Theory]
    [InlineData("10.1.2.3:8080", true)]
    [InlineData("[fd00::5]:8080", true)]
    [InlineData("db.example:8080", false)]
    public void Requests_is_said_to_ignore_address_entries_with_a_port(string excluded, bool claimed)
    {
        Assert.Equal(claimed, Claims(Export("python", excluded), excluded, ClientRuntime.PythonRequests).Length > 0);
        Assert.Equal(claimed, Claims(Export("sh", excluded), excluded, ClientRuntime.PythonRequests).Length > 0);
    }

    [Theory]
    [InlineData("sh", ClientRuntime.Wget)]
    [InlineData("sh", ClientRuntime.DotNet)]
    [InlineData("python", ClientRuntime.PythonUrllib)]
    [InlineData("python", ClientRuntime.PythonRequests)]
    [InlineData("node", ClientRuntime.Npm)]
    [InlineData("java", ClientRuntime.Java)]
    [InlineData("git", ClientRuntime.Git)]
    [InlineData("apt", ClientRuntime.Apt)]
    public void A_url_with_a_trailing_dot_is_linted_where_the_client_proxies_it(string format, ClientRuntime runtime)
    {
        Assert.NotEmpty(Claims(Export(format, "www.example.com"), ExportLintSubjects.TrailingDot, runtime));
        Assert.DoesNotContain(Export(format, "10.1.2.3").Lints, l => l.Subject == ExportLintSubjects.TrailingDot);
    }

    [Fact]
    public void Sluice_s_own_reader_of_the_sh_lines_is_said_to_send_the_name_of_a_subdomains_only_entry_direct()
    {
        ExportResult result = Export("sh", "*.example.com");
        Assert.NotEmpty(Claims(result, "*.example.com", ClientRuntime.SluiceClient));

        // What the lint says: the sh lines read back by ProxyEnvironment send example.com itself direct.
        ProxySettings settings = ProxyEnvironment.ForHttp(name => name == "no_proxy" ? ".example.com" : name == "http_proxy" ? "http://proxy.test:3128" : null)!;
        Assert.True(settings.Excluded.Bypasses("example.com", 80));
    }

    [Theory]
    [InlineData("fe80::%en0/10")]
    [InlineData("fe80::1%eth0")]
    [InlineData("[fe80::1%25eth0]:8080")]
    public void An_IPv6_zone_entry_is_set_aside_and_linted_not_dropped(string excluded)
    {
        NoProxyList list = NoProxyList.Parse(excluded);
        Assert.Empty(list.Entries);
        Assert.Equal([excluded], list.Ignored);
        Assert.Contains(Export("sh", excluded).Lints, l => l.Subject == excluded && l.Message.StartsWith("not an entry Sluice understands: an IPv6 zone", StringComparison.Ordinal));
    }

    [Fact]
    public void Whitespace_separated_entries_are_linted_for_the_environment_formats()
    {
        Assert.True(NoProxyList.Parse("a.example b.example").SeparatedByWhitespace);
        Assert.False(NoProxyList.Parse(" a.example,b.example ").SeparatedByWhitespace);
        Assert.False(NoProxyList.Parse("a.example, b.example ,c.example").SeparatedByWhitespace); // spaces around commas separate nothing
        Assert.Contains(Export("sh", "a.example b.example").Lints, l => l.Subject == "whitespace");
        Assert.DoesNotContain(Export("sh", "a.example,b.example").Lints, l => l.Subject == "whitespace");
    }

    [Fact]
    public void Go_s_loopback_bypass_is_linted_for_sh()
    {
        Assert.NotEmpty(Claims(Export("sh", "a.example"), ExportLintSubjects.Loopback, ClientRuntime.Go));
    }

    [Theory]
    [InlineData("sh", "bücher.example,.bücher.example")]
    [InlineData("python", ".bücher.example")]
    public void An_internationalised_name_is_also_written_in_unicode_for_urllib_and_dotnet(string format, string unicode)
    {
        ExportResult result = Export(format, "bücher.example");
        Assert.Contains(result.Lines, l => l.StartsWith("export no_proxy=", StringComparison.Ordinal) && l.Contains("xn--bcher-kva.example", StringComparison.Ordinal) && l.Contains(unicode, StringComparison.Ordinal));
    }

    [Fact]
    public void Node_is_said_to_ignore_NODE_USE_ENV_PROXY_before_22_21()
    {
        ExportLint lint = Assert.Single(Export("node", "a.example").Lints, l => l.Subject == NodeExporter.NodeEnvProxy);
        Assert.Equal([ClientRuntime.NodeFetch], lint.Differs);
        Assert.Contains("20.20.2 verified", lint.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> FormatsAndLists()
    {
        var data = new TheoryData<string, string>();
        foreach (string format in ProxyExporters.Formats.Where(f => f != "pac"))
        {
            foreach (string list in (string[])["*", "a.example,*.b.example,.c.example", "10.0.0.0/8,fd00::/64,fd00::5", "a.example:8080,10.1.2.3:8080,[fd00::5]:8080", "bücher.example"])
            {
                data.Add(format, list);
            }
        }

        return data;
    }

    /// <summary>A claim is only as good as its message: each client a lint says differs is named in it.</summary>
    [Theory]
    [MemberData(nameof(FormatsAndLists))]
    public void Every_client_a_lint_claims_is_named_in_its_message(string format, string excluded)
    {
        foreach (ExportLint lint in Export(format, excluded).Lints)
        {
            foreach (ClientRuntime runtime in lint.Differs)
            {
                string[] names = runtime switch
                {
                    ClientRuntime.Curl => ["curl"],
                    ClientRuntime.Wget => ["wget"],
                    ClientRuntime.PythonUrllib => ["urllib", "Python"],
                    ClientRuntime.PythonRequests => ["requests", "Python"],
                    ClientRuntime.NodeFetch => ["Node"],
                    ClientRuntime.Npm => ["npm"],
                    ClientRuntime.Java => ["Java", "JDK"],
                    ClientRuntime.Git => ["git"],
                    ClientRuntime.DotNet => [".NET"],
                    ClientRuntime.Apt => ["apt"],
                    ClientRuntime.Go => ["Go"],
                    _ => ["Sluice.Client"],
                };
                Assert.True(names.Any(n => lint.Message.Contains(n, StringComparison.Ordinal)), $"--format {format}, {lint}: claims {runtime} without naming it");
            }
        }
    }
}
