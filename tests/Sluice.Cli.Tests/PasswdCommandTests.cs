using Sluice.Cli.Commands;
using Sluice.Proxy.Auth;

namespace Sluice.Cli.Tests;

public sealed class PasswdCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-passwd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Adds_updates_and_removes_users_with_bcrypt_hashes_never_the_password()
    {
        var file = new FileInfo(Path.Combine(_dir, "users.htpasswd"));
        var errors = new StringWriter();
        Assert.Equal(0, PasswdCommand.Run(file, "alice", passwordFromStdin: true, delete: false, new StringReader("first secret\n"), errors));
        Assert.Equal(0, PasswdCommand.Run(file, "bob", passwordFromStdin: true, delete: false, new StringReader("bob's\n"), errors));
        Assert.Equal(0, PasswdCommand.Run(file, "alice", passwordFromStdin: true, delete: false, new StringReader("second secret\n"), errors));

        string[] lines = File.ReadAllLines(file.FullName);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("alice:$2y$", lines[0]);
        Assert.DoesNotContain("secret", string.Join("\n", lines));
        Assert.True(PasswordHashes.Verify("second secret", lines[0]["alice:".Length..]));
        Assert.False(PasswordHashes.Verify("first secret", lines[0]["alice:".Length..]));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file.FullName));
        }

        Assert.Equal(2, UserDirectory.Load(file.FullName, null).Hashes.Count); // the proxy accepts what it wrote

        Assert.Equal(0, PasswdCommand.Run(file, "bob", passwordFromStdin: false, delete: true, new StringReader(""), errors));
        Assert.Single(File.ReadAllLines(file.FullName));
        Assert.Contains("added alice", errors.ToString());
        Assert.Contains("updated alice", errors.ToString());
    }

    [Fact]
    public void An_existing_files_mode_is_kept_and_long_passwords_are_refused()
    {
        var file = new FileInfo(Path.Combine(_dir, "shared.htpasswd"));
        File.WriteAllText(file.FullName, "");
        var groupReadable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file.FullName, groupReadable);
        }

        var errors = new StringWriter();
        Assert.Equal(0, PasswdCommand.Run(file, "alice", true, false, new StringReader("short\n"), errors));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(groupReadable, File.GetUnixFileMode(file.FullName)); // the proxy's group can still read it
        }

        Assert.Equal(1, PasswdCommand.Run(file, "bob", true, false, new StringReader(new string('x', 73) + "\n"), errors));
        Assert.Contains("at most 72 bytes", errors.ToString());
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Theory]
    [InlineData("al:ice")]
    [InlineData("al ice")]
    [InlineData("")]
    public void Refuses_names_that_would_break_the_file(string user)
    {
        var errors = new StringWriter();
        Assert.Equal(2, PasswdCommand.Run(new FileInfo(Path.Combine(_dir, "u")), user, true, false, new StringReader("x\n"), errors));
        Assert.Contains("not a valid user name", errors.ToString());
    }
}
