using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary>
/// <see cref="RequestPath.TryNormalise"/>: the one reading of a request's path that rules are matched on. The tables
/// say what each spelling reads as; the properties say that no spelling reads as under <c>/our-org/</c> here while
/// some origin reads it elsewhere.
/// </summary>
public sealed partial class RequestPathTests
{
    [GeneratedRegex("^[A-Za-z0-9~é-]+$")]
    private static partial Regex Name();

    [Theory]
    // plain paths
    [InlineData("/", "/", "the root")]
    [InlineData("/a", "/a", "one segment")]
    [InlineData("/our-org/repo", "/our-org/repo", "two segments")]
    [InlineData("/our-org/repo/", "/our-org/repo/", "a trailing slash is kept: it names a directory")]
    [InlineData("/Our-Org/Repo", "/Our-Org/Repo", "case is kept: paths are case-sensitive")]
    [InlineData("/a;b/c", "/a;b/c", "';' parameters in a segment are part of it")]
    [InlineData("/~user", "/~user", "a tilde")]
    [InlineData("/a+b", "/a+b", "'+' is not a space in a path")]
    [InlineData("/.well-known/acme", "/.well-known/acme", "a segment starting with a dot is not a dot segment")]
    [InlineData("/a/.b", "/a/.b", "'.b' is a name")]
    [InlineData("/a/b.", "/a/b.", "'b.' is a name")]
    [InlineData("/a/..b", "/a/..b", "'..b' is a name")]
    [InlineData("/a/b../c", "/a/b../c", "'b..' is a name")]
    // the query and fragment are not part of the path
    [InlineData("/a/b?q=1", "/a/b", "the query is removed")]
    [InlineData("/our-org/x?next=/../other-org", "/our-org/x", "dots in the query do not move the path")]
    [InlineData("/a#frag", "/a", "a fragment is removed")]
    [InlineData("/a?x#y", "/a", "query and fragment")]
    [InlineData("/a#x?y", "/a", "a fragment before a '?'")]
    [InlineData("/a?%zz", "/a", "a bad escape in the query is not the path's business")]
    [InlineData("/?", "/", "an empty query")]
    // the server as a whole
    [InlineData("*", "/", "OPTIONS *")]
    [InlineData("", "/", "an empty path")]
    [InlineData("?q=1", "/", "only a query")]
    [InlineData("#f", "/", "only a fragment")]
    // escapes, decoded once
    [InlineData("/%41", "/A", "an escaped letter")]
    [InlineData("/a%2Fb", "/a/b", "an escaped slash separates")]
    [InlineData("/a%2fb", "/a/b", "lower-case hex")]
    [InlineData("/a%20b", "/a b", "an escaped space")]
    [InlineData("/a/%7Eb", "/a/~b", "an escaped tilde")]
    [InlineData("/%2B", "/+", "an escaped plus")]
    [InlineData("/a%3Fb", "/a?b", "an escaped '?' is part of the path")]
    [InlineData("/a%23b", "/a#b", "an escaped '#' is part of the path")]
    [InlineData("/a%3F/../b", "/b", "an escaped '?' does not end the path before dot segments are removed")]
    [InlineData("/a%25", "/a%", "an escaped percent sign")]
    [InlineData("/a%25zz", "/a%zz", "an escaped percent sign before text that is not hex")]
    [InlineData("/file%252ejson", "/file%2ejson", "decoded once: %252e is %2e, not '.'")]
    [InlineData("/a%252Fb", "/a%2Fb", "decoded once: %252F stays %2F, one segment")]
    [InlineData("/a%2520b", "/a%20b", "decoded once: %2520 is %20")]
    [InlineData("/our-org/%2e%2e/other-org", "/other-org", "escaped dots are dots")]
    [InlineData("/our-org/%2E%2E/other-org", "/other-org", "upper-case escaped dots")]
    [InlineData("/our-org/.%2e/other-org", "/other-org", "one dot escaped")]
    [InlineData("/our-org/%2e./other-org", "/other-org", "the other dot escaped")]
    [InlineData("/our-org/%2e/x", "/our-org/x", "an escaped '.' segment")]
    [InlineData("/our%2Dorg/x", "/our-org/x", "an escaped hyphen in a name")]
    // '\' is a separator
    [InlineData("/a\\b", "/a/b", "a backslash separates")]
    [InlineData("/our-org\\repo\\", "/our-org/repo/", "backslashes throughout")]
    [InlineData("/a%5Cb/c", "/a/b/c", "an escaped backslash separates")]
    [InlineData("/a/b\\./c", "/a/b/c", "a backslash before '.': '.' is no climb, every server stays in /a/b")]
    [InlineData("/a/x/../b%2Fc", "/a/b/c", "an escaped slash after the '..' cannot change where it climbed from")]
    // empty segments collapse
    [InlineData("//a", "/a", "a leading double slash")]
    [InlineData("/a//b", "/a/b", "a double slash")]
    [InlineData("/a///b//", "/a/b/", "runs of slashes, the trailing one kept")]
    [InlineData("/a/%2F/b", "/a/b", "an escaped slash between slashes")]
    // dot segments, RFC 3986 §5.2.4
    [InlineData("/./a", "/a", "a leading '.'")]
    [InlineData("/a/./b", "/a/b", "a '.' in the middle")]
    [InlineData("/a/b/../c", "/a/c", "'..' removes one segment")]
    [InlineData("/a/b/../../c", "/c", "two '..'")]
    [InlineData("/a/b/c/../../../d", "/d", "three '..' back to the root")]
    [InlineData("/..", "/", "'..' at the root stays at the root")]
    [InlineData("/../a", "/a", "'..' above the root is dropped")]
    [InlineData("/../../a", "/a", "two '..' above the root")]
    [InlineData("/a/../../../b", "/b", "more '..' than segments")]
    [InlineData("/our-org/../../other-org/x", "/other-org/x", "climbing out of /our-org")]
    [InlineData("/a/.", "/a/", "a trailing '.' names the directory")]
    [InlineData("/a/..", "/", "a trailing '..' back to the root")]
    [InlineData("/a/b/..", "/a/", "a trailing '..' keeps a directory slash")]
    [InlineData("/a/b/.", "/a/b/", "a trailing '.' keeps a directory slash")]
    [InlineData("/.", "/", "only '.'")]
    [InlineData("/a/./../b/./c/..", "/b/", "a mix, ending in '..'")]
    // UTF-8
    [InlineData("/caf%C3%A9", "/café", "an escaped two-byte character")]
    [InlineData("/caf%c3%a9", "/café", "lower-case escaped UTF-8")]
    [InlineData("/café", "/café", "a raw non-ASCII character (as written in a config)")]
    [InlineData("/café/%7E", "/café/~", "a raw non-ASCII character beside an escape")]
    [InlineData("/%E2%82%AC", "/€", "an escaped three-byte character")]
    [InlineData("/%F0%9F%98%80", "/\U0001F600", "an escaped four-byte character")]
    [InlineData("/\U0001F600/%7E", "/\U0001F600/~", "a raw surrogate pair beside an escape is one character, not two replacements")]
    [InlineData("/\U0001F600/~", "/\U0001F600/~", "a raw surrogate pair")]
    [InlineData("/%E2%92%88", "/⒈", "'⒈' folds to '1.', which is no dot segment and no separator")]
    [InlineData("/%EF%BF%BD", "/\uFFFD", "a replacement character written as valid UTF-8 is just a character")]
    // segments some servers read as nothing are harmless when no '..' follows
    [InlineData("/app/;jsessionid=ABC", "/app/;jsessionid=ABC", "a servlet session parameter on a directory")]
    [InlineData("/a/%20", "/a/ ", "a space alone at the end")]
    [InlineData("/a/ /b", "/a/ /b", "a space alone between names")]
    [InlineData("/a/%252F", "/a/%2F", "a double-encoded slash alone, no '..' after it")]
    [InlineData("/our-org/x;a/../y", "/our-org/y", "a parameter on a name goes with the name: '..' removes both")]
    public void Normalises(string target, string expected, string why)
    {
        bool ok = RequestPath.TryNormalise(target, out string path, out string problem);

        Assert.True(ok, $"{why}: '{target}' was refused: {problem}");
        Assert.True(expected == path, $"{why}: '{target}' read as '{path}', expected '{expected}'");
        Assert.Equal("", problem);
    }

