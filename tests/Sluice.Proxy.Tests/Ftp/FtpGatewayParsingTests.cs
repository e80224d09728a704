using Sluice.Proxy.Ftp;
using Sluice.Proxy.Pipeline;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>The FTP gateway's readers: ftp:// URLs (RFC 1738 §3.2) and directory listing lines (MLSD, Unix and DOS LIST).</summary>
public sealed class FtpGatewayParsingTests
{
    [Theory]
    [InlineData("ftp://ftp.test/pub/file.txt", "ftp.test", 21, "pub", "file.txt", null, null, null)]
    [InlineData("ftp://ftp.test:2121/a/b/c.bin;type=i", "ftp.test", 2121, "a|b", "c.bin", 'i', null, null)]
    [InlineData("ftp://ftp.test/dir/", "ftp.test", 21, "dir", "", null, null, null)]
    [InlineData("ftp://ftp.test", "ftp.test", 21, "", "", null, null, null)]
    [InlineData("ftp://etl:s%40cret@ftp.test/x", "ftp.test", 21, "", "x", null, "etl", "s@cret")]
    [InlineData("ftp://anon@ftp.test/x", "ftp.test", 21, "", "x", null, "anon", null)]
    [InlineData("ftp://ftp.test/with%20space/na%C3%AFve.txt", "ftp.test", 21, "with space", "naïve.txt", null, null, null)]
    [InlineData("FTP://FTP.Test/x;TYPE=D", "ftp.test", 21, "", "x", 'd', null, null)]
    public void Reads_an_ftp_url(string url, string host, int port, string directories, string name, char? type, string? user, string? password)
    {
        Assert.True(FtpTarget.TryRead(url, out FtpTarget? target, out string problem), problem);
        Assert.Equal((host, port), (target!.Authority.Host, target.Authority.Port));
        Assert.Equal(directories, string.Join('|', target.Directories));
        Assert.Equal((name, type, user, password), (target.Name, target.Type, target.User, target.Password));
        Assert.DoesNotContain("@", target.LogUrl);
    }

    [Theory]
    [InlineData("ftp://ftp.test/a%0d%0aDELE%20b", "CR LF would be a second FTP command")]
    [InlineData("ftp://ftp.test/a%00b", "NUL")]
    [InlineData("ftp://ftp.test/a%2Fb", "an encoded slash")]
    [InlineData("ftp://ftp.test/a%zz", "a bad escape")]
    [InlineData("ftp://ftp.test/a%ff", "not UTF-8")]
    [InlineData("ftp://ftp.test/a?b", "a query")]
    [InlineData("ftp://ftp.test/a#b", "a fragment")]
    [InlineData("ftp://ftp.test/a;type=x", "an unknown type")]
    [InlineData("ftp://u:p%0d%0aSITE@ftp.test/a", "CR LF in the password")]
    public void Refuses(string url, string why)
    {
        Assert.False(FtpTarget.TryRead(url, out _, out string problem), why);
        Assert.DoesNotContain("p%0d", problem);
    }

    [Fact]
    public void The_log_url_shows_the_port_only_when_it_is_not_21_and_never_the_credentials()
    {
        Assert.True(FtpTarget.TryRead("ftp://etl:s3cret@ftp.test:21/a/b.txt;type=a", out FtpTarget? plain, out _));
        Assert.True(FtpTarget.TryRead("ftp://etl:s3cret@ftp.test:2121/a/", out FtpTarget? other, out _));
        Assert.Equal("ftp://ftp.test/a/b.txt;type=a", plain!.LogUrl);
        Assert.Equal("ftp://ftp.test:2121/a/", other!.LogUrl);
    }

    [Theory]
    [InlineData("type=file;size=1234;modify=20240131121500; report.csv", "report.csv", false, 1234L, "2024-01-31 12:15 UTC")]
    [InlineData("type=dir;modify=20240131121500;perm=el; sub dir", "sub dir", true, null, "2024-01-31 12:15 UTC")]
    [InlineData("Type=File;Size=7; with;semicolon", "with;semicolon", false, 7L, null)]
    public void Reads_MLSD_lines(string line, string name, bool directory, long? size, string? modified)
    {
        FtpListingEntry entry = FtpListing.ParseMachine(line);
        Assert.Equal((name, directory, size, modified), (entry.Name, entry.IsDirectory, entry.Size, entry.Modified));
    }

    [Theory]
    [InlineData("type=cdir;modify=20240131121500; .")]
    [InlineData("type=pdir;modify=20240131121500; ..")]
    public void Leaves_out_the_directory_itself_and_its_parent(string line) =>
        Assert.False(FtpListing.IsShown(FtpListing.ParseMachine(line)));

    [Theory]
    [InlineData("-rw-r--r--   1 owner    group        1234 Jan 31 12:15 report.csv", "report.csv", false, 1234L)]
    [InlineData("drwxr-xr-x   2 1000     1000         4096 Mar  1  2023 old stuff", "old stuff", true, null)]
    [InlineData("lrwxrwxrwx   1 root     root            7 Jan 31 12:15 latest -> v2.1", "latest", false, 7L)]
    [InlineData("-rw-r--r--   1 ftp      12 Jan 31 12:15 nogroup.txt", "nogroup.txt", false, 12L)]
    [InlineData("01-31-24  09:15PM       <DIR>          Windows Dir", "Windows Dir", true, null)]
    [InlineData("01-31-2024  09:15AM             5678 setup.exe", "setup.exe", false, 5678L)]
    public void Reads_LIST_lines(string line, string name, bool directory, long? size)
    {
        FtpListingEntry entry = FtpListing.ParseList(line);
        Assert.Equal((name, directory, size), (entry.Name, entry.IsDirectory, entry.Size));
    }

    [Fact]
    public void A_LIST_line_no_format_explains_is_shown_as_escaped_text()
    {
        FtpListingEntry entry = FtpListing.ParseList("this is <not> a listing");
        Assert.Null(entry.Name);
        Assert.True(FtpListing.IsShown(entry));
        Assert.Contains("<code>this is &lt;not&gt; a listing</code>", FtpListingPage.Row(entry));
        Assert.False(FtpListing.IsShown(FtpListing.ParseList("total 12")));
    }
}
