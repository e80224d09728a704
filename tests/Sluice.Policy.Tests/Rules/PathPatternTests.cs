using System.Text.RegularExpressions;
using CsCheck;
using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

/// <summary><see cref="PathPattern"/>: how a <c>paths:</c> entry is read, what it matches, and when one covers another.</summary>
public sealed class PathPatternTests
{
    public static PathPattern Parse(string text) => PathPattern.TryParse(text, out PathPattern p, out string problem)
        ? p
        : throw new ArgumentException($"test path pattern '{text}' does not parse: {problem}");

    [Theory]
    [InlineData("/our-org", "/our-org", false, "a prefix")]
    [InlineData("/our-org/", "/our-org/", false, "a prefix with its trailing slash kept")]
    [InlineData("  /our-org  ", "/our-org", false, "surrounding spaces are trimmed")]
    [InlineData("/", "/", false, "the root: every path")]
    [InlineData("/*", "/*", true, "a star: a glob")]
    [InlineData("/a/*/b", "/a/*/b", true, "a star in the middle")]
    [InlineData("/our-org/*/releases*", "/our-org/*/releases*", true, "the design note's example")]
    [InlineData("/a/**", "/a/**", true, "two stars in a row")]
    [InlineData("/*.json", "/*.json", true, "a star before an extension")]
    [InlineData("/a/%7Eb", "/a/~b", false, "escapes are decoded as in requests")]
    [InlineData("/our%2Dorg/*", "/our-org/*", true, "an escape in a glob")]
    [InlineData("/a%2Fb", "/a/b", false, "an escaped slash separates, as in requests")]
    [InlineData("/a//b", "/a/b", false, "empty segments collapse, as in requests")]
    [InlineData("/a\\b", "/a/b", false, "a backslash separates, as in requests")]
    [InlineData("/caf%C3%A9/*", "/café/*", true, "escaped UTF-8")]
    [InlineData("/bücher", "/bücher", false, "raw UTF-8, as a YAML file holds it")]
    [InlineData("/a/%2A", "/a/*", false, "an escaped star in a prefix is a literal star")]
    [InlineData("/a;b", "/a;b", false, "a ';' is part of a segment")]
    public void Parses(string text, string expected, bool glob, string why)
    {
        Assert.True(PathPattern.TryParse(text, out PathPattern pattern, out string problem), $"{why}: {problem}");
        Assert.True(expected == pattern.Text && glob == pattern.IsGlob, $"{why}: got '{pattern.Text}' (glob {pattern.IsGlob})");
        Assert.Equal(expected, pattern.ToString());
    }

    [Theory]
    [InlineData("our-org", "is not a path: paths start with '/'", "no leading slash")]
    [InlineData("", "is not a path", "empty")]
    [InlineData("*", "is not a path", "a star alone")]
    [InlineData("*/our-org", "is not a path", "a star at the start")]
    [InlineData("github.com/our-org", "is not a path", "a host and a path")]
    [InlineData("/a?b", "'?' and '#' cannot appear", "a query")]
    [InlineData("/a?", "'?' and '#' cannot appear", "an empty query")]
    [InlineData("/a#b", "'?' and '#' cannot appear", "a fragment")]
    [InlineData("/a%", "'%' that is not followed by two hex digits", "a lone percent")]
    [InlineData("/a%2", "'%' that is not followed by two hex digits", "a short escape")]
    [InlineData("/a%zz", "'%' that is not followed by two hex digits", "not hex")]
    [InlineData("/a%00", "control character (U+0000)", "an escaped NUL")]
    [InlineData("/a\u0001b", "control character (U+0001)", "a raw control character")]
    [InlineData("/a\tb", "control character (U+0009)", "a tab")]
    [InlineData("/a%FF", "not valid UTF-8", "invalid UTF-8")]
    [InlineData("/our-org/..", "holds a '.' or '..' segment", "'..' would make the pattern '/', every path")]
    [InlineData("/our-org/../other-org", "write the path they lead to (/other-org)", "'..' in the middle names where it leads")]
    [InlineData("/a/./b", "holds a '.' or '..' segment", "a '.' segment")]
    [InlineData("/a/%2e%2e/b", "holds a '.' or '..' segment", "escaped dots")]
    [InlineData("/a/*/..", "holds a '.' or '..' segment", "a '..' after a star would remove the star")]
    [InlineData("/a/%2A/*", "an escaped one (%2A) cannot stand for a literal star", "an escaped star in a glob")]
    [InlineData("/a/..;/b", "read as a dot segment by some servers", "a segment requests may not hold")]
    [InlineData("/our-org/\uFF0E\uFF0E", "U+FF0E", "fullwidth dots")]
    [InlineData("/other-org/..%2Four-org", "holds a '\\' or an escaped slash", "a '..' meeting an escaped slash")]
    public void Refuses(string text, string problemPart, string why)
    {
        Assert.False(PathPattern.TryParse(text, out _, out string problem), why);
        Assert.True(problem.Contains(problemPart, StringComparison.Ordinal), $"{why}: '{problem}' should contain '{problemPart}'");
        Assert.Contains(text.Trim().Length == 0 ? "''" : text.Trim(), problem, StringComparison.Ordinal);
    }

