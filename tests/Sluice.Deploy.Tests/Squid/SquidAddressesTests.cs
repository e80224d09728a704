using System.Net;
using Sluice.Deploy.Squid;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>Squid's address notations, and the set algebra that translates <c>!acl</c> and ANDed acls exactly.</summary>
public sealed class SquidAddressesTests
{
    private static string Show(IEnumerable<IPNetwork> networks) => string.Join(",", networks);

    private static List<IPNetwork> Parse(string list) => [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(IPNetwork.Parse)];

    private static List<PortRange> Ports(string list) =>
        [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => PortRange.TryParse(p, out PortRange r, out _) ? r : throw new ArgumentException(p))];

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("10.1.2.3", "10.1.2.3/32")]
    [InlineData("10.1.2.3/8", "10.0.0.0/8")]
    [InlineData("192.168.1.0/255.255.255.0", "192.168.1.0/24")]
    [InlineData("0.0.0.0/0.0.0.0", "0.0.0.0/0")]
    [InlineData("10.0.0.0-10.0.1.255", "10.0.0.0/23")]
    [InlineData("0.0.0.1-0.0.0.6", "0.0.0.1/32,0.0.0.2/31,0.0.0.4/31,0.0.0.6/32")]
    [InlineData("::1", "::1/128")]
    [InlineData("fe80::1/10", "fe80::/10")]
    [InlineData("10.0.0.0/255.0.255.0", null)]
    [InlineData("10.0.0.9-10.0.0.1", null)]
    [InlineData("10.0.0.0/33", null)]
    [InlineData("10.1", null)]
    [InlineData("example.com", null)]
    public void Parses_squids_address_forms(string text, string? expected)
    {
        bool parsed = SquidAddresses.TryParse(text, out List<IPNetwork> networks);
        Assert.Equal(expected is not null, parsed);
        Assert.Equal(expected ?? "", Show(networks));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16")]
    [InlineData("10.0.0.0/8", "192.168.0.0/16", "")]
    [InlineData("0.0.0.0/0,::/0", "10.0.0.0/8,fd00::/8", "10.0.0.0/8,fd00::/8")]
    [InlineData("10.0.0.0/8,10.1.0.0/16", "10.0.0.0/8", "10.0.0.0/8")]
    public void Intersect_keeps_the_smaller_of_nested_ranges(string a, string b, string expected) =>
        Assert.Equal(expected, Show(AddressSets.Intersect(Parse(a), Parse(b))));

    [Theory]
    [InlineData("", "0.0.0.0/0,::/0")]
    [InlineData("0.0.0.0/0,::/0", "")]
    [InlineData("128.0.0.0/1", "0.0.0.0/1,::/0")]
    [InlineData("0.0.0.0/2,::/1", "64.0.0.0/2,128.0.0.0/1,8000::/1")]
    public void Complement_is_every_address_outside_the_set(string set, string expected) =>
        Assert.Equal(expected, Show(AddressSets.Complement(Parse(set))));

    [Theory]
    [InlineData("10.0.0.0/8,10.0.0.0/8,10.2.0.0/16", "10.0.0.0/8")]
    [InlineData("10.0.0.0/8,::/0", "10.0.0.0/8,::/0")]
    public void Normalize_drops_duplicates_and_contained_ranges(string set, string expected) =>
        Assert.Equal(expected, Show(AddressSets.Normalize(Parse(set))));

    [Theory]
    [InlineData("1-100", "50-200", "50-100")]
    [InlineData("80,443", "1-65535", "80,443")]
    [InlineData("80", "443", "")]
    [InlineData("1-10,20-30", "5-25", "5-10,20-25")]
    public void Port_sets_intersect(string a, string b, string expected) =>
        Assert.Equal(expected, string.Join(",", AddressSets.Intersect(Ports(a), Ports(b))));

    [Theory]
    [InlineData("443", "1-442,444-65535")]
    [InlineData("1-65535", "")]
    [InlineData("", "1-65535")]
    [InlineData("80,81,1-10", "11-79,82-65535")]
    public void Port_complement_is_every_other_port(string ports, string expected) =>
        Assert.Equal(expected, string.Join(",", AddressSets.Complement(Ports(ports))));
}
