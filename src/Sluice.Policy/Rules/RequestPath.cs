using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Sluice.Policy.Rules;

/// <summary>
/// The path rules are matched on: a request target's path, query removed, read the strictest way any origin might
/// read it. Percent-escapes are decoded once, <c>\</c> counts as <c>/</c>, empty segments collapse and dot segments
/// are removed (RFC 3986 §5.2.4), so <c>/our-org/%2e%2e/other</c> is checked as <c>/other</c>. The request itself goes
/// upstream as the client wrote it; this reading only decides.
/// </summary>
/// <remarks>
/// A path that some origin would read differently in a way that matters is refused rather than guessed at: escapes
/// that are not valid UTF-8 (<c>%C0%AE</c> is an overlong '.'), characters whose Unicode compatibility form is a
/// '.', '/' or '\' (<c>U+FF0E</c>), segments that servers read as dot segments (<c>..;</c> on servlet containers,
/// <c>.. </c> with trailing dots or spaces on Windows), a <c>..</c> after (or in) a segment that servers split
/// differently (<c>..%2F</c>, <c>..\</c>, <c>//..</c>, <c>/;/..</c>), and escapes that, decoded a second time, make
/// a dot segment (<c>%252e%252e</c>). Whatever is accepted reads, on each of those servers, as going down the same
/// names as here.
/// </remarks>
public static class RequestPath
{
    // Decoding again at most this many times over; a path encoded deeper is refused (no client needs it).
    private const int MaxEncodingDepth = 4;

    /// <summary>Normalises the path of an origin-form target (<c>/a/b?q</c>); false with a reason when it cannot be read.</summary>
    public static bool TryNormalise(string pathAndQuery, out string path, out string problem)
    {
        path = "";
        int end = pathAndQuery.AsSpan().IndexOfAny('?', '#');
        ReadOnlySpan<char> raw = end < 0 ? pathAndQuery : pathAndQuery.AsSpan(0, end);
        if (raw.Length == 0 || raw is "*")
        {
            // "*" (OPTIONS *) and an empty path both ask about the server as a whole.
            path = "/";
            problem = "";
            return true;
        }

        if (raw[0] != '/')
        {
            // Not origin-form: reading "our-org/x" or "http://h/x" as "/" would let them past every deny rule.
            problem = $"the request target {Shorten(raw)} is not a path: paths start with '/'";
            return false;
        }

        if (!TryDecode(raw, strict: true, out string decoded, out problem)
            || !SegmentsReadAlike(raw, decoded, out problem)
            || !TryRemoveDotSegments(decoded, out path, out problem)
            || !ReadsTheSameDecodedAgain(decoded, out problem))
        {
            path = "";
            return false;
        }

        return true;
    }

    /// <summary>Does the path, decoded once, hold a <c>.</c> or <c>..</c> segment? (A pattern holding one would match elsewhere than it reads.)</summary>
    internal static bool HasDotSegment(string path)
    {
        if (!TryDecode(path, strict: true, out string decoded, out _))
        {
            return false;
        }

        foreach (string segment in decoded.Split('/'))
        {
            if (segment is "." or "..")
            {
                return true;
            }
        }

        return false;
    }