    [Theory]
    // a prefix, on segment boundaries
    [InlineData("/our-org", "/our-org", true, "the prefix itself")]
    [InlineData("/our-org", "/our-org/", true, "the prefix as a directory")]
    [InlineData("/our-org", "/our-org/repo", true, "below the prefix")]
    [InlineData("/our-org", "/our-org/repo/issues/1", true, "deep below")]
    [InlineData("/our-org", "/our-orgs", false, "a longer name is another segment")]
    [InlineData("/our-org", "/our-org-evil/repo", false, "a name with the prefix as its start")]
    [InlineData("/our-org", "/our-org.git", false, "an extension makes another name")]
    [InlineData("/our-org", "/our-org;x/repo", false, "a ';' parameter makes another segment")]
    [InlineData("/our-org", "/Our-Org/repo", false, "case-sensitive")]
    [InlineData("/our-org", "/our", false, "shorter")]
    [InlineData("/our-org", "/", false, "the root")]
    [InlineData("/our-org", "/x/our-org", false, "the prefix further down")]
    [InlineData("/our-org/", "/our-org/", true, "a slash-ended prefix matches its directory")]
    [InlineData("/our-org/", "/our-org/repo", true, "and below")]
    [InlineData("/our-org/", "/our-org", false, "but not the name without the slash")]
    [InlineData("/our-org/", "/our-orgs/", false, "nor a longer name")]
    [InlineData("/", "/", true, "the root prefix matches the root")]
    [InlineData("/", "/anything/at/all", true, "and every path")]
    [InlineData("/a/b", "/a/b/c", true, "a two-segment prefix")]
    [InlineData("/a/b", "/a/bc", false, "a two-segment prefix, not mid-segment")]
    // a glob over the whole path
    [InlineData("/a/*/b", "/a/x/b", true, "a star for one segment")]
    [InlineData("/a/*/b", "/a/x/y/b", true, "a star crosses '/'")]
    [InlineData("/a/*/b", "/a/b", false, "the slashes around the star are literal")]
    [InlineData("/a/*/b", "/a//b", true, "the star may match nothing (a path that was never normalised)")]
    [InlineData("/a/*/b", "/a/x/b/c", false, "a glob is not a prefix: it matches the whole path")]
    [InlineData("/a/*/b", "/a/x/bc", false, "nor a start of the last segment")]
    [InlineData("/our-org/*", "/our-org/", true, "a trailing star may match nothing")]
    [InlineData("/our-org/*", "/our-org/x/y", true, "or everything below")]
    [InlineData("/our-org/*", "/our-org", false, "the slash before the star is needed")]
    [InlineData("/our-org/*", "/our-orgs/x", false, "another name")]
    [InlineData("/our-org*", "/our-orgs", true, "a star right after the name matches longer names")]
    [InlineData("/our-org*", "/our-org", true, "and the name")]
    [InlineData("/*", "/", true, "'/*' matches the root")]
    [InlineData("/*", "/a/b/c", true, "and every path")]
    [InlineData("/*.json", "/a/b.json", true, "an extension anywhere below")]
    [InlineData("/*.json", "/a.json/x", false, "the extension must end the path")]
    [InlineData("/a*b*c", "/abc", true, "stars matching nothing")]
    [InlineData("/a*b*c", "/a-b-c", true, "stars matching something")]
    [InlineData("/a*b*c", "/a/b/c", true, "stars across segments")]
    [InlineData("/a*b*c", "/acb", false, "order matters")]
    [InlineData("/a*b*c", "/abcc", true, "the last literal matched at the end")]
    [InlineData("/a*b*c", "/abcd", false, "a tail after the last literal")]
    [InlineData("/a/**", "/a/", true, "two stars are one")]
    [InlineData("/*/x/*", "/a/x/b", true, "stars on both sides")]
    [InlineData("/*/x/*", "/x/b", false, "the literal '/x/' needs a segment before it")]
    [InlineData("/api/*/status", "/api/v1/status", true, "a version segment")]
    [InlineData("/api/*/status", "/api/v1/status/", false, "a trailing slash is part of the path")]
    [InlineData("/a/*", "/A/x", false, "globs are case-sensitive")]
    // escapes in the pattern, normalised paths
    [InlineData("/our%2Dorg", "/our-org/x", true, "an escaped pattern matches the plain path")]
    [InlineData("/a/%2A", "/a/*/x", true, "a literal star in a prefix")]
    [InlineData("/a/%2A", "/a/b", false, "which is no wildcard")]
    [InlineData("/café", "/café/x", true, "non-ASCII")]
    public void Matches(string pattern, string path, bool expected, string why)
    {
        Assert.True(expected == Parse(pattern).Matches(path), $"{why}: {pattern} vs {path}");
    }

