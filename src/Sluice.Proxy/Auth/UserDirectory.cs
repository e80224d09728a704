using System.Collections.Frozen;

namespace Sluice.Proxy.Auth;

/// <summary>A users file that cannot be used, with the line that is wrong. Passwords are never part of the message.</summary>
internal sealed class UsersFileException(string message) : Exception(message);

/// <summary>
/// The users (htpasswd) and groups (htgroup) files, parsed and checked as a whole: a plain-text or weak entry
/// refuses the whole file, so a typo never silently lets a user in with the hash string as the password.
/// </summary>
public sealed class UserDirectory
{
    private UserDirectory(FrozenDictionary<string, string> hashes, FrozenDictionary<string, string[]> groups)
    {
        Hashes = hashes;
        GroupsOf = groups;
        Decoy = hashes.Values.FirstOrDefault(h => PasswordHashes.SchemeOf(h) == HashScheme.Bcrypt) ?? hashes.Values.FirstOrDefault();
    }

    public FrozenDictionary<string, string> Hashes { get; }

    /// <summary>
    /// What an unknown user's password is verified against, so that the answer takes as long as for a known user and
    /// timing does not tell which names exist: a stored hash (bcrypt if there is one), whose result is then ignored.
    /// Taken from the file, so nothing has to be hashed to load it. Null for an empty file: there is nothing to hide.
    /// </summary>
    public string? Decoy { get; }

    public FrozenDictionary<string, string[]> GroupsOf { get; }

    public static UserDirectory Load(string usersFile, string? groupsFile)
    {
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((int number, string user, string hash) in Entries(usersFile, "expected 'user:hash'"))
        {
            if (PasswordHashes.SchemeOf(hash) == HashScheme.Unsupported)
            {
                throw new UsersFileException($"{usersFile}:{number}: user '{user}' has {PasswordHashes.DescribeUnsupported(hash)}; store a bcrypt hash instead: sluice passwd {usersFile} {user}");
            }

            if (!PasswordHashes.IsWellFormed(hash))
            {
                throw new UsersFileException($"{usersFile}:{number}: user '{user}' has a malformed {PasswordHashes.SchemeOf(hash)} hash; set the password again: sluice passwd {usersFile} {user}");
            }

            if (user.Any(char.IsControl) || user.Any(char.IsWhiteSpace))
            {
                throw new UsersFileException($"{usersFile}:{number}: the user name contains a space or control character");
            }

            if (!hashes.TryAdd(user, hash))
            {
                throw new UsersFileException($"{usersFile}:{number}: user '{user}' is listed twice");
            }
        }

        if (hashes.Values.Any(h => PasswordHashes.SchemeOf(h) is HashScheme.Sha256Crypt or HashScheme.Sha512Crypt))
        {
            try
            {
                PasswordHashes.EnsureShaCryptAvailable();
            }
            catch (InvalidOperationException e)
            {
                throw new UsersFileException($"{usersFile}: {e.Message}");
            }
        }

        var groups = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (groupsFile is not null)
        {
            foreach ((_, string name, string members) in Entries(groupsFile, "expected 'group: user1 user2'"))
            {
                string group = name.Trim();
                foreach (string member in members.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!groups.TryGetValue(member, out List<string>? of))
                    {
                        groups[member] = of = [];
                    }

                    of.Add(group);
                }
            }
        }

        return new UserDirectory(
            hashes.ToFrozenDictionary(StringComparer.Ordinal),
            groups.ToFrozenDictionary(p => p.Key, p => p.Value.Distinct(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal));
    }

    /// <summary>The <c>name:value</c> lines of an htpasswd/htgroup file, with their line numbers; blanks and comments skipped.</summary>
    private static IEnumerable<(int Number, string Name, string Value)> Entries(string path, string expected)
    {
        string[] lines = ReadLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                throw new UsersFileException($"{path}:{i + 1}: {expected}");
            }

            yield return (i + 1, line[..colon], line[(colon + 1)..]);
        }
    }

    private static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsersFileException($"cannot read {path}: {e.Message}");
        }
    }
}
