using Sluice.Client.Export;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests.Export;

/// <summary>
/// <c>sluice env --format pac</c>: the generated FindProxyForURL, evaluated in Node, answers every (excluded list, URL)
/// pair exactly as <see cref="NoProxyList"/> decides it.
/// </summary>
public sealed class PacExporterTests
{
    // Excluded lists, one per kind of entry and a few mixtures.
    private static readonly string[] Lists =
    [
        "",
        "example.com",
        ".example.com",
        "*.example.com",
        "Example.COM.",
        "*",
        "a.example,*",
        "10.0.0.0/8,192.168.1.1",
        "fd00::/8,::1,[2001:db8::1]",
        "example.com:8443,10.1.2.3:5432,[2001:db8::5]:443,[::1]:8080",
        "bücher.example",
        "localhost,127.0.0.0/8,::1",
        "a.example,b.example:80,*.c.example:443,172.16.0.0/12:8000,fe80::/10",
        "fe80::%en0/10,bad..name,010.0.0.1,x.example",
        "::ffff:10.0.0.0/104,0.0.0.0/0",
        "::/0",
        "under_score.example",
        "a.example b.example\tc.example;localhost",
    ];

    // (url, host) as engines hand them over: browsers pass the canonical host (punycode, IPv4 in dotted decimal,
    // IPv6 with or without brackets); other engines may pass it as written (upper case, odd IPv4 notations).
    private static readonly (string Url, string Host)[] Targets =
    [
        ("http://example.com/", "example.com"),
        ("https://example.com/", "example.com"),
        ("https://example.com:8443/", "example.com"),
        ("http://user:pw@example.com:8443/path?q#f", "example.com"),
        ("wss://example.com:8443/socket", "example.com"),
        ("ws://example.com/socket", "example.com"),
        ("http://www.example.com/", "www.example.com"),
        ("https://deep.www.example.com:8443/", "deep.www.example.com"),
        ("http://notexample.com/", "notexample.com"),
        ("http://example.com.evil/", "example.com.evil"),
        ("http://EXAMPLE.com/", "EXAMPLE.COM"),
        ("http://WWW.Example.Com/", "WWW.Example.Com"),
        ("http://example.com./", "example.com."),
        ("http://www.example.com./", "www.example.com."),
        ("http://www.example.com../", "www.example.com.."),
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://10.1.2.3:5432/", "10.1.2.3"),
        ("ftp://10.1.2.3/", "10.1.2.3"),
        ("http://11.0.0.1/", "11.0.0.1"),
        ("http://192.168.1.1/", "192.168.1.1"),
        ("http://192.168.1.2/", "192.168.1.2"),
        ("http://172.16.5.5:8000/", "172.16.5.5"),
        ("http://172.16.5.5/", "172.16.5.5"),
        ("http://[fd00::1]/", "fd00::1"),
        ("http://[fd00::1]/", "[fd00::1]"),
        ("http://[fe00::1]/", "fe00::1"),
        ("http://[::1]/", "::1"),
        ("http://[::1]/", "[::1]"),
        ("http://[::1]:8080/", "::1"),
        ("http://[0:0:0:0:0:0:0:1]:8080/", "0:0:0:0:0:0:0:1"),
        ("http://[2001:db8::1]/", "2001:db8::1"),
        ("http://[2001:db8::5]/", "[2001:db8::5]"),
        ("https://[2001:db8::5]/", "2001:db8::5"),
        ("https://[2001:DB8:0::5]/", "2001:DB8:0::5"),
        ("http://[fe80::1%25en0]/", "fe80::1%en0"),
        ("http://[fe80::1%25en0]/", "[fe80::1%25en0]"),
        ("http://[::ffff:10.1.2.3]/", "::ffff:a01:203"),
        ("http://[::ffff:10.1.2.3]/", "::ffff:10.1.2.3"),
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.1"),
        ("http://2130706433/", "2130706433"),
        ("http://0x7f.1/", "0x7f.1"),
        ("http://012.1.2.3/", "012.1.2.3"),
        ("http://999.1.2.3/", "999.1.2.3"),
        ("http://[1.2.3.4]/", "[1.2.3.4]"),
        ("http://localhost/", "localhost"),
        ("http://localhost:3000/", "localhost"),
        ("http://app.localhost/", "app.localhost"),
        ("http://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("http://www.xn--bcher-kva.example/", "www.xn--bcher-kva.example"),
        ("https://a.example/", "a.example"),
        ("http://b.example/", "b.example"),
        ("http://b.example:81/", "b.example"),
        ("https://x.c.example/", "x.c.example"),
        ("http://x.c.example/", "x.c.example"),
        ("https://c.example/", "c.example"),
        ("http://under_score.example/", "under_score.example"),
        ("http://x.example/", "x.example"),
        ("http://bad..name/", "bad..name"),
        ("gopher://example.com/", "example.com"),
        ("http://a-b.example/", "a b.example"),
    ];

    [Fact]
    public async Task The_pac_file_decides_every_case_as_the_excluded_list_does()
    {
        var questions = Lists.Select(list => new PacQuestions(Script(list), Targets)).ToArray();

        string[][] answers = await PacRunner.EvaluateAsync(questions);

        var wrong = new List<string>();
        for (int l = 0; l < Lists.Length; l++)
        {
            NoProxyList excluded = NoProxyList.Parse(Lists[l]);
            for (int t = 0; t < Targets.Length; t++)
            {
                (string url, string host) = Targets[t];
                string expected = excluded.Bypasses(host, Port(url)) ? "DIRECT" : "PROXY proxy.test:3128";
                if (answers[l][t] != expected)
                {
                    wrong.Add($"NO_PROXY='{Lists[l]}' FindProxyForURL('{url}', '{host}'): {answers[l][t]}, expected {expected}");
                }
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} of {Lists.Length * Targets.Length} answers differ:\n{string.Join("\n", wrong)}");
    }

    [Fact]
    public async Task An_https_proxy_is_named_with_the_https_keyword_and_an_ipv6_proxy_in_brackets()
    {
        string[][] answers = await PacRunner.EvaluateAsync(
        [
            new(Script("", "https://proxy.test:3129"), [("http://example.com/", "example.com")]),
            new(Script("", "http://[fd00::3128]:3128"), [("http://example.com/", "example.com")]),
        ]);

        Assert.Equal([["HTTPS proxy.test:3129"], ["PROXY [fd00::3128]:3128"]], answers);
    }

    [Fact]
    public void The_file_says_what_it_was_made_from_and_leaves_credentials_out_with_a_lint()
    {
        ExportResult result = new PacExporter().Export(ExportTestData.Representative());

        Assert.Equal(
            [
                "// Proxy auto-config generated by sluice (sluice env --format pac).",
                "// Proxy: http://proxy.test:3128; excluded: localhost,*.corp.example,10.0.0.0/8,db.internal:5432.",
                "var PROXY = \"PROXY proxy.test:3128\";",
            ],
            result.Lines.Take(3));
        Assert.DoesNotContain(result.Lines, l => l.Contains(ExportTestData.Password, StringComparison.Ordinal) || l.Contains("etl", StringComparison.Ordinal));
        Assert.Contains("credentials: a PAC file names the proxy only: left out; the browser asks for them when the proxy answers 407", ExportTestData.Lints(result));
    }

    [Fact]
    public void The_tables_are_sorted_and_grouped_so_the_same_list_in_any_order_gives_the_same_file()
    {
        string one = Script("z.example,10.0.0.0/8,*.b.example,a.example:8443,fd00::/8,a.example");
        string other = Script("fd00::/8,a.example,*.b.example,10.0.0.0/8,a.example:8443,z.example");

        Assert.Equal(one.Split('\n').Skip(2), other.Split('\n').Skip(2)); // the header repeats the list as written
        Assert.Contains("var NAMES = [\n  [\"a.example\", 0, 0],\n  [\"a.example\", 8443, 8443],\n  [\"z.example\", 0, 0]\n];", one, StringComparison.Ordinal);
        Assert.Contains("var SUBDOMAINS = [\n  [\"b.example\", 0, 0]\n];", one, StringComparison.Ordinal);
        Assert.Contains("var NETWORKS = [\n  [\"10.0.0.0\", 8, 0, 0],\n  [\"fd00::\", 8, 0, 0]\n];", one, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsResolve", one, StringComparison.Ordinal);
        Assert.DoesNotContain("isInNet", one, StringComparison.Ordinal);
    }

    [Fact]
    public void Entries_sluice_ignores_and_trust_it_cannot_carry_are_linted()
    {
        ExportResult result = new PacExporter().Export(ExportTestData.With("bad..name,x.example", ca: "/etc/proxy-ca.pem"));

        Assert.Contains("bad..name: not an entry Sluice understands (name, .name, *.name, *, address, CIDR, optionally :port): left out", ExportTestData.Lints(result));
        Assert.Contains(ExportTestData.Lints(result), l => l.StartsWith("--ca: a PAC file carries no trust", StringComparison.Ordinal));
        Assert.Contains(ExportTestData.Lints(result), l => l.StartsWith("localhost: Chrome sends localhost", StringComparison.Ordinal));
    }

    // The port the request goes to: the URL's, else its scheme's default (-1 when unknown, as Uri.Port says), read
    // without Uri, which refuses some of the hosts above that a PAC engine may still be handed.
    private static int Port(string url)
    {
        System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(url, @"^([a-z]+)://(?:[^@/]*@)?(\[[^\]]*\]|[^:/]*)(?::([0-9]+))?");
        return m.Groups[3].Success ? int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) : m.Groups[1].Value switch
        {
            "http" or "ws" => 80,
            "https" or "wss" => 443,
            "ftp" => 21,
            _ => -1,
        };
    }

    private static string Script(string excluded, string proxy = "http://proxy.test:3128") =>
        string.Join("\n", new PacExporter().Export(ExportTestData.With(excluded, proxy)).Lines);
}