    [Theory]
    [InlineData("/*a*a*a*a*a*a*a*a*b", 'a', false, "the classic: many stars, a literal that never comes")]
    [InlineData("/*a*a*a*a*a*a*a*a*a", 'a', true, "the same pattern that does match")]
    [InlineData("/a*a*a*a*a*a*a*a*a*a*a*a*b", 'a', false, "a literal start")]
    [InlineData("/****************************x", 'y', false, "a run of stars")]
    [InlineData("/*/*/*/*/*/*/*/*/*/*/z", '/', false, "stars between slashes, on a path of slashes")]
    public void Pathological_globs_on_long_paths_finish(string pattern, char fill, bool expected, string why)
    {
        // Nothing is timed: an exponential matcher never returns on these.
        string path = "/" + new string(fill, 200_000);

        Assert.True(expected == Parse(pattern).Matches(path), why);
    }

    [Fact]
    public void A_prefix_matches_a_long_path_under_it()
    {
        string path = "/our-org" + string.Concat(Enumerable.Repeat("/x", 100_000));

        Assert.True(Parse("/our-org").Matches(path));
        Assert.False(Parse("/our-orgs").Matches(path));
    }

    // ---- properties ----

    private static readonly Gen<string> PatternPart = Gen.OneOf("a", "b", "ab", "*", "a*", "*b", "*/", "/*");

    private static readonly Gen<string> GeneratedPattern = Gen.Select(PatternPart.Array[0, 4], Gen.Bool, (parts, slash) =>
        "/" + string.Join('/', parts) + (slash ? "/" : ""));

    private static readonly Gen<string> PathSegment = Gen.OneOf("a", "b", "ab", "ba", "aab", "x", "*");

    private static readonly Gen<string> GeneratedPath = Gen.Select(PathSegment.Array[0, 5], Gen.Bool, (segments, slash) =>
        "/" + string.Join('/', segments) + (slash && segments.Length > 0 ? "/" : ""));

    private static readonly string[] SomePaths = [.. GeneratedPath.Array[400].Single().Concat(["/", "/a", "/a/", "/ab", "/a/b", "/a/b/", "/b/a", "/ab/a/b/"]).Distinct()];

    private static bool Parsed(string text, out PathPattern pattern) => PathPattern.TryParse(text, out pattern, out _);

    /// <summary>The glob matcher agrees with a regular expression in which '*' is ".*" (the definition).</summary>
    [Fact]
    public void A_glob_matches_what_its_regular_expression_matches()
    {
        Gen.Select(GeneratedPattern, GeneratedPath).Sample((text, path) =>
        {
            if (!Parsed(text, out PathPattern pattern) || !pattern.IsGlob)
            {
                return;
            }

            bool expected = Regex.IsMatch(path, "^" + Regex.Escape(pattern.Text).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.Singleline);
            Assert.True(expected == pattern.Matches(path), $"{pattern.Text} vs {path}: expected {expected}");
        }, iter: 20_000, threads: 1);
    }

