using System.Globalization;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Squid;

/// <summary>
/// Reads squid.conf text into a <see cref="SquidConf"/>: comments and blank lines dropped, backslash continuations
/// joined, every directive split into words and kept with the number of its first line. The files an acl names
/// (<c>"/etc/squid/blocked.txt"</c>) are read through the function given, which returns null for a file that is
/// not there to read.
/// </summary>
public static class SquidReader
{
    /// <summary>Reads acl value files from disk, relative paths from the current directory, as Squid does.</summary>
    public static SquidConf Read(string text) => Read(text, ReadFromDisk);

    public static SquidConf Read(string text, Func<string, string?> readFile)
    {
        var ports = new List<SquidPort>();
        var acls = new List<SquidAcl>();
        var access = new List<SquidAccess>();
        var directives = new List<SquidDirective>();
        var problems = new List<SquidNote>();
        foreach ((int line, string[] w) in Lines(text))
        {
            switch (w[0])
            {
                case "http_port" or "https_port" when w.Length < 2:
                    problems.Add(new SquidNote(line, w[0], "no port given", Untranslated: true));
                    break;
                case "http_port" or "https_port":
                    ports.Add(Port(line, w));
                    break;
                case "acl" when w.Length < 3:
                    problems.Add(new SquidNote(line, "acl", "expected acl NAME TYPE VALUE...", Untranslated: true));
                    break;
                case "acl":
                    acls.Add(Acl(line, w, readFile));
                    break;
                case "http_access" when w.Length < 2 || w[1] is not ("allow" or "deny"):
                    problems.Add(new SquidNote(line, "http_access", "expected http_access allow|deny ACL...", Untranslated: true));
                    break;
                case "http_access":
                    AclTerm[] terms = [.. w.Skip(2).Select(t => t.StartsWith('!') ? new AclTerm(t[1..], true) : new AclTerm(t, false))];
                    access.Add(new SquidAccess(line, w[1] == "allow", terms, string.Join(' ', w)));
                    break;
                default:
                    directives.Add(new SquidDirective(line, w[0], w[1..]));
                    break;
            }
        }

        return new SquidConf(ports, acls, access, directives, problems);
    }

    /// <summary>Directive lines: comments and blank lines removed, backslash continuations joined, split into words.</summary>
    private static IEnumerable<(int Line, string[] Words)> Lines(string text)
    {
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int start = i + 1;
            string line = lines[i];
            while (line.EndsWith('\\') && i + 1 < lines.Length)
            {
                line = line[..^1] + " " + lines[++i];
            }

            string trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }

            // Squid allows a comment after the directive, after white space.
            int hash = -1;
            for (int j = 1; j < trimmed.Length; j++)
            {
                if (trimmed[j] == '#' && char.IsWhiteSpace(trimmed[j - 1]))
                {
                    hash = j;
                    break;
                }
            }

            string directive = hash < 0 ? trimmed : trimmed[..hash];
            string[] words = directive.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 0)
            {
                yield return (start, words);
            }
        }
    }

    private static SquidPort Port(int line, string[] w)
    {
        SquidOption[] options = [.. w.Skip(2).Select(o => o.Split('=', 2) is [string key, string value] ? new SquidOption(o, key, value) : new SquidOption(o, o, ""))];
        string? address = ListenAddress(w[1], out int? barePort);
        return new SquidPort(line, w[0], w[1], address, barePort, options);
    }

    /// <summary>
    /// The address a port spec listens on: <c>3128</c> alone is every address (<c>[::]:3128</c>), as in Squid;
    /// otherwise the spec must be IP:port. Null when it is not (a host name, a port out of range...).
    /// </summary>
    private static string? ListenAddress(string spec, out int? barePort)
    {
        // A bare number is kept even out of range, so the translation can say so; IP:port is read as a listener is.
        barePort = int.TryParse(spec, NumberStyles.None, CultureInfo.InvariantCulture, out int bare) ? bare : null;
        string address = barePort is { } port ? $"[::]:{port}" : spec;
        return Endpoints.TryParse(address, out _) ? address : null;
    }

    private static SquidAcl Acl(int line, string[] w, Func<string, string?> readFile)
    {
        var values = new List<string>();
        bool ignoreCase = false;
        foreach (string value in w.Skip(3))
        {
            ignoreCase |= value == "-i";
            if (value is "-i" or "-n" or "+i" or "--" || value.StartsWith("--", StringComparison.Ordinal))
            {
                continue; // Sluice compares names case-insensitively and never resolves dst names; --client-requested and
                          // the like say where ssl::server_name takes the name from, and Sluice has only the CONNECT's
            }

            if (value.StartsWith('"') && value.EndsWith('"') && value.Length > 2)
            {
                string path = value[1..^1];
                if (readFile(path) is not { } contents)
                {
                    return new SquidAcl(line, w[1], w[2], values, UnreadFile: path) { IgnoreCase = ignoreCase };
                }

                values.AddRange(Lines(contents).SelectMany(l => l.Words));
                continue;
            }

            values.Add(value);
        }

        return new SquidAcl(line, w[1], w[2], values, UnreadFile: null) { IgnoreCase = ignoreCase };
    }

    private static string? ReadFromDisk(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
