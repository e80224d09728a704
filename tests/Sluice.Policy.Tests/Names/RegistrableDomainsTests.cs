using System.Net;
using Sluice.Policy.Names;

namespace Sluice.Policy.Tests.Names;

/// <summary>
/// Registrable domains by the Public Suffix List that libpsl reads on this machine (Debian's publicsuffix package):
/// every expectation below was checked against that list.
/// </summary>
public sealed class RegistrableDomainsTests
{
    [Fact]
    public void Libpsl_is_loaded_on_this_machine() => Assert.True(RegistrableDomains.Available, "libpsl.so.5 should load (apt-get install libpsl5)");

    [Theory]
    [InlineData("a.b.example.co.uk", "example.co.uk", "a name under a two-label suffix")]
    [InlineData("example.co.uk", "example.co.uk", "the registrable domain itself")]
    [InlineData("example.com", "example.com", "a registrable domain is its own key")]
    [InlineData("www.example.com", "example.com", "one label below")]
    [InlineData("co.uk", "co.uk", "a public suffix has no registrable part: the host itself")]
    [InlineData("com", "com", "a top-level domain alone")]
    [InlineData("github.io", "github.io", "a private-section suffix alone")]
    [InlineData("sub.github.io", "sub.github.io", "github.io is a public suffix: each user's site is its own domain")]
    [InlineData("a.sub.github.io", "sub.github.io", "below a private-section suffix")]
    [InlineData("a.example.test", "example.test", "a TLD the list does not know is a suffix by the default * rule")]
    [InlineData("b.example.test", "example.test", "so its neighbours group together")]
    [InlineData("test", "test", "the unknown TLD alone")]
    [InlineData("localhost", "localhost", "a single label")]
    [InlineData("www.xn--bcher-kva.de", "xn--bcher-kva.de", "an IDN as punycode")]
    [InlineData("a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn", "an IDN suffix (公司.cn) read in punycode")]
    [InlineData("x.xn--p1ai", "x.xn--p1ai", "under an IDN TLD (рф)")]
    [InlineData("xn--p1ai", "xn--p1ai", "an IDN TLD alone")]
    [InlineData("a.b.c.kawasaki.jp", "b.c.kawasaki.jp", "a wildcard rule (*.kawasaki.jp)")]
    [InlineData("a.city.kawasaki.jp", "city.kawasaki.jp", "an exception rule (!city.kawasaki.jp)")]
    public void Names_are_keyed_by_their_registrable_domain(string host, string expected, string why)
    {
        string key = RegistrableDomains.KeyFor(host, null);
        Assert.True(expected == key, $"{why}: expected '{expected}', got '{key}'");
        Assert.Equal(host.Length - expected.Length, RegistrableDomains.Start(host));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")] // libpsl alone would say "0.1"
    [InlineData("192.0.2.10", "192.0.2.10")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("::ffff:192.0.2.1", "::ffff:192.0.2.1")]
    public void An_ip_literal_is_keyed_by_its_address(string host, string expected) =>
        Assert.Equal(expected, RegistrableDomains.KeyFor(host, IPAddress.Parse(host)));

    [Fact]
    public void A_name_keyed_by_itself_is_the_same_string() // the proxy looks keys up without allocating
    {
        string host = "example.com";
        Assert.Same(host, RegistrableDomains.KeyFor(host, null));
    }

    [Fact]
    public void Names_too_long_for_dns_are_their_own_key()
    {
        string host = string.Join('.', Enumerable.Repeat("a", 150)) + ".example.com";
        Assert.Equal(0, RegistrableDomains.Start(host));
        Assert.Equal(0, RegistrableDomains.Start(""));
    }
}