    /// <summary>A prefix matches exactly the path itself, its directory and everything below a segment boundary.</summary>
    [Fact]
    public void A_prefix_matches_on_segment_boundaries_only()
    {
        Gen.Select(GeneratedPath, GeneratedPath).Sample((prefixText, path) =>
        {
            if (prefixText.Contains('*', StringComparison.Ordinal) || !Parsed(prefixText, out PathPattern prefix))
            {
                return;
            }

            string p = prefix.Text;
            bool expected = path == p || (p.EndsWith('/') ? path.StartsWith(p, StringComparison.Ordinal) : path.StartsWith(p + "/", StringComparison.Ordinal));
            Assert.True(expected == prefix.Matches(path), $"{p} vs {path}: expected {expected}");
        }, iter: 20_000, threads: 1);
    }

    /// <summary>
    /// Soundness of Covers, which shadowing trusts: when a covers b, no path matches b but not a. Counted so that the
    /// property cannot pass by never finding a covering pair.
    /// </summary>
    [Fact]
    public void Covers_is_never_true_when_a_path_matches_the_covered_entry_only()
    {
        int covering = 0;
        Gen<string> either = Gen.OneOf(GeneratedPattern, GeneratedPath);
        Gen.Select(either, either).Sample((aText, bText) =>
        {
            if (!Parsed(aText, out PathPattern a) || !Parsed(bText, out PathPattern b) || !a.Covers(b))
            {
                return;
            }

            Interlocked.Increment(ref covering);
            foreach (string path in SomePaths.Append(b.Text.Replace("*", "", StringComparison.Ordinal)).Append(b.Text.Replace("*", "x/y", StringComparison.Ordinal)))
            {
                Assert.False(b.Matches(path) && !a.Matches(path), $"{a.Text} (glob {a.IsGlob}) covers {b.Text} (glob {b.IsGlob}), but {path} matches only the second");
            }
        }, iter: 20_000, threads: 1);

        Assert.True(covering > 2_000, $"only {covering} covering pairs");
    }

    [Theory]
    [InlineData("/our-org", "/our-org", true, "itself")]
    [InlineData("/our-org", "/our-org/", true, "a prefix covers its directory")]
    [InlineData("/our-org", "/our-org/x", true, "a prefix covers a deeper prefix")]
    [InlineData("/our-org", "/our-org/*", true, "a prefix covers a glob under it")]
    [InlineData("/our-org", "/our-org/*/releases*", true, "a prefix covers any glob starting below it")]
    [InlineData("/our-org", "/our-orgs", false, "not a longer name")]
    [InlineData("/our-org", "/our-org*", false, "not a glob that matches longer names")]
    [InlineData("/our-org/", "/our-org", false, "a slash-ended prefix does not cover the bare name")]
    [InlineData("/our-org/", "/our-org/*", true, "but covers a glob below it")]
    [InlineData("/", "/anything", true, "the root prefix covers every prefix")]
    [InlineData("/", "/*", true, "and every glob")]
    [InlineData("/*", "/our-org", true, "'/*' covers every prefix")]
    [InlineData("/*", "/a/*/b", true, "and every glob")]
    [InlineData("/our-org/*", "/our-org/x", true, "a trailing-star glob covers a prefix below it")]
    [InlineData("/our-org/*", "/our-org/x/*", true, "and a glob below it")]
    [InlineData("/our-org/*", "/our-org", false, "not the bare name, which it does not match")]
    [InlineData("/our-org*", "/our-org", true, "'/our-org*' covers the prefix /our-org and everything under it")]
    [InlineData("/a/*/b", "/a/x/b", false, "a glob with an inner star covers only itself (conservative)")]
    [InlineData("/a/*/b", "/a/*/b", true, "itself")]
    [InlineData("/our-org/x", "/our-org", false, "narrower does not cover wider")]
    [InlineData("/a/%2A", "/a", false, "a prefix with a literal star is no wildcard: it covers nothing wider")]
    [InlineData("/%2A", "/a", false, "the prefix '/*' (a literal star) covers nothing but itself and below")]
    [InlineData("/%2A", "/%2A/x", true, "itself and below")]
    public void Covers(string a, string b, bool expected, string why)
    {
        Assert.True(expected == Parse(a).Covers(Parse(b)), $"{why}: {a} covers {b}?");
    }

    [Fact]
    public void Equal_spellings_are_equal_patterns()
    {
        Assert.Equal(Parse("/a/%7Eb"), Parse("/a/~b"));
        Assert.Equal(Parse("/a//b/"), Parse("/a/b/"));
        Assert.NotEqual(Parse("/a/b"), Parse("/a/b/"));
        Assert.NotEqual(Parse("/a/*"), Parse("/a/%2A"));
    }
}
