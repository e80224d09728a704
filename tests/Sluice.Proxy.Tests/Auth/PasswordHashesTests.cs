using Sluice.Proxy.Auth;

namespace Sluice.Proxy.Tests.Auth;

public sealed class PasswordHashesTests
{
    [Theory]
    // SHA-crypt vectors from Drepper's specification, checked with the system libcrypt.
    [InlineData("Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", true, "SHA-256-crypt vector")]
    [InlineData("Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", true, "SHA-512-crypt vector")]
    [InlineData("Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA", true, "explicit rounds")]
    [InlineData("Hello world?", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", false, "one character off")]
    [InlineData("secret", "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a", true, "bcrypt $2b$")]
    [InlineData("secret", "$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a", true, "bcrypt $2y$ as htpasswd writes it")]
    [InlineData("Secret", "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a", false, "bcrypt wrong password")]
    [InlineData("secret", "$2b$05$broken", false, "malformed bcrypt never verifies")]
    [InlineData("secret", "secret", false, "plain text never verifies")]
    [InlineData("", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", false, "empty password")]
    public void Verify(string password, string hash, bool expected, string why)
    {
        Assert.True(PasswordHashes.Verify(password, hash) == expected, why);
    }

    [Fact]
    public void A_new_bcrypt_hash_is_in_htpasswd_form_salted_and_verifies()
    {
        string a = PasswordHashes.HashBcrypt("pa55 word", workFactor: 5);
        string b = PasswordHashes.HashBcrypt("pa55 word", workFactor: 5);
        Assert.StartsWith("$2y$05$", a);
        Assert.NotEqual(a, b);
        Assert.True(PasswordHashes.Verify("pa55 word", a));
        Assert.False(PasswordHashes.Verify("pa55 wordx", a));
    }

    [Theory]
    [InlineData("alice:plaintext", "a plain-text password")]
    [InlineData("alice:$apr1$abc$def", "Apache MD5 ($apr1$) hash, which is too weak")]
    [InlineData("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "unsalted SHA-1")]
    [InlineData("alice:$1$salt$hash", "MD5-crypt")]
    [InlineData("alice", "expected 'user:hash'")]
    public void Weak_or_plain_entries_refuse_the_whole_file_naming_the_line_but_not_the_secret(string line, string expected)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "# users\nbob:$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a\n" + line + "\n");
            UsersFileException error = Assert.Throws<UsersFileException>(() => UserDirectory.Load(path, null));
            Assert.Contains($"{path}:3:", error.Message);
            Assert.Contains(expected, error.Message);
            Assert.DoesNotContain("plaintext", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Groups_come_from_an_htgroup_file()
    {
        string users = Path.GetTempFileName();
        string groups = Path.GetTempFileName();
        try
        {
            File.WriteAllText(users, "alice:$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a\nbob:$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a\n");
            File.WriteAllText(groups, "etl: alice bob\nadmins: alice\n");
            UserDirectory directory = UserDirectory.Load(users, groups);
            Assert.Equal(["etl", "admins"], directory.GroupsOf["alice"]);
            Assert.Equal(["etl"], directory.GroupsOf["bob"]);
        }
        finally
        {
            File.Delete(users);
            File.Delete(groups);
        }
    }
}
