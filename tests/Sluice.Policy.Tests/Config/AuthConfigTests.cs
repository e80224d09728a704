using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

public sealed class AuthConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-authcfg-").FullName;

    public AuthConfigTests() => File.WriteAllText(Path.Combine(_dir, "users"), "");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SluiceConfig Parse(string yaml) => ConfigLoader.Parse(yaml, Path.Combine(_dir, "sluice.yaml"));

    [Fact]
    public void Basic_auth_reads_realm_files_relative_to_the_config_and_required_defaults_to_true()
    {
        File.WriteAllText(Path.Combine(_dir, "groups"), "");
        SluiceConfig config = Parse("auth:\n  basic: { realm: egress, usersFile: users, groupsFile: groups }\n");
        Assert.Equal("egress", config.Auth!.Basic.Realm);
        Assert.Equal(Path.Combine(_dir, "users"), config.Auth.Basic.UsersFile);
        Assert.Equal(Path.Combine(_dir, "groups"), config.Auth.Basic.GroupsFile);
        Assert.True(config.Auth.Required);
        Assert.False(Parse("auth:\n  basic: { usersFile: users }\n  required: false\n").Auth!.Required);
        Assert.Null(Parse("listeners: [{ address: 127.0.0.1:3128 }]\n").Auth);
    }

    [Theory]
    [InlineData("auth:\n  required: true\n", 2, 3, "auth: 'basic' is required", "basic is required")]
    [InlineData("auth:\n  basic: { realm: egress }\n", 2, 10, "'usersFile' is required", "users file is required")]
    [InlineData("auth:\n  basic: { usersFile: missing.htpasswd }\n", 2, 23, "auth.basic.usersFile: no file at", "the users file must exist")]
    [InlineData("auth:\n  basic: { usersFile: users, realm: \"say \\\"hi\\\"\" }\n", 2, 37, "auth.basic.realm: expected a realm", "quotes would break the challenge")]
    [InlineData("auth:\n  basic: { usersFile: users, password: x }\n", 2, 30, "unknown key 'password' in auth.basic", "unknown key")]
    [InlineData("auth:\n  basic: { usersFile: users }\n  required: maybe\n", 3, 13, "auth.required: expected true or false", "required is a boolean")]
    public void Errors_point_at_the_offending_node(string yaml, int line, int column, string message, string why)
    {
        ConfigException error = Assert.Throws<ConfigException>(() => Parse(yaml));
        Assert.True(error.Line == line && error.Column == column, $"{why}: got {error.Line}:{error.Column} {error.Problem}");
        Assert.Contains(message, error.Problem);
    }
}