    [Theory]
    // not a path at all
    [InlineData("our-org/x", "is not a path: paths start with '/'", "no leading slash")]
    [InlineData("http://github.com/our-org", "is not a path", "an absolute URI is not a path")]
    [InlineData("a", "is not a path", "a bare word")]
    [InlineData("./a", "is not a path", "a relative reference")]
    [InlineData("\\a", "is not a path", "a backslash is not a leading slash: the target is not origin-form")]
    [InlineData("**", "is not a path", "only a single '*' asks about the server")]
    // bad escapes
    [InlineData("/%", "'%' that is not followed by two hex digits", "a lone percent")]
    [InlineData("/%2", "'%' that is not followed by two hex digits", "one hex digit at the end")]
    [InlineData("/a%2", "'%' that is not followed by two hex digits", "one hex digit after a name")]
    [InlineData("/%zz", "'%' that is not followed by two hex digits", "not hex")]
    [InlineData("/%2g", "'%' that is not followed by two hex digits", "half hex")]
    [InlineData("/%%32%65", "'%' that is not followed by two hex digits", "a percent before an escape")]
    [InlineData("/%u002e%u002e/x", "'%' that is not followed by two hex digits", "IIS's %u escapes are refused, not read as dots")]
    [InlineData("/a%2/b", "'%' that is not followed by two hex digits", "a short escape before a slash")]
    // control characters, escaped or raw
    [InlineData("/%00", "control character (U+0000)", "an escaped NUL")]
    [InlineData("/a%00.json", "control character (U+0000)", "NUL before an extension (C strings end there)")]
    [InlineData("/a%0Ab", "control character (U+000A)", "an escaped line feed")]
    [InlineData("/a%0D%0AX-Injected:%201", "control character (U+000D)", "escaped CR LF")]
    [InlineData("/a%09", "control character (U+0009)", "an escaped tab")]
    [InlineData("/a%1b", "control character (U+001B)", "an escaped escape")]
    [InlineData("/a%7F", "control character (U+007F)", "an escaped DEL")]
    [InlineData("/a%C2%85", "control character (U+0085)", "an escaped NEL (a C1 control in UTF-8)")]
    [InlineData("/a\tb", "control character (U+0009)", "a raw tab")]
    [InlineData("/a\nb", "control character (U+000A)", "a raw line feed")]
    [InlineData("/a\0b", "control character (U+0000)", "a raw NUL")]
    [InlineData("/a\u007Fb", "control character (U+007F)", "a raw DEL")]
    [InlineData("/a\u0085b", "control character (U+0085)", "a raw C1 control")]
    // invalid UTF-8
    [InlineData("/%FF", "not valid UTF-8", "a byte that never appears in UTF-8")]
    [InlineData("/%80", "not valid UTF-8", "a lone continuation byte")]
    [InlineData("/%C3", "not valid UTF-8", "a truncated two-byte sequence")]
    [InlineData("/%C3%28", "not valid UTF-8", "a lead byte before ASCII")]
    [InlineData("/caf%E9", "not valid UTF-8", "Latin-1 é")]
    [InlineData("/our-org/%C0%AE%C0%AE/other-org", "not valid UTF-8", "overlong '..': lenient decoders climb out of /our-org")]
    [InlineData("/our-org/..%C0%AFother-org", "not valid UTF-8", "an overlong '/' after '..'")]
    [InlineData("/our-org/%E0%80%AE%E0%80%AE/x", "not valid UTF-8", "three-byte overlong dots")]
    [InlineData("/our-org/..%C1%9Cx", "not valid UTF-8", "an overlong '\\'")]
    [InlineData("/%ED%A0%80", "not valid UTF-8", "an encoded surrogate")]
    [InlineData("/%F4%90%80%80", "not valid UTF-8", "beyond U+10FFFF")]
    [InlineData("/%F0%9F%98", "not valid UTF-8", "a truncated four-byte sequence")]
    // characters whose compatibility form is '.', '/' or '\'
    [InlineData("/our-org/%EF%BC%8E%EF%BC%8E/other-org", "U+FF0E", "fullwidth dots, escaped")]
    [InlineData("/our-org/\uFF0E\uFF0E/other-org", "U+FF0E", "fullwidth dots, raw")]
    [InlineData("/our-org/..%EF%BC%8Fother-org", "U+FF0F", "a fullwidth slash after '..'")]
    [InlineData("/our-org/..%EF%BC%BCother-org", "U+FF3C", "a fullwidth backslash after '..'")]
    [InlineData("/our-org/%E2%80%A5/other-org", "U+2025", "a two dot leader is '..'")]
    [InlineData("/our-org/%E2%80%A4%E2%80%A4/other-org", "U+2024", "one dot leaders")]
    [InlineData("/our-org/%EF%B9%92./x", "U+FE52", "a small full stop")]
    [InlineData("/our-org/%EF%B9%A8..", "U+FE68", "a small reverse solidus")]
    [InlineData("/a%E2%84%80b", "U+2100", "'℀' folds to 'a/c', a separator inside")]
    // segments servers read as dot segments
    [InlineData("/our-org/..;/other-org/x", "read as a dot segment by some servers", "Tomcat reads '..;' as '..'")]
    [InlineData("/our-org/..;jsessionid=1/other-org", "read as a dot segment", "'..' with a parameter")]
    [InlineData("/our-org/.;/x", "read as a dot segment", "'.' with an empty parameter")]
    [InlineData("/our-org/%2e%2e;/other-org", "read as a dot segment", "escaped dots with a parameter")]
    [InlineData("/our-org/..%3B/other-org", "read as a dot segment", "'..' with an escaped ';'")]
    [InlineData("/our-org/.../x", "read as a dot segment", "three dots: Windows trims trailing dots")]
    [InlineData("/our-org/..%20/other-org", "read as a dot segment", "'..' and a space: Windows trims trailing spaces")]
    [InlineData("/our-org/.. /other-org", "read as a dot segment", "'..' and a raw space")]
    [InlineData("/our-org/%20../other-org", "read as a dot segment", "a space before '..'")]
    [InlineData("/our-org/. ./other-org", "read as a dot segment", "dots and spaces")]
    [InlineData("/our-org/....", "read as a dot segment", "four dots at the end")]
    // segments servers read as nothing, before a '..' that would climb past them there
    [InlineData("/our-org/;/../other-org", "read as nothing by some servers", "Tomcat drops ';' and its empty segment, so '..' leaves /our-org")]
    [InlineData("/our-org/;jsessionid=1/../other-org", "read as nothing", "a parameter alone in its segment")]
    [InlineData("/our-org/%20/../other-org", "read as nothing", "a space alone: Windows trims it away")]
    [InlineData("/our-org/%20%20;x/a/../..", "read as nothing", "spaces and a parameter, two '..' later")]
    [InlineData("/our-org/%252F/%2e.", "is '/', not one name", "a double-encoded slash alone, then '..'")]
    // segments that split here and not everywhere, with a '..' in them or after them
    [InlineData("/our-org/..%2Fother-org", "holds a '\\' or an escaped slash", "'..%2F': reversed, /other-org/..%2Four-org/x is /our-org/x here and under /other-org at Apache with NoDecode")]
    [InlineData("/other-org/..%2Four-org/x", "holds a '\\' or an escaped slash", "the attack itself")]
    [InlineData("/other-org/..%2F/our-org/x", "holds a '\\' or an escaped slash", "'..' and an escaped slash alone in a segment")]
    [InlineData("/our-org%2F%2E%2E%2Fother-org", "holds a '\\' or an escaped slash", "everything escaped in one segment")]
    [InlineData("/other-org/..\\our-org/x", "holds a '\\' or an escaped slash", "'..' and a backslash: one name to a server not on Windows")]
    [InlineData("/our-org\\..\\other-org", "holds a '\\' or an escaped slash", "backslashes around '..'")]
    [InlineData("/our-org/%5C../other-org", "holds a '\\' or an escaped slash", "an escaped backslash before '..'")]
    [InlineData("/our-org%5C..%5Cother-org", "holds a '\\' or an escaped slash", "escaped backslashes around '..'")]
    [InlineData("/our-orgrepo/%2E%2e%5Cour-org/x", "holds a '\\' or an escaped slash", "found by the property: escaped dots and an escaped backslash")]
    [InlineData("/other-org//../our-org/x", "empty segment before a '..'", "RFC 3986 servers climb out of the empty segment, staying in /other-org")]
    [InlineData("//../x", "empty segment before a '..'", "an empty first segment")]
    [InlineData("/our-org\\x/../other-org", "holds a '\\' or an escaped slash", "a backslash inside a segment: a server reading it as a name climbs out of /our-org")]
    [InlineData("/our-org%2Fx/..", "holds a '\\' or an escaped slash", "an escaped slash kept in its segment by Apache's NoDecode")]
    [InlineData("/our-org/a%5cb/../../other-org", "holds a '\\' or an escaped slash", "an escaped backslash, lower-case")]
    // decoded a second time, as some servers do
    [InlineData("/our-org/%252e%252e/other-org", "its segment '%2e%2e' is '..', a dot segment", "double-encoded '..'")]
    [InlineData("/our-org/%252E%252E/other-org", "a dot segment", "double-encoded upper case")]
    [InlineData("/our-org/.%252e/other-org", "a dot segment", "one dot double-encoded")]
    [InlineData("/a/%252e/b", "a dot segment", "a double-encoded '.' segment")]
    [InlineData("/our-org%252F..%252Fother-org", "a dot segment", "double-encoded slashes around '..'")]
    [InlineData("/our-org/..%252Fother-org", "a dot segment", "'..' then a double-encoded slash")]
    [InlineData("/our-org/..%255Cother-org", "a dot segment", "'..' then a double-encoded backslash")]
    [InlineData("/our-org/%25252e%25252e/other-org", "a dot segment", "triple-encoded '..'")]
    [InlineData("/our-org/..%253B/other-org", "a dot segment", "'..' and a double-encoded ';'")]
    [InlineData("/our-org/.%252e/.%2e", "a dot segment", "a double-encoded '..' popped by a '..' before it could be seen")]
    [InlineData("/our-org/%252e%252e%252Fx/..", "a dot segment", "a double-encoded segment that becomes ../x, hidden by the .. after it")]
    [InlineData("/other-org%252Fx/../our-org/y", "not one name", "a double-encoded slash splits the segment at a server decoding twice, so '..' stays in /other-org there")]
    [InlineData("/a%2500", "control character (U+0000)", "a double-encoded NUL")]
    [InlineData("/our-org/%25C0%25AE%25C0%25AE/x", "not valid UTF-8", "double-encoded overlong dots")]
    [InlineData("/our-org/%25EF%25BC%258E%25EF%25BC%258E/x", "U+FF0E", "double-encoded fullwidth dots")]
    [InlineData("/a%252525252e", "more than 4 times over", "encoded five times over")]
    public void Refuses(string target, string problemPart, string why)
    {
        bool ok = RequestPath.TryNormalise(target, out string path, out string problem);

        Assert.False(ok, $"{why}: '{target}' was read as '{path}'");
        Assert.True(problem.Contains(problemPart, StringComparison.Ordinal), $"{why}: '{problem}' should contain '{problemPart}'");
        Assert.Equal("", path);
    }

