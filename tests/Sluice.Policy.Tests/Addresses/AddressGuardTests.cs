using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Addresses;
using Sluice.Policy.Decisions;

namespace Sluice.Policy.Tests.Addresses;

public sealed class AddressGuardTests
{
    // As the server hands them over: wildcard listeners (0.0.0.0:3129, [::]:3130) expanded into the machine's addresses.
    private static readonly IPEndPoint[] OwnListeners =
    [
        IPEndPoint.Parse("127.0.0.1:3128"),
        IPEndPoint.Parse("10.0.0.5:3129"),
        IPEndPoint.Parse("127.0.0.1:3129"),
        IPEndPoint.Parse("0.0.0.0:3129"),
        IPEndPoint.Parse("10.0.0.5:3130"),
        IPEndPoint.Parse("[fd00::5]:3130"),
        IPEndPoint.Parse("0.0.0.0:3130"),
        IPEndPoint.Parse("[::]:3130"),
        IPEndPoint.Parse("[::1]:3131"),
    ];

    [Theory]
    // allow, deny, address, port, allowed, the detail names...
    [InlineData("", "", "8.8.8.8", 443, true, "8.8.8.8 is public", "public passes with no configuration")]
    [InlineData("", "", "2606:4700:4700::1111", 443, true, "is public", "public IPv6 passes")]
    [InlineData("", "", "10.1.2.3", 443, false, "10.1.2.3 is private (10.0.0.0/8)", "private refused, range named")]
    [InlineData("", "", "127.0.0.1", 80, false, "loopback (127.0.0.0/8)", "loopback refused")]
    [InlineData("", "", "169.254.169.254", 80, false, "link-local (169.254.0.0/16)", "cloud metadata refused")]
    [InlineData("", "", "fd00:ec2::254", 80, false, "private (fc00::/7)", "AWS IPv6 metadata refused")]
    [InlineData("", "", "100.64.0.1", 443, false, "carrier-grade NAT (100.64.0.0/10)", "CGNAT refused")]
    [InlineData("", "", "0.0.0.0", 80, false, "unspecified (0.0.0.0/32)", "0.0.0.0 (reaches localhost on Linux) refused")]
    [InlineData("", "", "::", 80, false, "unspecified (::/128)", ":: refused")]
    [InlineData("", "", "224.0.0.1", 80, false, "multicast (224.0.0.0/4)", "multicast refused")]
    [InlineData("", "", "::ffff:127.0.0.1", 80, false, "127.0.0.1 is loopback (127.0.0.0/8)", "mapped loopback refused, shown as IPv4")]
    [InlineData("", "", "64:ff9b::a9fe:a9fe", 80, false, "NAT64 64:ff9b::/96 of 169.254.169.254", "NAT64 metadata refused, form named")]
    [InlineData("", "", "2001:0:4136:e378:8000:63bf:f5ff:fffe", 80, false, "Teredo 2001::/32 client of 10.0.0.1", "Teredo private client refused")]
    [InlineData("10.0.0.0/8", "", "10.1.2.3", 443, true, "10.1.2.3 is in addresses.allow 10.0.0.0/8", "allow lets a private range through")]
    [InlineData("10.0.0.0/8", "", "::ffff:10.1.2.3", 443, true, "10.1.2.3 is in addresses.allow 10.0.0.0/8", "allow covers the mapped form")]
    [InlineData("10.0.0.0/8", "", "10.1.2.3", 8080, true, "addresses.allow", "allow applies to every port")]
    [InlineData("10.0.0.0/8", "", "11.0.0.1", 443, true, "11.0.0.1 is public", "allow does not change what is outside it")]
    [InlineData("10.0.0.0/8", "", "192.168.0.1", 443, false, "private (192.168.0.0/16)", "allow of one private range leaves the others refused")]
    [InlineData("10.0.0.0/8", "", "64:ff9b::a01:203", 443, false, "NAT64 64:ff9b::/96 of 10.1.2.3", "allow is literal: the NAT64 form is not allowed")]
    [InlineData("169.254.169.254/32", "", "169.254.169.254", 80, true, "addresses.allow 169.254.169.254/32", "metadata reachable only when listed")]
    [InlineData("fd00::/8", "", "fd00:ec2::254", 80, true, "addresses.allow fd00::/8", "IPv6 allow")]
    [InlineData("10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", 443, false, "10.1.2.3 is in addresses.deny 10.1.0.0/16", "deny beats a wider allow")]
    [InlineData("10.1.2.3/32", "10.0.0.0/8", "10.1.2.3", 443, false, "addresses.deny 10.0.0.0/8", "deny beats a narrower allow")]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", "10.1.2.3", 443, false, "addresses.deny 10.0.0.0/8", "deny beats the same allow")]
    [InlineData("10.0.0.0/8", "10.1.0.0/16", "10.2.0.1", 443, true, "addresses.allow 10.0.0.0/8", "allow still applies outside the deny")]
    [InlineData("", "8.8.8.0/24", "8.8.8.8", 53, false, "8.8.8.8 is in addresses.deny 8.8.8.0/24", "deny refuses a public address")]
    [InlineData("", "8.8.8.0/24", "::ffff:8.8.8.8", 53, false, "8.8.8.8 is in addresses.deny 8.8.8.0/24", "deny covers the mapped form")]
    [InlineData("", "8.8.8.0/24", "64:ff9b::808:808", 53, false, "leads to 8.8.8.8, which is in addresses.deny 8.8.8.0/24", "deny covers the NAT64 form (DNS64)")]
    [InlineData("", "8.8.8.0/24", "2002:808:808::1", 53, false, "leads to 8.8.8.8, which is in addresses.deny 8.8.8.0/24", "deny covers the 6to4 form")]
    [InlineData("", "8.8.8.0/24", "2001:0:4136:e378:8000:63bf:f7f7:f7f7", 53, false, "leads to 8.8.8.8", "deny covers the Teredo client")]
    [InlineData("", "2001:db8::/32", "2001:db8::1", 443, false, "addresses.deny 2001:db8::/32", "IPv6 deny")]
    [InlineData("", "8.8.8.0/24", "8.8.4.4", 53, true, "8.8.4.4 is public", "deny does not reach outside its range")]
    public void Deny_then_allow_then_class(string allow, string deny, string address, int port, bool allowed, string detail, string why)
    {
        var guard = new AddressGuard(Networks(allow), Networks(deny), []);
        Decision decision = guard.Check(IPAddress.Parse(address), port);
        AssertDecision(decision, allowed, detail, why);
        Assert.Equal(allowed, guard.Allows(IPAddress.Parse(address), port)); // the pooled-connection check, without the sentence
    }

