using System.Text;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>
/// The one shape of <c>urlpath_regex</c> a Sluice path says exactly: an anchored literal prefix. <c>^/api/v1</c>
/// matches every path that starts with those characters, and so does the glob <c>/api/v1*</c> (<c>*</c> is any run
/// of characters, <c>/</c> included); a trailing <c>.*</c> changes nothing. Anything else a regular expression can
/// say (alternatives, classes, repetition, an end anchor, no start anchor) has no exact path pattern.
/// </summary>
internal static class SquidPaths
{
    // Characters a path prefix may hold as they are: RFC 3986 pchar without '%' (an escape would be decoded before
    // Sluice matches, not in Squid) and without the regular expression's own metacharacters.
    private const string Plain = "-_~!&',;=:@/";

    // Metacharacters a backslash makes literal and that a path may hold.
    private const string Escapable = ".+()$-_~!&',;=:@/";

    public static bool TryPrefix(string regex, bool ignoreCase, out string glob, out string why)
    {
        glob = "";
        if (!regex.StartsWith("^/", StringComparison.Ordinal))
        {
            why = "not anchored at the start of the path (^/...): Sluice paths are prefixes and globs over the whole path";
            return false;
        }

        string body = regex[1..];
        if (body.EndsWith(".*", StringComparison.Ordinal) && !body.EndsWith("\\.*", StringComparison.Ordinal))
        {
            body = body[..^2]; // "and anything after": what a prefix means anyway
        }

        var prefix = new StringBuilder();
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (char.IsAsciiLetterOrDigit(c) || Plain.Contains(c))
            {
                prefix.Append(c);
            }
            else if (c == '\\' && i + 1 < body.Length && Escapable.Contains(body[i + 1]))
            {
                prefix.Append(body[++i]);
            }
            else
            {
                why = $"'{(c == '\\' && i + 1 < body.Length ? body.Substring(i, 2) : c.ToString())}' makes it more than a literal prefix; Sluice paths are segment prefixes and globs";
                return false;
            }
        }

        string text = prefix.ToString();
        if (ignoreCase && text.Any(char.IsAsciiLetter))
        {
            why = "-i: Squid compares it without regard to case, and Sluice paths are case-sensitive";
            return false;
        }

        if (text.Contains("//", StringComparison.Ordinal) || text.Split('/').Skip(1).SkipLast(1).Any(s => s is "." or ".."))
        {
            why = "it holds an empty or dot segment, which Sluice removes from a path before matching";
            return false;
        }

        glob = text + "*";
        if (!PathPattern.TryParse(glob, out _, out string problem))
        {
            why = problem;
            return false;
        }

        why = "";
        return true;
    }
}