    [Theory]
    [InlineData("/a", 0xD800, "b", "a high surrogate alone")]
    [InlineData("/a", 0xDC00, "b", "a low surrogate alone")]
    [InlineData("/a", 0xD800, "", "a high surrogate at the end")]
    [InlineData("/a%41", 0xDFFF, "", "a lone surrogate after an escape")]
    public void A_lone_surrogate_is_refused(string before, int surrogate, string after, string why)
    {
        // Attribute strings are stored as UTF-8, where a lone surrogate would arrive as U+FFFD: it is built here.
        string target = before + (char)surrogate + after;

        Assert.False(RequestPath.TryNormalise(target, out string path, out string problem), $"{why}: read as '{path}'");
        Assert.Contains("lone UTF-16 surrogate", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deep_path_is_normalised_whole()
    {
        string deep = "/" + string.Join('/', Enumerable.Repeat("segment", 50_000));

        Assert.True(RequestPath.TryNormalise(deep, out string path, out _));
        Assert.Equal(deep, path);
    }

    [Fact]
    public void A_long_path_of_dot_segments_climbs_back_to_where_it_says()
    {
        string climb = "/our-org" + string.Concat(Enumerable.Repeat("/a/..", 100_000)) + string.Concat(Enumerable.Repeat("/..", 100_000)) + "/other-org/x";

        Assert.True(RequestPath.TryNormalise(climb, out string path, out string problem), problem);
        Assert.Equal("/other-org/x", path);
    }

    [Fact]
    public void A_long_escaped_path_is_decoded_and_a_long_bad_one_is_named_briefly()
    {
        string escaped = "/" + string.Concat(Enumerable.Repeat("%41", 100_000));
        Assert.True(RequestPath.TryNormalise(escaped, out string path, out _));
        Assert.Equal("/" + new string('A', 100_000), path);

        Assert.False(RequestPath.TryNormalise(escaped + "%", out _, out string problem));
        Assert.True(problem.Length < 200, $"the problem quotes the whole path: {problem.Length} characters");
        Assert.EndsWith("...", problem);
    }

    [Theory]
    [InlineData("/%252F", 100_000, "", true, "double-encoded slashes: each splits at a server decoding twice, none before a '..'")]
    [InlineData("/%252F", 100_000, "/..", false, "the same with a '..' at the end")]
    [InlineData("/%20", 100_000, "/..", false, "segments some servers read as nothing, then a '..'")]
    [InlineData("/a%5Cb", 100_000, "/..", false, "backslashes in every segment, then a '..'")]
    [InlineData("/x/..", 100_000, "", true, "climbing and descending, repeated")]
    [InlineData("/%25252F", 50_000, "", true, "triple-encoded slashes")]
    public void Long_paths_stay_linear(string repeated, int times, string end, bool accepted, string why)
    {
        // Nothing is timed: these inputs would hang a check that compares each segment with every later one.
        string target = string.Concat(Enumerable.Repeat(repeated, times)) + end;

        Assert.True(accepted == RequestPath.TryNormalise(target, out _, out string problem), $"{why}: {problem}");
    }

    [Fact]
    public void A_long_run_of_slashes_and_backslashes_collapses()
    {
        string slashes = "/our-org" + string.Concat(Enumerable.Repeat("/\\%2F%5C", 50_000)) + "x";

        Assert.True(RequestPath.TryNormalise(slashes, out string path, out _));
        Assert.Equal("/our-org/x", path);
    }

    /// <summary>
    /// The compatibility list is checked against the platform's NFKC: every character of the Basic Multilingual Plane
    /// whose compatibility form holds a separator, or is made only of dots, is refused; the rest are characters.
    /// </summary>
    [Fact]
    public void Every_character_that_folds_to_a_separator_or_dots_is_refused()
    {
        int refused = 0;
        for (int c = 0x80; c <= 0xFFFF; c++)
        {
            if (char.IsSurrogate((char)c) || char.IsControl((char)c))
            {
                continue;
            }

            string ch = ((char)c).ToString();
            string folded;
            try
            {
                folded = ch.Normalize(NormalizationForm.FormKC);
            }
            catch (ArgumentException)
            {
                continue; // a noncharacter, which ICU will not normalise
            }

            bool separator = folded.Contains('/', StringComparison.Ordinal) || folded.Contains('\\', StringComparison.Ordinal);
            bool dots = folded.Length > 0 && folded.All(f => f == '.');
            bool ok = RequestPath.TryNormalise("/a" + ch + "b", out _, out string problem);
            if (separator || dots)
            {
                Assert.False(ok, $"U+{c:X4} folds to '{folded}' and was accepted");
                refused++;
            }
            else
            {
                Assert.True(ok, $"U+{c:X4} folds to '{folded}' and was refused: {problem}");
            }
        }

        Assert.True(refused >= 14, $"{refused} characters refused");
    }

    // ---- properties: segment soups read by a model of origins ----

    private static readonly Gen<string> Segment = Gen.Frequency(
        (6, Gen.OneOf("our-org", "other-org", "a", "repo", "")),
        (6, Gen.OneOf(".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%2e.", "%2E%2e")),
        (3, Gen.OneOf("..;", "..;x", ".;", "...", ".. ", "..%20", " ..", "%20..", ". .")),
        (3, Gen.OneOf("%252e", "%252E%252e", "%25252e%25252e", ".%252e", "x%252e", "%2525", "%25")),
        (3, Gen.OneOf("%2f", "%2F", "%5c", "%5C", "%252f", "%255c", "\\", "x;y", "our-org;x")),
        (2, Gen.OneOf("%C0%AE", "%C0%AE%C0%AE", "%C0%AF", "%EF%BC%8E", "\uFF0E\uFF0E", "%E2%80%A5", "%EF%BC%8F")),
        (2, Gen.OneOf("%00", "%zz", "%", "%2", "%C3%A9", "é", "~", "%7E", "%3F", "%23", "%3B")));

    private static readonly Gen<string> Separator = Gen.Frequency((8, Gen.Const("/")), (1, Gen.OneOf("\\", "%2F", "%5C", "//", "%252F")));

    private static readonly Gen<string> Soup = Gen.Select(
        Gen.OneOf("/our-org/", "/our-org/", "/", "/our-org", "//our-org/"),
        Gen.Select(Segment, Separator, (segment, separator) => segment + separator).Array[0, 7],
        Segment,
        Gen.OneOf("", "", "", "?q=/../other-org", "#/..", "?"),
        (start, middle, last, suffix) => start + string.Concat(middle) + last + suffix);

    /// <summary>How an origin might read a path: how often it decodes, which separators and dot segments it knows.</summary>
    private sealed record Reader(int Decodings, bool Backslash, bool DropParameters, bool TrimDotsAndSpaces, bool Fold, bool LenientUtf8, bool MergeSlashes, bool KeepEncodedSlash = false)
    {
        public override string ToString() =>
            $"decode x{Decodings}{(KeepEncodedSlash ? " %2F-kept" : "")}{(Backslash ? " \\=/" : "")}{(DropParameters ? " ;drop" : "")}{(TrimDotsAndSpaces ? " trim" : "")}{(Fold ? " nfkc" : "")}{(LenientUtf8 ? " overlong" : "")}{(MergeSlashes ? " merge" : " rfc")}";
    }

    private static readonly Reader[] Readers =
    [
        .. from decodings in new[] { 1, 2, 3 }
           from backslash in new[] { false, true }
           from parameters in new[] { false, true }
           from trim in new[] { false, true }
           from fold in new[] { false, true }
           from lenient in new[] { false, true }
           from merge in new[] { false, true }
           from keepSlash in new[] { false, true }
           select new Reader(decodings, backslash, parameters, trim, fold, lenient, merge, keepSlash),
    ];

    // A target has its query cut first; a path already read here (whose '?' was an escape) does not.
    private static string Read(string target, Reader reader, bool cutQuery = true) => Structure(Decode(target, reader, cutQuery), reader);

    private static string Decode(string target, Reader reader, bool cutQuery = true)
    {
        int end = cutQuery ? target.IndexOfAny(['?', '#']) : -1;
        string s = end < 0 ? target : target[..end];
        for (int i = 0; i < reader.Decodings; i++)
        {
            s = DecodeLeniently(s, reader.LenientUtf8, reader.KeepEncodedSlash);
        }

        return reader.Fold ? s.Normalize(NormalizationForm.FormKC) : s;
    }

    // What a server does with the decoded path: its separators, its dot segments.
    private static string Structure(string s, Reader reader)
    {
        if (reader.Backslash)
        {
            s = s.Replace('\\', '/');
        }

        var stack = new List<string>();
        string[] segments = s.Split('/');
        bool directory = false;
        for (int i = 1; i < segments.Length; i++)
        {
            string segment = segments[i];
            if (reader.DropParameters && segment.IndexOf(';', StringComparison.Ordinal) is var semicolon and >= 0)
            {
                segment = segment[..semicolon];
            }

            if (reader.TrimDotsAndSpaces && segment is not ("." or ".."))
            {
                string trimmed = segment.TrimEnd('.', ' ');
                segment = trimmed.Length == 0 && segment.Contains('.', StringComparison.Ordinal) ? ".." : trimmed; // the worst a trimming server could do
            }

            directory = segment is "." or ".." or "";
            if (segment == "..")
            {
                if (stack.Count > 0)
                {
                    stack.RemoveAt(stack.Count - 1);
                }
            }
            else if (segment != "." && !(segment == "" && reader.MergeSlashes))
            {
                stack.Add(segment);
            }
        }

        return "/" + string.Join('/', stack) + (directory && stack.Count > 0 ? "/" : "");
    }

    private static string DecodeLeniently(string s, bool overlong, bool keepSlash)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            bool slash = i + 2 < s.Length && s[i + 1] == '2' && s[i + 2] is 'f' or 'F';
            if (s[i] == '%' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]) && !(keepSlash && slash))
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
            }
        }

        return overlong ? Utf8AcceptingOverlong([.. bytes]) : Encoding.UTF8.GetString([.. bytes]);
    }

    // A decoder of the kind that made "%C0%AE" a classic: any lead byte with continuation bytes, overlong or not.
    private static string Utf8AcceptingOverlong(byte[] b)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < b.Length; i++)
        {
            int x = b[i];
            if (x < 0x80)
            {
                sb.Append((char)x);
            }
            else if ((x & 0xE0) == 0xC0 && i + 1 < b.Length && (b[i + 1] & 0xC0) == 0x80)
            {
                sb.Append((char)(((x & 0x1F) << 6) | (b[i + 1] & 0x3F)));
                i += 1;
            }
            else if ((x & 0xF0) == 0xE0 && i + 2 < b.Length && (b[i + 1] & 0xC0) == 0x80 && (b[i + 2] & 0xC0) == 0x80)
            {
                sb.Append((char)(((x & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F)));
                i += 2;
            }
            else
            {
                sb.Append('\uFFFD');
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// The attacker's property: whenever the reading here is under <c>/our-org/</c>, so that a rule for
    /// <c>/our-org/*</c> allows it, every origin of the model also reads it under <c>/our-org</c>; none is led to
    /// <c>/other-org</c> or the root.
    /// </summary>
    [Fact]
    public void No_spelling_reads_as_under_our_org_here_and_elsewhere_at_an_origin()
    {
        int underOurOrg = 0, refused = 0;
        Soup.Sample(target =>
        {
            if (!RequestPath.TryNormalise(target, out string path, out _))
            {
                refused++;
                return;
            }

            if (!path.StartsWith("/our-org/", StringComparison.Ordinal))
            {
                return;
            }

            underOurOrg++;
            var decoded = new Dictionary<(int, bool, bool, bool), string>();
            foreach (Reader reader in Readers)
            {
                (int, bool, bool, bool) key = (reader.Decodings, reader.LenientUtf8, reader.KeepEncodedSlash, reader.Fold);
                if (!decoded.TryGetValue(key, out string? once))
                {
                    decoded[key] = once = Decode(target, reader);
                }

                // Elsewhere is the root or another name ("other-org", "a"): a first segment that is not a name at all
                // ("/%2F/our-org/a" at a server keeping "%2F" in its segment) leads nowhere an attacker wants.
                string read = Structure(once, reader);
                string? first = read.Split('/').FirstOrDefault(s => s.Length > 0);
                bool elsewhere = first is null || (first != "our-org" && Name().IsMatch(first));
                Assert.False(elsewhere, $"'{target}' reads as '{path}' here but as '{read}' at an origin that does {reader}");
            }
        }, iter: 10_000, threads: 1);

        Assert.True(underOurOrg > 1_000 && refused > 1_000, $"{underOurOrg} read under /our-org/, {refused} refused: the soup should exercise both");
    }

    /// <summary>The brief's form of it: a path accepted under <c>/our-org/</c> holds nothing any origin of the model reads as a dot segment.</summary>
    [Fact]
    public void An_accepted_path_holds_no_dot_segment_for_any_origin()
    {
        Soup.Sample(target =>
        {
            if (!RequestPath.TryNormalise(target, out string path, out _))
            {
                return;
            }

            foreach (string segment in path.Split('/').Skip(1))
            {
                foreach (Reader reader in Readers.Where(r => r.MergeSlashes))
                {
                    // The segment is decoded once already; read it as it stands and decoded up to twice more. A dot
                    // segment would climb out of /x/ ("..") or stay at it (".").
                    string alone = Read("/x/" + segment + "/y", reader with { Decodings = reader.Decodings - 1 }, cutQuery: false);
                    Assert.True(alone.StartsWith("/x/", StringComparison.Ordinal), $"segment '{segment}' of '{path}' (from '{target}') is a dot segment to {reader}: /x/{segment}/y reads as {alone}");
                }
            }
        }, iter: 2_000, threads: 1);
    }

    /// <summary>What is accepted is what the plainest origin reads: decode once, '\' as '/', merge slashes, remove dot segments.</summary>
    [Fact]
    public void An_accepted_path_is_the_plain_reading()
    {
        var plain = new Reader(1, Backslash: true, DropParameters: false, TrimDotsAndSpaces: false, Fold: false, LenientUtf8: false, MergeSlashes: true, KeepEncodedSlash: false);
        Soup.Sample(target =>
        {
            if (RequestPath.TryNormalise(target, out string path, out _))
            {
                Assert.Equal(Read(target, plain), path);
            }
        }, iter: 20_000, threads: 1);
    }

    [Fact]
    public void Normalising_again_changes_nothing_when_no_escape_is_left()
    {
        Soup.Sample(target =>
        {
            // A path with an escaped '?' or '#' in it is no longer a target (its '?' would start a query).
            if (!RequestPath.TryNormalise(target, out string path, out _) || path.AsSpan().IndexOfAny('%', '?', '#') >= 0)
            {
                return;
            }

            Assert.True(RequestPath.TryNormalise(path, out string again, out string problem), $"'{path}' (from '{target}') was refused: {problem}");
            Assert.Equal(path, again);
            Assert.DoesNotContain("//", path, StringComparison.Ordinal);
            Assert.DoesNotContain("\\", path, StringComparison.Ordinal);
            Assert.DoesNotContain("/./", path + "/", StringComparison.Ordinal);
            Assert.DoesNotContain("/../", path + "/", StringComparison.Ordinal);
        }, iter: 20_000, threads: 1);
    }
}
