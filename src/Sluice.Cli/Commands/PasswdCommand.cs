using System.CommandLine;
using Sluice.Proxy.Auth;

namespace Sluice.Cli.Commands;

/// <summary><c>sluice passwd FILE USER</c>: add or update a user in an htpasswd file with a bcrypt hash.</summary>
internal static class PasswdCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The users file (htpasswd format); created if missing." };
        var user = new Argument<string>("user") { Description = "The user name to add or update." };
        var stdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input instead of prompting." };
        var delete = new Option<bool>("--delete", "-D") { Description = "Remove the user instead." };
        var command = new Command("passwd", "Add or update a user of the proxy's Basic authentication, writing a bcrypt hash (never the password) to the file. The running proxy picks the change up without a restart.")
        {
            file, user, stdin, delete,
        };
        command.SetAction(result => Run(result.GetValue(file)!, result.GetValue(user)!, result.GetValue(stdin), result.GetValue(delete), Console.In, Console.Error));
        return command;
    }

    internal static int Run(FileInfo file, string user, bool passwordFromStdin, bool delete, TextReader input, TextWriter errors)
    {
        if (user.Length == 0 || user.Contains(':') || user.Any(char.IsWhiteSpace) || user.Any(char.IsControl))
        {
            errors.WriteLine($"sluice passwd: '{user}' is not a valid user name (no ':', spaces or control characters)");
            return 2;
        }

        List<string> lines = File.Exists(file.FullName) ? [.. File.ReadAllLines(file.FullName)] : []; // not FileInfo.Exists: it is cached
        int existing = lines.FindIndex(l => l.StartsWith(user + ":", StringComparison.Ordinal));
        if (delete)
        {
            if (existing < 0)
            {
                errors.WriteLine($"sluice passwd: {user} is not in {file.FullName}");
                return 1;
            }

            lines.RemoveAt(existing);
            Write(file, lines);
            errors.WriteLine($"removed {user} from {file.FullName}");
            return 0;
        }

        if (!passwordFromStdin && Console.IsInputRedirected)
        {
            errors.WriteLine("sluice passwd: standard input is not a terminal; use --password-stdin to read the password from it");
            return 2;
        }

        string? password = passwordFromStdin ? input.ReadLine() : Prompt();
        if (string.IsNullOrEmpty(password))
        {
            errors.WriteLine("sluice passwd: empty password; nothing written");
            return 1;
        }

        if (System.Text.Encoding.UTF8.GetByteCount(password) > 72 || password.Any(char.IsControl))
        {
            // bcrypt reads only the first 72 bytes: a longer password would be silently truncated.
            errors.WriteLine("sluice passwd: the password must be at most 72 bytes of UTF-8 without control characters");
            return 1;
        }

        string entry = $"{user}:{PasswordHashes.HashBcrypt(password)}";
        if (existing >= 0)
        {
            lines[existing] = entry;
        }
        else
        {
            lines.Add(entry);
        }

        Write(file, lines);
        errors.WriteLine($"{(existing >= 0 ? "updated" : "added")} {user} in {file.FullName}");
        return 0;
    }

    // Written beside the file and renamed over it, so the proxy never reads a half-written users file. The new file
    // is created exclusively (no following a planted link) with the old file's mode (0600 for a new one), so
    // neither a moment of looser permissions nor a file the proxy's group can no longer read.
    private static void Write(FileInfo file, List<string> lines)
    {
        string temporary = Path.Combine(file.DirectoryName ?? ".", $".{file.Name}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = File.Exists(file.FullName) ? File.GetUnixFileMode(file.FullName) : UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var writer = new StreamWriter(new FileStream(temporary, options)))
            {
                foreach (string line in lines)
                {
                    writer.WriteLine(line);
                }
            }

            File.Move(temporary, file.FullName, overwrite: true);
        }
        finally
        {
            File.Delete(temporary); // gone already after a successful move
        }
    }

    private static string? Prompt()
    {
        string first = ReadHidden("Password: ");
        string second = ReadHidden("Again: ");
        if (first != second)
        {
            Console.Error.WriteLine("sluice passwd: the passwords differ");
            return null;
        }

        return first;
    }

    private static string ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new System.Text.StringBuilder();
        while (true)
        {
            ConsoleKeyInfo key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return text.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }

                continue;
            }

            text.Append(key.KeyChar);
        }
    }
}
