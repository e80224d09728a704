using System.Net;
using Sluice.Policy.Addresses;

namespace Sluice.Policy.Tests.Addresses;

public sealed class NetworksTests
{
    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", "an IPv4 CIDR")]
    [InlineData("192.168.0.0/16", "192.168.0.0/16", "another IPv4 CIDR")]
    [InlineData("10.1.2.3", "10.1.2.3/32", "a bare IPv4 address is a /32")]
    [InlineData("10.1.2.3/32", "10.1.2.3/32", "an explicit /32")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0", "everything IPv4")]
    [InlineData("0.0.0.0", "0.0.0.0/32", "the unspecified address alone")]
    [InlineData("255.255.255.255/32", "255.255.255.255/32", "the highest address")]
    [InlineData("  172.16.0.0/12  ", "172.16.0.0/12", "surrounding spaces are trimmed")]
    [InlineData("fd00::/8", "fd00::/8", "an IPv6 CIDR")]
    [InlineData("FD00::/8", "fd00::/8", "upper-case hex")]
    [InlineData("::1", "::1/128", "a bare IPv6 address is a /128")]
    [InlineData("::/0", "::/0", "everything IPv6")]
    [InlineData("2001:db8::/32", "2001:db8::/32", "documentation prefix")]
    [InlineData("fd00:ec2::254", "fd00:ec2::254/128", "the AWS metadata address")]
    [InlineData("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", "mapped notation with a dotted tail")]
    public void Parses(string text, string expected, string why)
    {
        Assert.True(Networks.TryParse(text, out IPNetwork network), $"{why}: '{text}' should parse");
        Assert.True(expected == network.ToString(), $"{why}: expected {expected}, got {network}");
        Assert.Equal(network, Networks.Parse(text));
    }

    [Theory]
    [InlineData("10.1.2.3/8", "host bits set beyond the prefix")]
    [InlineData("192.168.1.0/16", "host bits set in the third octet")]
    [InlineData("fd00::1/8", "IPv6 host bits set")]
    [InlineData("10.0.0.0/33", "prefix longer than 32")]
    [InlineData("::/129", "prefix longer than 128")]
    [InlineData("10.0.0.0/-1", "negative prefix")]
    [InlineData("10.0.0.0/", "missing prefix")]
    [InlineData("/8", "missing address")]
    [InlineData("10.0.0.0/8/8", "two prefixes")]
    [InlineData("10/8", "inet_aton short form: one part")]
    [InlineData("10.1/16", "inet_aton short form: two parts")]
    [InlineData("10.1.0/24", "inet_aton short form: three parts")]
    [InlineData("167772160", "inet_aton form: one 32-bit number")]
    [InlineData("0x0a.0.0.0/8", "hexadecimal octet")]
    [InlineData("010.0.0.0/8", "leading zero: inet_aton reads 010 as octal 8")]
    [InlineData("10.0.0.01", "leading zero in the last octet")]
    [InlineData("10.0.0.256", "octet out of range")]
    [InlineData("10.0.0.0.0", "five octets")]
    [InlineData("example.com", "a name")]
    [InlineData("", "empty")]
    [InlineData("   ", "only spaces")]
    [InlineData("10.0.0.0 /8", "space before the slash")]
    [InlineData("fd00::/+8", "signed prefix")]
    public void Refuses(string text, string why)
    {
        Assert.False(Networks.TryParse(text, out _), $"{why}: '{text}' should be refused");
        Assert.Throws<FormatException>(() => Networks.Parse(text));
    }
}
