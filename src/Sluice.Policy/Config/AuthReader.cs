namespace Sluice.Policy.Config;

/// <summary>Reads <c>auth:</c>. The users file must exist; its entries are checked by the proxy when it loads it.</summary>
internal static class AuthReader
{
    public static AuthConfig? Read(YamlSection top)
    {
        YamlSection? auth = top.Section("auth");
        if (auth is null)
        {
            return null;
        }

        YamlSection basic = auth.Section("basic") ?? throw top.Error(top.Get("auth")!, "auth: 'basic' is required, e.g. basic: { realm: egress, usersFile: users.htpasswd }");
        string realm = basic.Parse("realm", "sluice", TryParseRealm, "a realm of printable characters without quotes or backslashes");
        string users = basic.String("usersFile") ?? throw top.Error(auth.Get("basic")!, "auth.basic: 'usersFile' is required (an htpasswd file with bcrypt or SHA-crypt hashes)");
        string usersPath = ExistingFile(basic, "usersFile", users, top.BaseDirectory);
        string? groups = basic.String("groupsFile");
        string? groupsPath = groups is null ? null : ExistingFile(basic, "groupsFile", groups, top.BaseDirectory);
        basic.RejectUnknownKeys();
        bool required = auth.Parse("required", true, bool.TryParse, "true or false");
        auth.RejectUnknownKeys();
        return new AuthConfig
        {
            Basic = new BasicAuthConfig { Realm = realm, UsersFile = usersPath, GroupsFile = groupsPath },
            Required = required,
        };
    }

    private static string ExistingFile(YamlSection section, string key, string path, string baseDir)
    {
        string full = Path.GetFullPath(path, baseDir);
        return File.Exists(full) ? full : throw section.Error(section.Get(key)!, $"auth.basic.{key}: no file at {full}");
    }

    private static bool TryParseRealm(string text, out string realm)
    {
        realm = text;
        return text.Length is > 0 and <= 128 && text.All(c => c >= ' ' && c <= '~' && c is not '"' and not '\\');
    }
}
