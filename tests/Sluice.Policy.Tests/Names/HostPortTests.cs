using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Names;

public sealed class HostPortTests
{
    [Theory]
    // Names: normalised as HostNames does.
    [InlineData("example.com:443", 0, "example.com", null, 443, "example.com:443", "name and port")]
    [InlineData("Example.COM:443", 0, "example.com", null, 443, "example.com:443", "lower-cased")]
    [InlineData("example.com.:443", 0, "example.com", null, 443, "example.com:443", "one trailing dot removed")]
    [InlineData("bücher.example:443", 0, "xn--bcher-kva.example", null, 443, "xn--bcher-kva.example:443", "IDN as punycode")]
    [InlineData("ｌｏｃａｌｈｏｓｔ:8080", 0, "localhost", null, 8080, "localhost:8080", "full-width letters map to ASCII")]
    [InlineData("_dmarc.example.com:53", 0, "_dmarc.example.com", null, 53, "_dmarc.example.com:53", "underscore label")]
    [InlineData("localhost:1", 0, "localhost", null, 1, "localhost:1", "lowest port")]
    [InlineData("localhost:65535", 0, "localhost", null, 65535, "localhost:65535", "highest port")]
    [InlineData("example.com:0443", 0, "example.com", null, 443, "example.com:443", "a leading zero is still 443")]
    [InlineData("example.com:00080", 0, "example.com", null, 80, "example.com:80", "five digits with leading zeros")]
    // The default port.
    [InlineData("example.com", 443, "example.com", null, 443, "example.com:443", "no port: the default")]
    [InlineData("example.com:8443", 443, "example.com", null, 8443, "example.com:8443", "a port beats the default")]
    [InlineData("[::1]", 80, "::1", "::1", 80, "[::1]:80", "bracketed IPv6 without a port: the default")]
    [InlineData("10.0.0.1", 21, "10.0.0.1", "10.0.0.1", 21, "10.0.0.1:21", "IPv4 without a port: the default")]
    // IP literals: the address, in canonical text, IPv6 without brackets.
    [InlineData("93.184.216.34:443", 0, "93.184.216.34", "93.184.216.34", 443, "93.184.216.34:443", "IPv4")]
    [InlineData("[2001:DB8::1]:443", 0, "2001:db8::1", "2001:db8::1", 443, "[2001:db8::1]:443", "IPv6 lower-cased, brackets dropped from Host")]
    [InlineData("[2001:0db8:0000::0001]:443", 0, "2001:db8::1", "2001:db8::1", 443, "[2001:db8::1]:443", "IPv6 long form made canonical")]
    [InlineData("[::ffff:127.0.0.1]:443", 0, "::ffff:127.0.0.1", "::ffff:127.0.0.1", 443, "[::ffff:127.0.0.1]:443", "IPv4-mapped stays IPv6 text")]
    [InlineData("[::]:80", 0, "::", "::", 80, "[::]:80", "unspecified IPv6")]
    // Odd IPv4 notations are the address they denote: never a name a domain rule could match.
    [InlineData("127.1:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "two-part form")]
    [InlineData("127.0.1:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "three-part form")]
    [InlineData("0x7f.1:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "hex first part")]
    [InlineData("0177.0.0.1:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "octal first part")]
    [InlineData("2130706433:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "one decimal number")]
    [InlineData("017700000001:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "one octal number")]
    [InlineData("010.0.0.1:443", 0, "8.0.0.1", "8.0.0.1", 443, "8.0.0.1:443", "a leading zero is octal, as inet_aton reads it")]
    [InlineData("2852039166:80", 0, "169.254.169.254", "169.254.169.254", 80, "169.254.169.254:80", "metadata address as a number")]
    [InlineData("127.0.0.1.:443", 0, "127.0.0.1", "127.0.0.1", 443, "127.0.0.1:443", "dotted quad with a trailing dot")]
    public void Parses_authorities(string text, int defaultPort, string host, string? address, int port, string formatted, string why)
    {
        Assert.True(HostPort.TryParseAuthority(text, defaultPort, out HostPort value, out string problem), $"{why}: '{text}' refused: {problem}");
        Assert.True(host == value.Host, $"{why}: host '{value.Host}'");
        Assert.True(address == value.Address?.ToString(), $"{why}: address {value.Address}");
        Assert.True(port == value.Port, $"{why}: port {value.Port}");
        Assert.True(formatted == value.ToString(), $"{why}: formatted '{value}'");
        Assert.Equal("", problem);
    }

    [Theory]
    [InlineData("example.com", 0, "needs a port", "no port where one is required")]
    [InlineData("[::1]", 0, "needs a port", "bracketed IPv6 without a required port")]
    [InlineData("example.com:", 0, "invalid port ''", "empty port")]
    [InlineData("example.com:", 443, "invalid port ''", "empty port even with a default: an authority is not a URL")]
    [InlineData("example.com:0", 0, "invalid port '0'", "port zero")]
    [InlineData("example.com:65536", 0, "invalid port '65536'", "one above the highest port")]
    [InlineData("example.com:99999", 0, "invalid port '99999'", "five digits, too large")]
    [InlineData("example.com:000443", 0, "invalid port '000443'", "more than five digits, even with leading zeros")]
    [InlineData("example.com:99999999999", 0, "invalid port", "overflowing port")]
    [InlineData("example.com:-1", 0, "invalid port '-1'", "negative port")]
    [InlineData("example.com:+443", 0, "invalid port '+443'", "signed port")]
    [InlineData("example.com: 443", 0, "invalid port ' 443'", "space before the port")]
    [InlineData("example.com:443 ", 0, "invalid port '443 '", "space after the port")]
    [InlineData("example.com:https", 0, "invalid port 'https'", "a service name")]
    [InlineData("example.com:8o", 0, "invalid port '8o'", "letter o for zero")]
    [InlineData("example.com:４４３", 0, "invalid port", "full-width digits are not ASCII digits")]
    [InlineData("[::1]:", 0, "invalid port ''", "bracketed IPv6 with an empty port")]
    [InlineData("[::1]:0", 0, "invalid port '0'", "bracketed IPv6 with port zero")]
    [InlineData("[::1]:443:80", 0, "invalid port '443:80'", "two ports after brackets")]
    [InlineData("user@example.com:443", 0, "userinfo", "userinfo")]
    [InlineData("user:pw@example.com:443", 0, "userinfo", "userinfo with a password")]
    [InlineData("example.com:443/", 0, "has a path", "a path")]
    [InlineData("example.com/x:443", 0, "has a path", "a slash in the host")]
    [InlineData("example.com:443?q", 0, "has a path", "a query")]
    [InlineData("example.com:443#f", 0, "has a path", "a fragment")]
    [InlineData(":443", 0, "empty", "empty host")]
    [InlineData("", 443, "empty", "empty text")]
    [InlineData(" example.com:443", 0, "character not allowed", "a leading space is not trimmed")]
    [InlineData("2001:db8::1:443", 0, "write an IPv6 address in brackets", "unbracketed IPv6: is 443 the port or the last group?")]
    [InlineData("2001:db8::1", 443, "write an IPv6 address in brackets", "unbracketed IPv6 even when a default port would do")]
    [InlineData("::1:443", 0, "write an IPv6 address in brackets", "unbracketed loopback")]
    [InlineData("a:b:443", 0, "is not host:port", "two colons, not an address")]
    [InlineData("[fe80::1%2]:443", 0, "zone id", "a zone id")]
    [InlineData("[fe80::1%25eth0]:443", 0, "zone id", "a zone id in URI form")]
    [InlineData("[127.0.0.1]:443", 0, "not a valid IPv6 literal", "brackets around IPv4")]
    [InlineData("[example.com]:443", 0, "not a valid IPv6 literal", "brackets around a name")]
    [InlineData("[::1:443", 0, "not a valid IPv6 literal", "unclosed bracket")]
    [InlineData("[::1]x:443", 0, "not a valid IPv6 literal", "text after the bracket")]
    [InlineData("[]:443", 0, "not a valid IPv6 literal", "empty brackets")]
    [InlineData("256.0.0.1:443", 0, "looks like an IP address", "octet out of range is not a name")]
    [InlineData("1.2.3.4.5:443", 0, "looks like an IP address", "five parts")]
    [InlineData("08.0.0.1:443", 0, "looks like an IP address", "invalid octal")]
    [InlineData("example..com:443", 0, "empty label", "empty label")]
    [InlineData("example.com..:443", 0, "empty label", "two trailing dots")]
    [InlineData("exa mple.com:443", 0, "character not allowed", "space in the name")]
    [InlineData("ex%41mple.com:443", 0, "character not allowed", "percent-encoding is not decoded in an authority")]
    [InlineData("*.example.com:443", 0, "character not allowed", "a wildcard is a pattern, not a destination")]
    public void Refuses_authorities_with_a_problem(string text, int defaultPort, string problemContains, string why)
    {
        Assert.False(HostPort.TryParseAuthority(text, defaultPort, out HostPort value, out string problem), $"{why}: '{text}' accepted as {value}");
        Assert.True(problem.Contains(problemContains, StringComparison.Ordinal), $"{why}: problem '{problem}' should contain '{problemContains}'");
        Assert.DoesNotContain('\n', problem);
        Assert.Equal(default, value);
    }

    [Theory]
    [InlineData("http://example.com/", "http", "example.com", 80, "/", false, false, false, "plain http")]
    [InlineData("HTTP://Example.COM/", "http", "example.com", 80, "/", false, false, false, "scheme and host lower-cased")]
    [InlineData("https://example.com", "https", "example.com", 443, "/", false, false, true, "https default port, empty path")]
    [InlineData("ws://example.com/chat", "ws", "example.com", 80, "/chat", false, false, false, "ws is 80")]
    [InlineData("wss://example.com/chat", "wss", "example.com", 443, "/chat", false, false, false, "wss is 443")]
    [InlineData("ftp://ftp.example.com/pub/file", "ftp", "ftp.example.com", 21, "/pub/file", false, false, false, "ftp is 21")]
    [InlineData("http://example.com:8080/a/b?x=1", "http", "example.com", 8080, "/a/b?x=1", false, false, false, "port, path and query")]
    [InlineData("http://example.com:/", "http", "example.com", 80, "/", false, false, false, "an empty port is the default (RFC 3986 §3.2.3)")]
    [InlineData("http://example.com?x=1", "http", "example.com", 80, "/?x=1", false, false, false, "a query without a path gets '/'")]
    [InlineData("http://example.com/a/../b%2F?x=%20", "http", "example.com", 80, "/a/../b%2F?x=%20", false, false, false, "the path is kept as written")]
    [InlineData("http://user@example.com/", "http", "example.com", 80, "/", true, false, false, "userinfo reported")]
    [InlineData("http://user:p%40ss@example.com:81/", "http", "example.com", 81, "/", true, false, false, "userinfo with a password reported")]
    [InlineData("http://a@b@example.com/", "http", "example.com", 80, "/", true, false, false, "the last @ ends the userinfo")]
    [InlineData("http://example.com/p@q", "http", "example.com", 80, "/p@q", false, false, false, "an @ in the path is not userinfo")]
    [InlineData("http://example.com/#top", "http", "example.com", 80, "/", false, true, false, "fragment reported and left out")]
    [InlineData("http://example.com#top", "http", "example.com", 80, "/", false, true, true, "fragment right after the authority")]
    [InlineData("http://example.com/?q#f", "http", "example.com", 80, "/?q", false, true, false, "query kept, fragment left out")]
    [InlineData("http://[2001:db8::1]:8080/", "http", "2001:db8::1", 8080, "/", false, false, false, "IPv6 with a port")]
    [InlineData("https://[::1]", "https", "::1", 443, "/", false, false, true, "IPv6 without a port")]
    [InlineData("http://127.1/", "http", "127.0.0.1", 80, "/", false, false, false, "an odd IPv4 notation is the address")]
    [InlineData("http://bücher.example/", "http", "xn--bcher-kva.example", 80, "/", false, false, false, "IDN host")]
    [InlineData("git+ssh://example.com:22/repo", "git+ssh", "example.com", 22, "/repo", false, false, false, "an unknown scheme with a port")]
    public void Parses_uris(string text, string scheme, string host, int port, string path, bool userInfo, bool fragment, bool pathWasEmpty, string why)
    {
        Assert.True(HostPort.TryParseUri(text, out UriTarget uri, out string problem), $"{why}: '{text}' refused: {problem}");
        Assert.True(scheme == uri.Scheme, $"{why}: scheme '{uri.Scheme}'");
        Assert.True(host == uri.Authority.Host, $"{why}: host '{uri.Authority.Host}'");
        Assert.True(port == uri.Authority.Port, $"{why}: port {uri.Authority.Port}");
        Assert.True(path == uri.PathAndQuery, $"{why}: path '{uri.PathAndQuery}'");
        Assert.True(userInfo == uri.HasUserInfo, $"{why}: userinfo {uri.HasUserInfo}");
        Assert.True(fragment == uri.HasFragment, $"{why}: fragment {uri.HasFragment}");
        Assert.True(pathWasEmpty == uri.PathWasEmpty, $"{why}: path was empty {uri.PathWasEmpty}");
    }

    [Theory]
    [InlineData("example.com", "not a URL", "no scheme")]
    [InlineData("/path", "not a URL", "origin-form")]
    [InlineData("://example.com", "not a URL", "empty scheme")]
    [InlineData("1http://example.com", "not a URL", "a scheme starts with a letter")]
    [InlineData("ht tp://example.com", "not a URL", "a space in the scheme")]
    [InlineData("http://", "empty", "no host")]
    [InlineData("http:///path", "empty", "empty host before the path")]
    [InlineData("foo://example.com", "needs a port", "an unknown scheme has no default port")]
    [InlineData("http://example.com:8o/", "invalid port '8o'", "bad port")]
    [InlineData("http://example.com:0/", "invalid port '0'", "port zero")]
    [InlineData("http://example.com:65536/", "invalid port '65536'", "port too large")]
    [InlineData("http://::1/", "write an IPv6 address in brackets", "unbracketed IPv6")]
    [InlineData("http://[::1/", "not a valid IPv6 literal", "unclosed bracket")]
    [InlineData("http://[fe80::1%25eth0]/", "zone id", "zone id")]
    [InlineData("http://exa mple.com/", "character not allowed", "space in the host")]
    [InlineData("http://evil.test\\@good.test/", "userinfo", "a backslash, which a browser reads as the end of the host: not userinfo for good.test")]
    [InlineData("http://us er@good.test/", "userinfo", "a space in the userinfo")]
    public void Refuses_uris_with_a_problem(string text, string problemContains, string why)
    {
        Assert.False(HostPort.TryParseUri(text, out _, out string problem), $"{why}: '{text}' accepted");
        Assert.True(problem.Contains(problemContains, StringComparison.Ordinal), $"{why}: problem '{problem}' should contain '{problemContains}'");
    }

    [Theory]
    [InlineData("http://alice:s3cret@example.com/p@q", "http://***@example.com/p@q")]
    [InlineData("alice:s3cret@example.com:443", "***@example.com:443")]
    [InlineData("ftp://a@b:s3cret@example.com", "ftp://***@example.com")]
    [InlineData("http://example.com/p@q", "http://example.com/p@q")]
    [InlineData("http://example.com", "http://example.com")]
    [InlineData("", "")]
    public void Redact_hides_userinfo_and_nothing_else(string text, string redacted) => Assert.Equal(redacted, HostPort.Redact(text));

    [Fact]
    public void A_problem_never_repeats_the_password_of_a_url()
    {
        Assert.False(HostPort.TryParseUri("ht!tp://alice:s3cret@example.com/", out _, out string notUrl));
        Assert.False(HostPort.TryParseUri("http://alice:s3cret\\@example.com/", out _, out string badUserInfo));
        Assert.False(HostPort.TryParseAuthority("alice:s3cret@example.com:443", 0, out _, out string authority));
        Assert.All(new[] { notUrl, badUserInfo, authority }, problem => Assert.DoesNotContain("s3cret", problem, StringComparison.Ordinal));
    }

    [Fact]
    public void A_refused_uri_still_reports_its_scheme_userinfo_and_fragment_so_the_caller_can_name_them_first()
    {
        Assert.False(HostPort.TryParseUri("HTTP://user@exa mple.com:8o/p#f", out UriTarget uri, out string problem));
        Assert.Equal("invalid port '8o'", problem);
        Assert.Equal("http", uri.Scheme);
        Assert.True(uri.HasUserInfo);
        Assert.True(uri.HasFragment);
        Assert.Equal("/p", uri.PathAndQuery);
        Assert.Equal(default, uri.Authority);
    }

    [Theory]
    [InlineData("example.com", "example.com", null, "no colon: no port")]
    [InlineData("example.com:443", "example.com", "443", "one colon")]
    [InlineData("example.com:", "example.com", "", "one colon, empty port")]
    [InlineData(":443", "", "443", "empty host")]
    [InlineData("[::1]", "[::1]", null, "bracketed IPv6")]
    [InlineData("[::1]:443", "[::1]", "443", "bracketed IPv6 with a port")]
    [InlineData("[::1]:", "[::1]", "", "bracketed IPv6 with an empty port")]
    [InlineData("[::1]x", "[::1]x", null, "text after the bracket stays in the host")]
    [InlineData("[::1", "[::1", null, "unclosed bracket stays in the host")]
    [InlineData("2001:db8::1", "2001:db8::1", null, "unbracketed IPv6 has no port")]
    [InlineData("2001:db8::1:443", "2001:db8::1:443", null, "unbracketed IPv6 ending in :443 is still all address")]
    [InlineData("fd00::/8", "fd00::/8", null, "an IPv6 CIDR has no port")]
    [InlineData("10.0.0.0/8:443", "10.0.0.0/8", "443", "an IPv4 CIDR may have one")]
    [InlineData("[fd00::/8]:443", "[fd00::/8]", "443", "a bracketed IPv6 CIDR too")]
    [InlineData("*:443", "*", "443", "a star with a port")]
    public void Splits_the_port_by_one_lexical_rule(string text, string host, string? port, string why) =>
        Assert.True((host, port) == HostPort.SplitPort(text), $"{why}: got {HostPort.SplitPort(text)}");

    [Theory]
    [InlineData("1", 1, false, true)]
    [InlineData("65535", 65535, false, true)]
    [InlineData("00443", 443, false, true)]
    [InlineData("0", 0, false, false)]
    [InlineData("0", 0, true, true)]
    [InlineData("00000", 0, true, true)]
    [InlineData("65536", 0, true, false)]
    [InlineData("000001", 0, false, false)]
    [InlineData("", 0, true, false)]
    [InlineData("-0", 0, true, false)]
    [InlineData("1e3", 0, false, false)]
    [InlineData("٤٤٣", 0, false, false)]
    public void Ports_are_one_to_five_ascii_digits(string text, int expected, bool zeroAllowed, bool ok)
    {
        Assert.Equal(ok, HostPort.TryParsePort(text, out int port, zeroAllowed));
        Assert.Equal(expected, port);
    }

    [Theory]
    [InlineData("http", 80)]
    [InlineData("HTTP", 80)]
    [InlineData("ws", 80)]
    [InlineData("https", 443)]
    [InlineData("wss", 443)]
    [InlineData("ftp", 21)]
    [InlineData("gopher", 0)]
    [InlineData("", 0)]
    public void Default_ports_by_scheme(string scheme, int port) => Assert.Equal(port, HostPort.DefaultPort(scheme));

    [Theory]
    [InlineData("example.com", null, 443, "example.com", "example.com:443")]
    [InlineData("10.0.0.1", "10.0.0.1", 80, "10.0.0.1", "10.0.0.1:80")]
    [InlineData("2001:db8::1", "2001:db8::1", 443, "[2001:db8::1]", "[2001:db8::1]:443")]
    [InlineData("::ffff:10.0.0.1", "::ffff:10.0.0.1", 443, "[::ffff:10.0.0.1]", "[::ffff:10.0.0.1]:443")]
    public void Formats_ipv6_in_brackets(string host, string? address, int port, string hostForUri, string text)
    {
        var value = new HostPort(host, address is null ? null : IPAddress.Parse(address), port);
        Assert.Equal(hostForUri, value.HostForUri);
        Assert.Equal(text, value.ToString());
        Assert.True(HostPort.TryParseAuthority(text, 0, out HostPort again, out _));
        Assert.Equal(value, again);
    }

    // The one rule for odd IPv4 notations, seen from every reader: a destination written that way is the address
    // (so address rules and the guard see it); configuration written that way is refused, never read as a name.
    [Theory]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("0x7f.1", "127.0.0.1")]
    [InlineData("0177.0.0.1", "127.0.0.1")]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("010.0.0.1", "8.0.0.1")]
    [InlineData("169.254.43518", "169.254.169.254")]
    public void Odd_ipv4_notations_are_addresses_when_read_and_refused_when_written_in_configuration(string odd, string address)
    {
        Assert.True(HostPort.TryParseAuthority($"{odd}:443", 0, out HostPort destination, out _));
        Assert.Equal(IPAddress.Parse(address), destination.Address);
        Assert.True(HostPort.TryParseUri($"http://{odd}/", out UriTarget uri, out _));
        Assert.Equal(IPAddress.Parse(address), uri.Authority.Address);
        Assert.False(Endpoints.TryParse($"{odd}:3128", out _), "a listener");
        Assert.False(DestinationPattern.TryParse(odd, out _, out _), "a destination pattern");
        Assert.False(DestinationPattern.TryParse($".{odd}", out _, out _), "a dot pattern on it");
        Assert.False(HostNames.IsCanonicalLiteral(odd));
        Assert.True(HostNames.IsCanonicalLiteral(address));
    }
}