    // strict: a '%' without two hex digits is refused (the request as sent); otherwise it stays as it is (a path
    // already decoded once, read again the way a server that decodes twice would).
    private static bool TryDecode(ReadOnlySpan<char> raw, bool strict, out string decoded, out string problem)
    {
        decoded = "";
        problem = "";
        if (raw.IndexOfAny('%', '\\') < 0 && Ascii.IsValid(raw))
        {
            decoded = raw.ToString();
            return !HasControl(decoded, out problem);
        }

        // Every UTF-16 char becomes at most 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 chars).
        byte[] rented = ArrayPool<byte>.Shared.Rent(raw.Length * 3);
        try
        {
            Span<byte> bytes = rented;
            int n = 0;
            for (int i = 0; i < raw.Length; i++)
            {
                char c = raw[i];
                if (c == '%')
                {
                    if (i + 2 < raw.Length && char.IsAsciiHexDigit(raw[i + 1]) && char.IsAsciiHexDigit(raw[i + 2]))
                    {
                        bytes[n++] = (byte)((HexValue(raw[i + 1]) << 4) | HexValue(raw[i + 2]));
                        i += 2;
                        continue;
                    }

                    if (strict)
                    {
                        problem = $"the path has a '%' that is not followed by two hex digits: {Shorten(raw)}";
                        return false;
                    }

                    bytes[n++] = (byte)'%';
                    continue;
                }

                if (c < 0x80)
                {
                    bytes[n++] = (byte)c;
                    continue;
                }

                if (Rune.DecodeFromUtf16(raw[i..], out Rune rune, out int consumed) != OperationStatus.Done)
                {
                    problem = "the path holds a lone UTF-16 surrogate, which is not a character";
                    return false;
                }

                n += rune.EncodeToUtf8(bytes[n..]);
                i += consumed - 1;
            }

            // Overlong forms (%C0%AE for '.', %C0%AF for '/'), truncated sequences and encoded surrogates are what
            // lenient decoders turn into separators; no pattern could mean them, so they are refused, not replaced.
            if (!Utf8.IsValid(bytes[..n]))
            {
                problem = $"the path's escapes are not valid UTF-8 (an overlong or truncated sequence, which some servers read as '.' or '/'): {Shorten(raw)}";
                return false;
            }

            // '\' is a separator on Windows servers and in many frameworks, written or escaped (%5C).
            decoded = Encoding.UTF8.GetString(bytes[..n]).Replace('\\', '/');
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return !HasControl(decoded, out problem) && !HasCompatibilitySeparator(decoded, out problem);
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

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

    // The characters whose compatibility form (NFKC) holds a '.', '/' or '\': a server that folds them (IIS's best
    // fit, frameworks that normalise) reads "／．．／" as "/../". Digits with a full stop ("⒈" → "1.") cannot make a
    // dot segment or a separator and are left alone.
    private static bool HasCompatibilitySeparator(string path, out string problem)
    {
        problem = "";
        foreach (char c in path)
        {
            string? folded = c switch
            {
                '\u2024' or '\uFE52' or '\uFF0E' => ".",
                '\u2025' or '\uFE30' => "..",
                '\u2026' or '\uFE19' => "...",
                '\uFF0F' => "/",
                '\u2100' => "a/c",
                '\u2101' => "a/s",
                '\u2105' => "c/o",
                '\u2106' => "c/u",
                '\uFE68' or '\uFF3C' => "\\",
                _ => null,
            };
            if (folded is not null)
            {
                problem = $"the path holds U+{(int)c:X4}, which servers that fold Unicode compatibility forms read as '{folded}'";
                return true;
            }
        }

        return false;
    }

    // A '..' climbs one segment, so wherever servers disagree on how many segments come before it, they disagree on
    // where it leads: '\', %5C and %2F separate here but are part of a name at other servers (Apache's
    // AllowEncodedSlashes NoDecode, anything not on Windows for '\'), an empty segment is nothing here but a segment
    // to RFC 3986, and " " or ";x" are nothing at servers that trim spaces or drop ';' parameters. So
    // "/other-org/..%2Four-org/x" is "/our-org/x" here and under /other-org there. Such a segment is refused when a
    // '..' is in it or after it; without one, every server reads the path as going down the same names.
    private static bool SegmentsReadAlike(ReadOnlySpan<char> raw, string decoded, out string problem)
    {
        problem = "";
        if (!decoded.Contains("/.", StringComparison.Ordinal) && !decoded.Contains(" .", StringComparison.Ordinal))
        {
            return true; // no piece is or looks like a dot segment
        }

        string[] segments = raw.ToString().Split('/');
        var pieces = new string[segments.Length][];
        int lastClimb = -1;
        for (int k = 1; k < segments.Length; k++)
        {
            // Escapes and UTF-8 sequences never span a '/', so each segment decodes as it did in the whole.
            _ = TryDecode(segments[k], strict: true, out string segment, out _);
            pieces[k] = segment.Split('/');
            foreach (string piece in pieces[k])
            {
                if (IsDotLike(piece))
                {
                    problem = $"the path segment '{Shorten(piece)}' is read as a dot segment by some servers (servlet containers drop ';' parameters, Windows drops trailing dots and spaces), so where it leads cannot be checked";
                    return false;
                }

                lastClimb = piece == ".." ? k : lastClimb;
            }
        }

        for (int j = 1; j <= lastClimb; j++)
        {
            if (IsOneName(pieces[j]))
            {
                continue;
            }

            problem = pieces[j] switch
            {
                [""] => "the path has an empty segment before a '..': servers that keep empty segments (RFC 3986) climb out of it there, and out of the segment before it here",
                [var one] => $"the path segment '{Shorten(one)}' is read as nothing by some servers (servlet containers drop ';' parameters, Windows trims spaces), so the '..' after it climbs higher there than here",
                _ => $"the path segment '{Shorten(segments[j])}' holds a '\\' or an escaped slash, which some servers read as part of a name, so the '..' in it or after it leads elsewhere there than here",
            };
            return false;
        }

        return true;
    }

    // RFC 3986 §5.2.4 over segments, with empty segments collapsed ("//" is read as "/", as nginx merges slashes).
    private static bool TryRemoveDotSegments(string path, out string result, out string problem)
    {
        problem = "";
        result = path;
        if (!path.Contains("//", StringComparison.Ordinal) && !path.Contains("/.", StringComparison.Ordinal))
        {
            return true;
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
        result = directory && kept.Count > 0 ? joined + "/" : joined;
        return true;
    }

    // What every server reads as exactly one segment: one piece, not empty, not made of spaces and parameters only.
    // ("." and ".." are one segment everywhere.)
    private static bool IsOneName(string[] pieces) => pieces is [{ Length: > 0 } one] && !Vanishes(one);

    // "..;x", ".;", "...", ".. ", " ..": not "." or "..", but only dots and spaces before any ';'.
    private static bool IsDotLike(string segment)
    {
        if (segment is "." or "..")
        {
            return false;
        }

        ReadOnlySpan<char> core = Core(segment);
        return core.Contains('.') && !core.ContainsAnyExcept('.', ' ');
    }

    // " ", ";", ";jsessionid=1": a segment with nothing but spaces before any ';'.
    private static bool Vanishes(string segment) => segment.Length > 0 && !Core(segment).ContainsAnyExcept(' ');

    private static ReadOnlySpan<char> Core(string segment)
    {
        int semicolon = segment.IndexOf(';', StringComparison.Ordinal);
        return semicolon < 0 ? segment : segment.AsSpan(0, semicolon);
    }

    // Decoding once is the rule, but some origins decode again (a framework over a container that already did):
    // "%252e%252e" is "%2e%2e" here and ".." there. The path is refused when a further decoding would turn one of
    // its segments into a dot segment, or make a control character or invalid UTF-8; otherwise it is kept decoded
    // once ("%252F" stays "%2F"). Segments are looked at before dot segments are removed, since "/.%252e/.." would
    // otherwise lose the segment that becomes ".." to the ".." after it. Escapes never span a '/', so decoding
    // segment by segment is decoding the whole.
    private static bool ReadsTheSameDecodedAgain(string decoded, out string problem)
    {
        problem = "";
        if (!decoded.Contains('%', StringComparison.Ordinal))
        {
            return true; // the common case, without allocating
        }

        string[] segments = decoded.Split('/');
        for (int depth = 2; segments.Any(s => s.Contains('%', StringComparison.Ordinal)); depth++)
        {
            bool changed = false;
            int lastClimb = Array.LastIndexOf(segments, "..");
            var next = new List<string>(segments.Length);
            for (int i = 0; i < segments.Length; i++)
            {
                string segment = segments[i];
                if (!segment.Contains('%', StringComparison.Ordinal))
                {
                    next.Add(segment);
                    continue;
                }

                if (!TryDecode(segment, strict: false, out string again, out string why))
                {
                    problem = $"the path is percent-encoded more than once, and decoded again as some servers do, {why}";
                    return false;
                }

                if (again == segment)
                {
                    next.Add(segment); // what is left of '%' is not an escape
                    continue;
                }

                if (depth > MaxEncodingDepth)
                {
                    problem = $"the path is percent-encoded more than {MaxEncodingDepth} times over";
                    return false;
                }

                string[] pieces = again.Split('/');
                if (pieces.Any(p => p is "." or ".." || IsDotLike(p)))
                {
                    problem = $"the path is percent-encoded more than once, and decoded again as some servers do, its segment '{Shorten(segment)}' is '{Shorten(again)}', a dot segment";
                    return false;
                }

                if (!IsOneName(pieces) && i < lastClimb)
                {
                    problem = $"the path is percent-encoded more than once, and decoded again as some servers do, its segment '{Shorten(segment)}' is '{Shorten(again)}', not one name, so the '..' after it leads elsewhere there than here";
                    return false;
                }

                changed = true;
                next.AddRange(pieces);
            }

            if (!changed)
            {
                return true;
            }

            segments = [.. next];
        }

        return true;
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

        // Requests lose their dot segments before matching, so "/our-org/.." would quietly be "/" (every path).
        if (RequestPath.HasDotSegment(value))
        {
            problem = $"'{text}' holds a '.' or '..' segment: requests are matched with dot segments removed, so write the path they lead to ({normalised})";
            return false;
        }

        bool glob = value.Contains('*', StringComparison.Ordinal);
        if (glob && normalised.Count(c => c == '*') != value.Count(c => c == '*'))
        {
            problem = $"'{text}': in a pattern with '*', every '*' is a wildcard, so an escaped one (%2A) cannot stand for a literal star";
            return false;
        }

        pattern = new PathPattern(normalised, glob);
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

        // Every path the other entry matches starts with its fixed start: all of a prefix, a glob up to its first '*'.
        string otherStart = other.FixedStart;
        if (IsGlob)
        {
            // A glob with one '*', at its end ("/our-org/*", "/*"), matches every path starting with what precedes it.
            return Text.IndexOf('*', StringComparison.Ordinal) == Text.Length - 1 && otherStart.StartsWith(Text[..^1], StringComparison.Ordinal);
        }

        // A prefix covers any entry whose fixed start already lies under it (past a segment boundary for a glob,
        // whose next character could be anything).
        return other.IsGlob ? otherStart.StartsWith(Text.EndsWith('/') ? Text : Text + "/", StringComparison.Ordinal) : Matches(other.Text);
    }

    public override string ToString() => Text;

    private string FixedStart => IsGlob && Text.IndexOf('*', StringComparison.Ordinal) is var star and >= 0 ? Text[..star] : Text;

    // '*' matches any run of characters; iterative with one backtrack point: O(pattern × path) at worst, never exponential.
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
