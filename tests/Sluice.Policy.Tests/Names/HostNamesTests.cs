using System.Net;
using Sluice.Policy.Names;

namespace Sluice.Policy.Tests.Names;

public sealed class HostNamesTests
{
    [Theory]
    [InlineData("example.com", "example.com", "already normal")]
    [InlineData("Example.COM", "example.com", "lower-cased")]
    [InlineData("example.com.", "example.com", "trailing root dot removed")]
    [InlineData("WWW.Example.Com.", "www.example.com", "case and trailing dot together")]
    [InlineData("localhost", "localhost", "a single label")]
    [InlineData("_dmarc.example.com", "_dmarc.example.com", "underscore labels exist in the wild")]
    [InlineData("a-b.example", "a-b.example", "hyphen")]
    [InlineData("1e100.net", "1e100.net", "a label starting with a digit is still a name")]
    [InlineData("123.example", "123.example", "numeric first label, alphabetic TLD")]
    [InlineData("0x7f.example", "0x7f.example", "hex-looking first label, alphabetic TLD")]
    [InlineData("bücher.example", "xn--bcher-kva.example", "IDN to punycode")]
    [InlineData("BÜCHER.example", "xn--bcher-kva.example", "IDN case-folded")]
    [InlineData("bücher.example.", "xn--bcher-kva.example", "IDN with trailing dot")]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example", "punycode passes unchanged")]
    [InlineData("XN--BCHER-KVA.example", "xn--bcher-kva.example", "punycode lower-cased")]
    [InlineData("münchen.de", "xn--mnchen-3ya.de", "another IDN")]
    [InlineData("ｌｏｃａｌｈｏｓｔ", "localhost", "full-width letters map to ASCII, so they cannot dodge a rule")]
    [InlineData("example。com", "example.com", "ideographic full stop is a label separator")]
    public void Normalises_names(string raw, string expected, string why)
    {
        Assert.True(HostNames.TryNormalize(raw, out string host, out IPAddress? address, out string problem), $"{why}: '{raw}' refused: {problem}");
        Assert.True(expected == host, $"{why}: expected '{expected}', got '{host}'");
        Assert.Null(address);
        Assert.Equal("", problem);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", "dotted quad")]
    [InlineData("127.0.0.1.", "127.0.0.1", "dotted quad with a trailing dot")]
    [InlineData("127.1", "127.0.0.1", "two-part form a.b")]
    [InlineData("127.0.1", "127.0.0.1", "three-part form a.b.c")]
    [InlineData("2130706433", "127.0.0.1", "one 32-bit decimal number")]
    [InlineData("0x7f000001", "127.0.0.1", "one 32-bit hex number")]
    [InlineData("0x7f.1", "127.0.0.1", "hex first part")]
    [InlineData("0X7F.0.0.1", "127.0.0.1", "upper-case hex prefix")]
    [InlineData("0x7f.0x0.0x0.0x1", "127.0.0.1", "every part hex")]
    [InlineData("017700000001", "127.0.0.1", "one 32-bit octal number")]
    [InlineData("0177.0.0.1", "127.0.0.1", "octal first part")]
    [InlineData("010.0.0.1", "8.0.0.1", "a leading zero is octal, as inet_aton reads it")]
    [InlineData("169.254.43518", "169.254.169.254", "metadata address in three-part form")]
    [InlineData("0", "0.0.0.0", "a lone zero is 0.0.0.0")]
    [InlineData("4294967295", "255.255.255.255", "the largest 32-bit number")]
    [InlineData("[::1]", "::1", "bracketed IPv6 loopback")]
    [InlineData("[2001:DB8::1]", "2001:db8::1", "bracketed IPv6 lower-cased")]
    [InlineData("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "bracketed IPv4-mapped")]
    public void Turns_ip_literals_in_any_notation_into_addresses(string raw, string expected, string why)
    {
        Assert.True(HostNames.TryNormalize(raw, out string host, out IPAddress? address, out string problem), $"{why}: '{raw}' refused: {problem}");
        Assert.NotNull(address);
        Assert.True(expected == address.ToString(), $"{why}: expected {expected}, got {address}");
        Assert.Equal(address.ToString(), host);
    }

    [Theory]
    [InlineData("", "empty", "empty")]
    [InlineData(".", "empty", "only the root dot")]
    [InlineData(".example.com", "empty label", "leading dot")]
    [InlineData("example..com", "empty label", "two dots in a row")]
    [InlineData("example.com..", "empty label", "two trailing dots: removing one must not leave 'example.com.'")]
    [InlineData("exa mple.com", "character not allowed", "space")]
    [InlineData("example.com/path", "character not allowed", "slash")]
    [InlineData("user@example.com", "character not allowed", "userinfo")]
    [InlineData("example.com:443", "character not allowed", "a port is not part of the host")]
    [InlineData("::1", "character not allowed", "IPv6 without brackets")]
    [InlineData("exam\u0000ple.com", "character not allowed", "NUL")]
    [InlineData("example.com%00", "character not allowed", "percent-encoding")]
    [InlineData("[127.0.0.1]", "not a valid IPv6 literal", "brackets around IPv4")]
    [InlineData("[::1", "not a valid IPv6 literal", "unclosed bracket")]
    [InlineData("[example.com]", "not a valid IPv6 literal", "brackets around a name")]
    [InlineData("[]", "not a valid IPv6 literal", "empty brackets")]
    [InlineData("256.0.0.1", "looks like an IP address", "octet out of range is not sent to DNS as a name")]
    [InlineData("1.2.3.4.5", "looks like an IP address", "five parts")]
    [InlineData("4294967296", "looks like an IP address", "number beyond 32 bits")]
    [InlineData("08.0.0.1", "looks like an IP address", "invalid octal")]
    [InlineData("0x", "looks like an IP address", "bare hex prefix")]
    [InlineData("1.2.3.4a", "looks like an IP address", "hex-ish junk after a dotted quad")]
    [InlineData("１２７.０.０.１", "looks like an IP address", "full-width digits become 127.0.0.1 only after IDN mapping")]
    [InlineData("127。0。0。1", "looks like an IP address", "ideographic full stops become 127.0.0.1 only after IDN mapping")]
    [InlineData("a\u200Db.example", "not a valid internationalised domain name", "zero-width joiner")]
    [InlineData("[fe80::1%2]", "zone id", "a zone id names an interface of the client, never of the destination")]
    [InlineData("[fe80::1%25eth0]", "zone id", "a zone id in URI form (RFC 6874)")]
    public void Refuses_with_a_problem(string raw, string problemContains, string why)
    {
        Assert.False(HostNames.TryNormalize(raw, out string host, out IPAddress? address, out string problem), $"{why}: '{raw}' accepted as '{host}'");
        Assert.True(problem.Contains(problemContains, StringComparison.Ordinal), $"{why}: problem '{problem}' should contain '{problemContains}'");
        Assert.Equal("", host);
        Assert.Null(address);
    }

    [Theory]
    [InlineData(253, 63, true, "253 characters is the longest name")]
    [InlineData(254, 63, false, "254 characters is too long")]
    [InlineData(254, 63, true, "254 with the trailing root dot is still 253", true)]
    [InlineData(67, 63, true, "a 63-character label is allowed")]
    [InlineData(68, 64, false, "a 64-character label is too long for DNS")]
    public void Length_limits(int length, int longestLabel, bool accepted, string why, bool trailingDot = false)
    {
        string name = NameOf(trailingDot ? length - 1 : length, longestLabel) + (trailingDot ? "." : "");
        Assert.Equal(length, name.Length);
        bool ok = HostNames.TryNormalize(name, out _, out _, out string problem);
        Assert.True(ok == accepted, $"{why}: {(ok ? "accepted" : "refused: " + problem)}");
        if (!accepted)
        {
            Assert.Contains("longer than", problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_idn_that_grows_beyond_253_characters_in_punycode_is_refused()
    {
        // Each label fits in 63 characters after punycode, but the whole name does not fit in 253.
        string label = new string('ü', 10) + "abcdefghij"; // punycode: "xn--abcdefghij-" plus the encoded ü
        string name = string.Join('.', Enumerable.Repeat(label, 12));
        Assert.True(name.Length <= 253, "the raw name itself fits");
        Assert.False(HostNames.TryNormalize(name, out _, out _, out string problem));
        Assert.NotEqual("", problem);
    }

    // Labels of at most `longestLabel` letters separated by dots, exactly `length` characters long.
    private static string NameOf(int length, int longestLabel)
    {
        var labels = new List<string> { new('a', longestLabel) };
        int remaining = length - longestLabel;
        while (remaining > 0)
        {
            int take = Math.Min(63, remaining - 1);
            labels.Add(new string('b', take));
            remaining -= take + 1;
        }

        return string.Join('.', labels);
    }
}
