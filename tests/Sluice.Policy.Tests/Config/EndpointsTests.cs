using System.Net;
using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

public sealed class EndpointsTests
{
    [Theory]
    [InlineData("127.0.0.1:3128", "127.0.0.1:3128", "IPv4 loopback")]
    [InlineData("0.0.0.0:3128", "0.0.0.0:3128", "every IPv4 address")]
    [InlineData("[::]:3128", "[::]:3128", "every IPv6 address")]
    [InlineData("[::1]:3128", "[::1]:3128", "IPv6 loopback")]
    [InlineData("[2001:DB8::1]:443", "[2001:db8::1]:443", "IPv6 in any case")]
    [InlineData("127.0.0.1:0", "127.0.0.1:0", "port 0: the system chooses")]
    [InlineData("127.0.0.1:03128", "127.0.0.1:3128", "a leading zero in the port")]
    [InlineData("[fe80::1%2]:3128", "[fe80::1%2]:3128", "a zone id names the interface of a link-local listener")]
    [InlineData("[127.0.0.1]:3128", "127.0.0.1:3128", "IPv4 in brackets, as written by templates that bracket every address")]
    public void Parses_listener_addresses(string text, string formatted, string why)
    {
        Assert.True(Endpoints.TryParse(text, out IPEndPoint endpoint), $"{why}: '{text}' refused");
        Assert.Equal(formatted, Endpoints.Format(endpoint));
    }

    [Theory]
    [InlineData("127.0.0.1", "no port")]
    [InlineData("127.0.0.1:", "empty port")]
    [InlineData("127.0.0.1:65536", "port too large")]
    [InlineData("127.0.0.1:003128", "more than five digits")]
    [InlineData("127.0.0.1:-1", "negative port")]
    [InlineData(":3128", "no address")]
    [InlineData("localhost:3128", "a name: a listener binds an address")]
    [InlineData("::1:3128", "IPv6 without brackets")]
    [InlineData("[::1]", "bracketed IPv6 without a port")]
    [InlineData("2130706433:3128", "an inet_aton number is a typo, not an address")]
    [InlineData("010.0.0.1:3128", "a leading zero would be octal")]
    [InlineData("127.1:3128", "a short IPv4 notation")]
    [InlineData("127.0.0.1.:3128", "a trailing dot")]
    [InlineData("256.0.0.1:3128", "octet out of range")]
    public void Refuses_anything_else(string text, string why) =>
        Assert.False(Endpoints.TryParse(text, out _), $"{why}: '{text}' accepted");
}
