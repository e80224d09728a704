using Sluice.Client.Export;

namespace Sluice.Client.Tests.Export;

/// <summary>NO_PROXY for the environment readers: every entry, what is written, and the lint that names the difference.</summary>
public sealed class EnvNoProxyTests
{
    [Theory]
    [InlineData("example.com", "example.com,.example.com", "example.com: written example.com,.example.com: .NET and Node read a bare name as that host only")]
    [InlineData(".example.com", "example.com,.example.com", "Go reads a leading dot as subdomains only")]
    [InlineData("*.example.com", ".example.com", "*.example.com: curl, Python, .NET and wget read *.example.com literally and match nothing; written .example.com")]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8: a CIDR: curl ≥ 7.86, Go and Python requests honour it, but Python urllib, .NET, Node, wget and older curl")]
    [InlineData("fd00::/8", "fd00::/8", "fd00::/8: an IPv6 CIDR: only Go honours it; curl (7.88.1 verified; IPv4 CIDRs work there)")]
    [InlineData("::1", "::1,[::1]", "::1: written ::1,[::1]: curl and Go compare the bare address, .NET and Python urllib the bracketed host")]
    [InlineData("[::1]:8080", "[::1]:8080", "[::1]:8080: curl, .NET, wget and Python requests never match an address entry with a port")]
    [InlineData("db.internal:5432", "db.internal:5432,.db.internal:5432", "db.internal:5432: curl, .NET and wget never match an entry with a port, and Python only when the URL writes :5432")]
    [InlineData("10.1.2.3:8443", "10.1.2.3:8443", "10.1.2.3:8443: curl, .NET, wget and Python requests never match an address entry with a port")]
    [InlineData("*", "*", "*: .NET and wget have no wildcard and read * as a host name")]
    [InlineData("a.example,*", "*", "*: written alone (it covers the other entries), because curl and Python honour * only as the whole value")]
    [InlineData("Example.COM.", "example.com,.example.com", "example.com")]
    public void Entries_are_written_for_every_runtime_and_differences_linted(string excluded, string written, string lint)
    {
        NoProxyTranslation translation = EnvNoProxy.Translate(NoProxyList.Parse(excluded));
        Assert.Equal(written, translation.Join(","));
        Assert.Contains(translation.Lints, l => l.ToString().Contains(lint, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.0.1,127.0.0.1")]
    public void Plain_ipv4_addresses_read_the_same_everywhere(string excluded)
    {
        NoProxyTranslation translation = EnvNoProxy.Translate(NoProxyList.Parse(excluded));
        Assert.Equal(excluded, translation.Join(","));
        Assert.Empty(translation.Lints);
    }

    [Fact]
    public void Entries_are_separated_by_commas_only_because_Python_wget_Go_and_Node_split_at_nothing_else()
    {
        NoProxyTranslation translation = EnvNoProxy.Translate(NoProxyList.Parse("a.example b.example;10.0.0.1"));
        Assert.Equal("a.example,.a.example,b.example,.b.example,10.0.0.1", translation.Join(","));
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("python")]
    [InlineData("java")]
    [InlineData("node")]
    [InlineData("git")]
    [InlineData("apt")]
    [InlineData("docker")]
    public void Entries_Sluice_does_not_understand_are_left_out_and_linted(string format)
    {
        ExportResult result = ProxyExporters.Find(format)!.Export(ExportTestData.With("good.example,bad*name,host:99999"));
        string text = string.Join("\n", result.Lines);
        Assert.DoesNotContain("bad*name", text);
        Assert.Contains(result.Lints, l => l.Subject == "bad*name" && l.Message.StartsWith("not an entry Sluice understands", StringComparison.Ordinal));
        Assert.Contains(result.Lints, l => l.Subject == "host:99999");
    }
}
