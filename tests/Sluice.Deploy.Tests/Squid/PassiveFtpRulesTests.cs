using Sluice.Policy.Rules;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// Squid's FTP-through-CONNECT idiom (port 21 and every high port for the FTP servers) becomes <c>ftp: passive</c> where
/// the translation can tell, and is kept as written, with a note, where it cannot.
/// </summary>
public sealed class PassiveFtpRulesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-squid-ftp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SquidConversion Convert(string text) => SquidConversion.Of(text, _dir);

    [Fact]
    public void Named_ftp_servers_on_21_and_the_high_ports_become_a_passive_rule_on_21()
    {
        SquidConversion c = Convert("""
            acl ftp_hosts dstdomain ftp.partner.example
            acl ftp_ports port 21 1024-65535
            acl CONNECT method CONNECT
            http_access allow CONNECT ftp_hosts ftp_ports
            http_access deny all
            """);
        Rule rule = c.Config.Rules[0];
        Assert.Equal(FtpMode.Passive, rule.Ftp);
        Assert.Equal([new PortRange(21, 21)], rule.Ports.ToArray());
        Assert.Contains("    ftp: passive", c.Yaml, StringComparison.Ordinal);
        Assert.Contains("line 4: http_access: ports 21 and 1024-65535 to ftp.partner.example: Squid's idiom for FTP through CONNECT, translated to ports 21 with ftp: passive", c.Notes, StringComparison.Ordinal);
        Assert.True(c.Allows("ftp.partner.example:21"));
        Assert.False(c.Allows("ftp.partner.example:50021")); // only a control connection's permit opens it now
        Assert.False(c.Allows("other.example:21"));
    }

    [Fact]
    public void Other_low_ports_of_the_line_are_kept()
    {
        SquidConversion c = Convert("""
            acl ftp_hosts dstdomain .files.example
            acl SSL_ports port 443 21 1024-65535
            acl CONNECT method CONNECT
            http_access allow CONNECT ftp_hosts SSL_ports
            http_access deny all
            """);
        Rule rule = c.Config.Rules[0];
        Assert.Equal(FtpMode.Passive, rule.Ftp);
        Assert.Equal([new PortRange(21, 21), new PortRange(443, 443)], rule.Ports.ToArray());
        Assert.True(c.Allows("a.files.example:443"));
    }

    [Theory]
    [InlineData("acl ftp_ports port 21 1024-65535\nacl CONNECT method CONNECT\nhttp_access allow CONNECT ftp_ports\nhttp_access deny all", "the line names no particular servers")]
    [InlineData("acl h dstdomain ftp.partner.example\nacl ftp_ports port 21 1024-65535\nacl GET method GET\nhttp_access allow GET h ftp_ports\nhttp_access deny all", "it allows no CONNECT")]
    public void A_line_the_translation_cannot_tell_is_kept_with_a_note(string squid, string why)
    {
        SquidConversion c = Convert(squid);
        Assert.All(c.Config.Rules, r => Assert.Equal(FtpMode.Off, r.Ftp));
        Assert.Contains($"look like FTP through CONNECT (control and passive data ports), but {why}: kept as written", c.Notes, StringComparison.Ordinal);
        Assert.Contains(c.Config.Rules, r => r.Ports.Contains(new PortRange(1024, 65535)));
    }

    [Theory]
    [InlineData("acl h dstdomain ftp.partner.example\nacl p port 21\nhttp_access allow h p\nhttp_access deny all")]
    [InlineData("acl h dstdomain ftp.partner.example\nacl p port 1024-65535\nhttp_access allow h p\nhttp_access deny all")]
    [InlineData("acl h dstdomain ftp.partner.example\nacl p port 21 1024-65535\nhttp_access deny h p\nhttp_access allow all")]
    public void Lines_without_both_ports_or_that_deny_are_left_alone(string squid)
    {
        SquidConversion c = Convert(squid);
        Assert.All(c.Config.Rules, r => Assert.Equal(FtpMode.Off, r.Ftp));
        Assert.DoesNotContain("FTP through CONNECT", c.Notes, StringComparison.Ordinal);
    }
}