    [Theory]
    [InlineData("", "127.0.0.1", 3128, false, "127.0.0.1:3128 is this proxy's own listener", "own listener refused, and named as such rather than as loopback")]
    [InlineData("", "::ffff:127.0.0.1", 3128, false, "127.0.0.1:3128 is this proxy's own listener", "own listener refused through the mapped form")]
    [InlineData("", "127.0.0.1", 3127, false, "loopback (127.0.0.0/8)", "same address, other port: only the class refuses")]
    [InlineData("", "10.0.0.5", 3129, false, "10.0.0.5:3129 is this proxy's own listener", "0.0.0.0 listener covers any local address on its port")]
    [InlineData("", "127.0.0.1", 3129, false, "127.0.0.1:3129 is this proxy's own listener", "0.0.0.0 listener covers loopback on its port")]
    [InlineData("", "10.0.0.5", 3130, false, "10.0.0.5:3130 is this proxy's own listener", "[::] listener covers IPv4 on its port (dual mode)")]
    [InlineData("", "fd00::5", 3130, false, "[fd00::5]:3130 is this proxy's own listener", "[::] listener covers IPv6 on its port, address in brackets")]
    [InlineData("", "8.8.8.8", 3129, true, "8.8.8.8 is public", "a wildcard listener does not block public destinations on its port")]
    [InlineData("", "::1", 3131, false, "[::1]:3131 is this proxy's own listener", "IPv6 loopback listener refused")]
    [InlineData("", "127.0.0.1", 3131, false, "loopback (127.0.0.0/8)", "a [::1] listener is not 127.0.0.1")]
    [InlineData("127.0.0.0/8", "127.0.0.2", 3128, true, "addresses.allow 127.0.0.0/8", "other loopback address on the listener port is not the listener")]
    [InlineData("127.0.0.0/8", "127.0.0.2", 3129, false, "127.0.0.2:3129 is this proxy's own listener", "a 0.0.0.0 listener takes connections to every loopback address, not only 127.0.0.1")]
    [InlineData("127.0.0.0/8", "::ffff:127.1.2.3", 3129, false, "127.1.2.3:3129 is this proxy's own listener", "the same through the mapped form")]
    [InlineData("127.0.0.0/8", "127.0.0.2", 3130, false, "127.0.0.2:3130 is this proxy's own listener", "a [::] listener too (dual mode)")]
    [InlineData("127.0.0.0/8", "0.0.0.0", 3129, false, "0.0.0.0:3129 is this proxy's own listener", "0.0.0.0 as a destination is this host")]
    [InlineData("127.0.0.0/8", "127.0.0.1", 3128, false, "127.0.0.1:3128 is this proxy's own listener", "an allow of the range never makes a listener a destination")]
    [InlineData("127.0.0.0/8", "127.0.0.1", 9090, false, "127.0.0.1:9090 is this proxy's admin endpoint", "an allow of the range never makes the admin endpoint a destination")]
    [InlineData("", "127.0.0.1", 9090, false, "127.0.0.1:9090 is this proxy's admin endpoint", "admin endpoint named as such rather than as loopback")]
    [InlineData("127.0.0.0/8", "127.0.0.1", 9091, true, "addresses.allow 127.0.0.0/8", "another port of the admin address is not the admin endpoint")]
    public void Own_listeners_and_the_admin_endpoint_are_refused_whatever_allow_says(string allow, string address, int port, bool allowed, string detail, string why)
    {
        var guard = new AddressGuard(Networks(allow), [], OwnListeners, [new IPEndPoint(IPAddress.Loopback, 9090)]);
        Decision decision = guard.Check(IPAddress.Parse(address), port);
        AssertDecision(decision, allowed, detail, why);
        Assert.Equal(allowed, guard.Allows(IPAddress.Parse(address), port)); // the pooled-connection check, without the sentence
    }

    [Fact]
    public void Deny_beats_the_own_listener_check_and_names_the_deny()
    {
        var guard = new AddressGuard([], Networks("127.0.0.1/32"), OwnListeners);
        Decision decision = guard.Check(IPAddress.Loopback, 3128);
        AssertDecision(decision, false, "addresses.deny 127.0.0.1/32", "deny is checked first");
    }

    private static ImmutableArray<IPNetwork> Networks(string csv) =>
        [.. csv.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Sluice.Policy.Addresses.Networks.Parse)];

    private static void AssertDecision(Decision decision, bool allowed, string detail, string why)
    {
        Assert.True(decision.Allowed == allowed, $"{why}: expected {(allowed ? "allow" : "deny")}, got '{decision.Detail}'");
        Assert.True(decision.Detail.Contains(detail, StringComparison.Ordinal), $"{why}: detail '{decision.Detail}' should contain '{detail}'");
        Assert.Equal(allowed ? DenyReason.None : DenyReason.DestinationAddress, decision.Reason);
        Assert.Null(decision.Rule);
    }
}
