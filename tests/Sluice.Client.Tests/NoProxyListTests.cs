namespace Sluice.Client.Tests;

/// <summary>The one NO_PROXY semantics Sluice documents (curl ≥ 7.87 for names, plus wildcards, CIDRs and ports).</summary>
public sealed class NoProxyListTests
{
    [Theory]
    [InlineData("example.com", "example.com", 443, true, "a name matches itself")]
    [InlineData("example.com", "api.example.com", 443, true, "a name matches its subdomains (curl >= 7.87)")]
    [InlineData(".example.com", "example.com", 443, true, "a leading dot also matches the name itself")]
    [InlineData(".example.com", "a.b.example.com", 443, true, "a leading dot matches deep subdomains")]
    [InlineData("example.com", "notexample.com", 443, false, "a suffix that is not a label boundary does not match")]
    [InlineData("example.com", "example.com.evil.test", 443, false, "a name is not a prefix match")]
    [InlineData("*.example.com", "example.com", 443, false, "*. matches subdomains only")]
    [InlineData("*.example.com", "api.example.com", 443, true, "*. matches a subdomain")]
    [InlineData("*", "anything.test", 80, true, "* matches everything")]
    [InlineData("*", "10.1.2.3", 80, true, "* matches addresses too")]
    [InlineData("EXAMPLE.com", "api.Example.COM", 443, true, "names compare case-insensitively")]
    [InlineData("example.com.", "api.example.com", 443, true, "a trailing dot in the entry is ignored")]
    [InlineData("example.com", "api.example.com.", 443, true, "a trailing dot in the host is ignored")]
    [InlineData("bücher.example", "xn--bcher-kva.example", 443, true, "an IDN entry matches the punycode host")]
    [InlineData("xn--bcher-kva.example", "shop.bücher.example", 443, true, "a punycode entry matches the Unicode host")]
    [InlineData("example.com:8080", "example.com", 8080, true, "host:port matches that port")]
    [InlineData("example.com:8080", "example.com", 443, false, "host:port does not match another port")]
    [InlineData("10.0.0.0/8", "10.1.2.3", 443, true, "a CIDR matches an address inside it")]
    [InlineData("10.0.0.0/8", "11.1.2.3", 443, false, "a CIDR does not match outside it")]
    [InlineData("10.0.0.0/8", "ten.example", 443, false, "a CIDR never matches a name (no DNS lookup is made)")]
    [InlineData("192.168.1.10", "192.168.1.10", 80, true, "a single address matches itself")]
    [InlineData("192.168.1.10", "192.168.1.11", 80, false, "a single address does not match its neighbour")]
    [InlineData("::1", "[::1]", 80, true, "IPv6 loopback, host bracketed")]
    [InlineData("[::1]:8080", "::1", 8080, true, "bracketed IPv6 with a port")]
    [InlineData("fd00::/8", "fd12:3456::1", 443, true, "IPv6 CIDR")]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", 443, true, "an IPv4-mapped host matches the IPv4 CIDR")]
    [InlineData("localhost", "localhost", 3000, true, "localhost")]
    [InlineData("localhost", "127.0.0.1", 3000, false, "localhost is a name: it does not cover the address")]
    [InlineData(".svc.cluster.local", "api.default.svc.cluster.local", 443, true, "the Kubernetes service suffix")]
    // Hosts are read as the proxy reads them (HostNames): an odd IPv4 notation is the address the runtime connects to.
    [InlineData("127.0.0.0/8", "127.1", 80, true, "a short IPv4 notation is 127.0.0.1, as .NET's Uri and curl read it")]
    [InlineData("127.0.0.1", "2130706433", 80, true, "an integer host is the address")]
    [InlineData("127.0.0.1", "0x7f.1", 80, true, "a hex host is the address")]
    [InlineData("example.com", "example.com..", 443, false, "a host the proxy would refuse goes to the proxy, which says why")]
    [InlineData("*", "example.com..", 443, true, "* still sends everything direct")]
    [InlineData("fe80::/10", "fe80::1%eth0", 80, true, "a zone id names this machine's interface; the address is what is matched")]
    [InlineData("fe80::/10", "[fe80::1%25eth0]", 80, true, "a zone id in URI form")]
    [InlineData("::1", "[::1", 80, false, "an unclosed bracket is no address")]
    [InlineData("10.0.0.0/8:443", "10.1.2.3", 443, true, "a CIDR with a port")]
    [InlineData("10.0.0.0/8:443", "10.1.2.3", 80, false, "a CIDR with a port, other port")]
    public void Bypasses(string entry, string host, int port, bool expected, string why)
    {
        Assert.True(NoProxyList.Parse(entry).Bypasses(host, port) == expected, why);
    }

    [Fact]
    public void A_list_of_items_each_comma_separated_is_one_list()
    {
        // The vendor shape: excludedDomains: ["localhost,.svc.cluster.local", "10.0.0.0/8"]
        NoProxyList list = NoProxyList.Parse("localhost,.svc.cluster.local", "10.0.0.0/8", " internal.example ; other.example ");
        Assert.Equal(["localhost", ".svc.cluster.local", "10.0.0.0/8", "internal.example", "other.example"], list.Entries.Select(e => e.Text));
        Assert.True(list.Bypasses("db.ns.svc.cluster.local", 5432));
        Assert.True(list.Bypasses("10.9.9.9", 443));
        Assert.False(list.Bypasses("api.vendor.example", 443));
        Assert.Equal("localhost,.svc.cluster.local,10.0.0.0/8,internal.example,other.example", list.ToString());
    }

    [Theory]
    [InlineData("a.*.b")]
    [InlineData("10.0.0.0/33")]
    [InlineData("host:0")]
    [InlineData("host:99999")]
    [InlineData("host:000443")]
    [InlineData("127.1")]
    [InlineData("2130706433")]
    [InlineData("0x7f.1")]
    [InlineData("0177.0.0.1")]
    [InlineData("010.0.0.1")]
    [InlineData("010.0.0.0/8")]
    [InlineData("*.34")]
    [InlineData("example..com")]
    [InlineData("[fe80::1%2]")]
    public void Entries_that_mean_nothing_are_set_aside_not_guessed(string entry)
    {
        // Odd IPv4 notations are refused as the policy refuses them: "010.0.0.1" is 8.0.0.1 to inet_aton and 10.0.0.1 to
        // a reader, and "127.1" is an address to every URL parser, so no name entry could ever match it.
        NoProxyList list = NoProxyList.Parse(entry);
        Assert.True(list.IsEmpty && list.Ignored.Count > 0, $"'{entry}' kept as {string.Join(",", list.Entries)}");
        Assert.False(list.Bypasses("a.x.b", 443));
    }

    [Fact]
    public void The_empty_list_bypasses_nothing()
    {
        Assert.False(NoProxyList.Parse("", null, " , ").Bypasses("localhost", 80));
    }
}
