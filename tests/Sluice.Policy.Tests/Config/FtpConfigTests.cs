using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

public sealed class FtpConfigTests
{
    [Fact]
    public void Without_an_ftp_section_permits_last_30_s_and_the_anonymous_password_is_sluice_at()
    {
        FtpConfig ftp = ConfigLoader.Parse("default: deny\n", "test.yaml").Ftp;
        Assert.Equal(TimeSpan.FromSeconds(30), ftp.PermitLifetime);
        Assert.Equal("sluice@", ftp.AnonymousPassword);
    }

    [Fact]
    public void The_ftp_section_sets_both()
    {
        FtpConfig ftp = ConfigLoader.Parse("ftp:\n  permitLifetime: 5s\n  anonymousPassword: ops@example.com\n", "test.yaml").Ftp;
        Assert.Equal(TimeSpan.FromSeconds(5), ftp.PermitLifetime);
        Assert.Equal("ops@example.com", ftp.AnonymousPassword);
    }

    [Theory]
    [InlineData("ftp:\n  permitLifetime: 0s\n", 2, 19, "ftp.permitLifetime: expected a duration")]
    [InlineData("ftp:\n  permitLifetime: 1h\n", 2, 19, "ftp.permitLifetime: between 1ms and 10m")]
    [InlineData("ftp:\n  permitLifetime: soon\n", 2, 19, "expected a duration")]
    [InlineData("ftp:\n  anonymousPassword: \"\"\n", 2, 22, "ftp.anonymousPassword: printable ASCII, not empty")]
    [InlineData("ftp:\n  anonymousPassword: \"a\\r\\nDELE x\"\n", 2, 22, "ftp.anonymousPassword: printable ASCII, not empty")]
    [InlineData("ftp:\n  passive: on\n", 2, 3, "unknown key 'passive' in ftp")]
    [InlineData("ftp: passive\n", 1, 6, "ftp must be a mapping")]
    public void Bad_ftp_settings_are_refused_where_they_are(string yaml, long line, long column, string message)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "test.yaml"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(line, e.Line);
        Assert.Equal(column, e.Column);
    }
}
