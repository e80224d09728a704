using System.Text;

namespace Sluice.Policy.Rules;

/// <summary>
/// The path rules are matched on: a request target's path, query removed, read the strictest way any origin might
/// read it. Percent-escapes are decoded once, <c>\</c> counts as <c>/</c>, empty segments collapse and dot segments
/// are removed (RFC 3986 §5.2.4), so <c>/our-org/..%2Fother</c> is checked as <c>/other</c>. The request itself goes
/// upstream as the client wrote it; this reading only decides.
/// </summary>
public static class RequestPath
{
    /// <summary>Normalises the path of an origin-form target (<c>/a/b?q</c>); false with a reason when it cannot be read.</summary>
    public static bool TryNormalise(string pathAndQuery, out string path, out string problem)
    {
        path = "";
        int end = pathAndQuery.AsSpan().IndexOfAny('?', '#');
        ReadOnlySpan<char> raw = end < 0 ? pathAndQuery : pathAndQuery.AsSpan(0, end);
        if (raw.Length == 0 || raw[0] != '/')
        {
            // "*" (OPTIONS *) and an empty path both ask about the server as a whole.
            path = "/";
            problem = "";
            return true;
        }

        if (!TryDecode(raw, out string decoded, out problem))
        {
            return false;
        }

        path = RemoveDotSegments(decoded);
        return true;
    }

    private static bool TryDecode(ReadOnlySpan<char> raw, out string decoded, out string problem)
    {
        decoded = "";
        problem = "";
        if (raw.IndexOf('%') < 0 && raw.IndexOf('\\') < 0)
        {
            decoded = raw.ToString();
            return !HasControl(decoded, out problem);
        }

        var bytes = new List<byte>(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c == '%')
            {
                if (i + 2 >= raw.Length || !char.IsAsciiHexDigit(raw[i + 1]) || !char.IsAsciiHexDigit(raw[i + 2]))
                {
                    problem = $"the path has a '%' that is not followed by two hex digits: {Shorten(raw)}";
                    return false;
                }

                bytes.Add((byte)Convert.ToInt32(raw.Slice(i + 1, 2).ToString(), 16));
                i += 2;
                continue;
            }

            if (c > 0x7F)
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                continue;
            }

            bytes.Add(c == '\\' ? (byte)'/' : (byte)c);
        }

        // Decoded bytes are read as UTF-8; a byte that is not valid UTF-8 stays a replacement character, which no
        // pattern can name, so a rule never matches by accident on bytes it could not have meant.
        decoded = Encoding.UTF8.GetString(bytes.ToArray()).Replace('\\', '/');
        return !HasControl(decoded, out problem);
    }

    private static bool HasControl(string path, out string problem)
    {
        problem = "";
        foreach (char c in path)
        {
            if (char.IsControl(c))
            {
                problem = $"the path decodes to a control character (U+{(int)c:X4}), which no origin should be asked for";
                return true;
            }
        }

        return false;
    }

    // RFC 3986 §5.2.4 over segments, with empty segments collapsed ("//" is read as "/", as nginx merges slashes).
    private static string RemoveDotSegments(string path)
    {
        if (!path.Contains("//", StringComparison.Ordinal) && !path.Contains("/.", StringComparison.Ordinal))
        {
            return path;
        }

        var kept = new List<string>();
        string[] segments = path.Split('/');
        for (int i = 1; i < segments.Length; i++)
        {
            string segment = segments[i];
            if (segment == "..")
            {
                if (kept.Count > 0)
                {
                    kept.RemoveAt(kept.Count - 1);
                }
            }
            else if (segment is not ("." or ""))
            {
                kept.Add(segment);
            }
        }

        // A path that ended in a separator, "." or ".." names a directory: keep the trailing slash.
        string last = segments[^1];
        bool directory = last is "" or "." or "..";
        string joined = "/" + string.Join('/', kept);
        return directory && kept.Count > 0 ? joined + "/" : joined;
    }

    private static string Shorten(ReadOnlySpan<char> raw) => raw.Length <= 80 ? raw.ToString() : raw[..80].ToString() + "...";
}

/// <summary>
/// One entry of a rule's <c>paths</c>: a prefix on segment boundaries (<c>/our-org</c> matches <c>/our-org</c>,
/// <c>/our-org/</c> and <c>/our-org/x</c>, not <c>/our-orgs</c>), or, with <c>*</c>, a glob over the whole path in
/// which <c>*</c> matches any run of characters, <c>/</c> included. Case-sensitive, as paths are.
/// </summary>
public sealed record PathPattern(string Text, bool IsGlob)
{
    public static bool TryParse(string text, out PathPattern pattern, out string problem)
    {
        pattern = null!;
        string value = text.Trim();
        if (!value.StartsWith('/'))
        {
            problem = $"'{text}' is not a path: paths start with '/', e.g. /our-org/ or /api/*/status";
            return false;
        }

        if (value.AsSpan().IndexOfAny('?', '#') >= 0)
        {
            problem = $"'{text}': paths are matched without the query, so '?' and '#' cannot appear";
            return false;
        }

        // Written the way requests are read, so "/a/%7Eb" and "/a/~b" are one pattern; a "*" stays a wildcard.
        if (!RequestPath.TryNormalise(value, out string normalised, out string why))
        {
            problem = $"'{text}': {why}";
            return false;
        }

        pattern = new PathPattern(normalised, value.Contains('*'));
        problem = "";
        return true;
    }

    /// <summary>Does this entry match a path read by <see cref="RequestPath.TryNormalise"/>?</summary>
    public bool Matches(string path)
    {
        if (IsGlob)
        {
            return Glob(Text, path);
        }

        if (!path.StartsWith(Text, StringComparison.Ordinal))
        {
            return false;
        }

        return path.Length == Text.Length || Text.EndsWith('/') || path[Text.Length] == '/';
    }

    /// <summary>Does this entry match every path <paramref name="other"/> matches? Conservative, for shadowing.</summary>
    public bool Covers(PathPattern other)
    {
        if (this == other)
        {
            return true;
        }

        if (Text == "/*" || (!IsGlob && Text == "/"))
        {
            return true;
        }

        // A prefix covers any entry whose fixed start already lies under it.
        string otherStart = other.IsGlob ? other.Text[..other.Text.IndexOf('*')] : other.Text;
        return !IsGlob && (other.IsGlob ? otherStart.StartsWith(Text.EndsWith('/') ? Text : Text + "/", StringComparison.Ordinal) : Matches(other.Text));
    }

    public override string ToString() => Text;

    // '*' matches any run of characters; iterative with one backtrack point, linear in practice.
    private static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == text[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
