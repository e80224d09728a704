using Sluice.Proxy.Requests;

namespace Sluice.Proxy.Tests.Requests;

/// <summary>The proxy's own words for a bad request target: what a client sees in the 400 body.</summary>
public sealed class RequestTargetTests
{
    [Theory]
    [InlineData("example.com:443", "example.com:443")]
    [InlineData("Example.COM.:0443", "example.com:443")]
    [InlineData("[2001:DB8::1]:443", "[2001:db8::1]:443")]
    [InlineData("2130706433:443", "127.0.0.1:443")]
    [InlineData("bücher.example:443", "xn--bcher-kva.example:443")]
    public void Connect_targets(string target, string authority)
    {
        Assert.True(RequestTarget.TryParseAuthority(target, out RequestTarget? parsed, out string problem), problem);
        Assert.Equal(authority, parsed!.AuthorityWithPort);
    }

    [Theory]
    [InlineData("example.com", "CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not 'example.com'")]
    [InlineData(":443", "CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not ':443'")]
    [InlineData("http://example.com:443/", "CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not 'http://example.com:443/'")]
    [InlineData("user@example.com:443", "CONNECT needs an authority-form target such as example.com:443 or [2001:db8::1]:443, not '***@example.com:443'")]
    [InlineData("example.com:", "invalid port ''")]
    [InlineData("example.com:99999", "invalid port '99999'")]
    [InlineData("example.com:0", "invalid port '0'")]
    [InlineData("exa mple.com:443", "'exa mple.com' contains a character not allowed in a host name")]
    [InlineData("256.0.0.1:443", "'256.0.0.1' looks like an IP address but is not a valid one")]
    [InlineData("[::1]", "'[::1]' needs a port (host:port)")]
    [InlineData("2001:db8::1:443", "'2001:db8::1:443': write an IPv6 address in brackets, as in [2001:db8::1]:443")]
    [InlineData("[fe80::1%2]:443", "'[fe80::1%2]' has an IPv6 zone id (%...); write the address without one")]
    public void Connect_target_problems(string target, string problem)
    {
        Assert.False(RequestTarget.TryParseAuthority(target, out _, out string actual));
        Assert.Equal(problem, actual);
    }

    [Theory]
    [InlineData("http://example.com/a?b", "example.com", 80, "/a?b", false, "http://example.com/a?b")]
    [InlineData("HTTP://Example.com:8080", "example.com", 8080, "/", true, "http://example.com:8080/")]
    [InlineData("http://example.com:/x", "example.com", 80, "/x", false, "http://example.com/x")]
    [InlineData("http://example.com?q", "example.com", 80, "/?q", false, "http://example.com/?q")]
    [InlineData("http://[::1]:8080/", "::1", 8080, "/", false, "http://[::1]:8080/")]
    [InlineData("http://0x7f.1/", "127.0.0.1", 80, "/", false, "http://127.0.0.1/")]
    public void Absolute_targets(string target, string host, int port, string path, bool pathWasEmpty, string uri)
    {
        Assert.True(RequestTarget.TryParseAbsolute(target, out RequestTarget? parsed, out string problem, out _, out _), problem);
        Assert.Equal((host, port, path, pathWasEmpty, uri), (parsed!.Host, parsed.Port, parsed.PathAndQuery, parsed.PathWasEmpty, parsed.AbsoluteUri));
    }

    [Theory]
    [InlineData("/path", true, false, "Sluice is a forward proxy, not a web server: send absolute-form requests (GET http://host/path) or CONNECT host:port")]
    [InlineData("*", true, false, "Sluice is a forward proxy, not a web server: send absolute-form requests (GET http://host/path) or CONNECT host:port")]
    [InlineData("https://example.com/", false, true, "https:// URLs go through a CONNECT tunnel (curl -p, or HTTPS_PROXY); Sluice does not originate TLS for forwarded requests")]
    [InlineData("ftp://example.com/", false, false, "unsupported request target 'ftp://example.com/': only http:// URLs are forwarded")]
    [InlineData("http://example.com/#top", false, false, "a request target must not contain a fragment (#)")]
    [InlineData("http://user:pw@example.com/", false, false, "credentials in the URL (user@host) are not forwarded; remove them")]
    [InlineData("http://user@exa mple.com:8o/#x", false, false, "a request target must not contain a fragment (#)")]
    [InlineData("http://user@exa mple.com:8o/", false, false, "credentials in the URL (user@host) are not forwarded; remove them")]
    [InlineData("http://example.com:8o/", false, false, "invalid port '8o'")]
    [InlineData("http://exa mple.com/", false, false, "'exa mple.com' contains a character not allowed in a host name")]
    [InlineData("http:///x", false, false, "the host name is empty or longer than 253 characters")]
    public void Absolute_target_problems(string target, bool originForm, bool https, string problem)
    {
        Assert.False(RequestTarget.TryParseAbsolute(target, out _, out string actual, out bool isOriginForm, out bool isHttps));
        Assert.Equal((problem, originForm, https), (actual, isOriginForm, isHttps));
    }
}
