using System.Text;

namespace Sluice.Client.Diagnostics;

/// <summary>
/// Reads the parts of an RFC 9209 <c>Proxy-Status</c> field (<c>name; error=type; details="..."</c>, members
/// separated by commas) and of a challenge (<c>Basic realm="..."</c>) that doctor reports.
/// </summary>
internal static class ProxyStatusField
{
    /// <summary>The error type and details of the first member that carries an error (the one nearest the origin).</summary>
    public static (string? Error, string? Details) Error(string field)
    {
        foreach (string member in SplitOutsideQuotes(field, ','))
        {
            if (Parameter(member, "error") is { } error)
            {
                return (error, Parameter(member, "details"));
            }
        }

        return (null, null);
    }

    /// <summary>The value of <c>name=token</c> or <c>name="quoted"</c> among the parameters of one member or challenge.</summary>
    public static string? Parameter(string text, string name)
    {
        foreach (string part in SplitOutsideQuotes(text, ';').SelectMany(p => SplitOutsideQuotes(p, ',')))
        {
            string item = part.Trim();
            int space = item.IndexOf(' ', StringComparison.Ordinal);
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (space > 0 && space < eq)
            {
                item = item[(space + 1)..].TrimStart(); // "Basic realm=..." : the scheme precedes the first parameter
                eq = item.IndexOf('=', StringComparison.Ordinal);
            }

            if (eq <= 0 || !item[..eq].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            string value = item[(eq + 1)..].Trim();
            return value.StartsWith('"') ? Unquote(value) : value;
        }

        return null;
    }

    private static string Unquote(string quoted)
    {
        var sb = new StringBuilder(quoted.Length);
        for (int i = 1; i < quoted.Length; i++)
        {
            char c = quoted[i];
            if (c == '\\' && i + 1 < quoted.Length)
            {
                sb.Append(quoted[++i]);
            }
            else if (c == '"')
            {
                break;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static IEnumerable<string> SplitOutsideQuotes(string text, char separator)
    {
        int start = 0;
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == separator && !quoted)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }
}
