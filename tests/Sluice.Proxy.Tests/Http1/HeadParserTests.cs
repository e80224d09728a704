using System.Text;
using Sluice.Proxy.Http1;

namespace Sluice.Proxy.Tests.Http1;

/// <summary>
/// The strict HTTP/1.1 head reader. Every case is a line: what it proves, the bytes (Latin-1, so "\u00e9" is the byte
/// 0xE9), and what the reader must say. Anything a lenient parser would guess about must be refused.
/// </summary>
public sealed class HeadParserTests
{
    // The production defaults: 8 KiB request line, 64 KiB header section, 100 fields.
    private static readonly HeadLimits Defaults = new(MaxRequestLineBytes: 8 * 1024, MaxHeaderBytes: 64 * 1024, MaxFieldCount: 100);

    // Small limits so that the boundary cases stay readable.
    private static readonly HeadLimits Small = new(MaxRequestLineBytes: 64, MaxHeaderBytes: 256, MaxFieldCount: 4);

    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary><paramref name="before"/>, then filler bytes, then <paramref name="after"/>: exactly <paramref name="length"/> bytes.</summary>
    private static string Padded(string before, int length, string after) => before + new string('f', length - before.Length - after.Length) + after;

    private static ParseResult Request(string text, out RequestHead? head) => HeadParser.ParseRequest(Bytes(text), Defaults, out head);

    // Test signatures are public and the parser's types are internal: tables name limits and outcomes as text.
    private static HeadLimits Limits(string name) => name switch
    {
        "defaults" => Defaults,
        "small" => Small,
        "small, 1000 fields" => Small with { MaxFieldCount = 1000 },
        "small, 4096-byte request line" => Small with { MaxRequestLineBytes = 4096 },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such limits in this test"),
    };

    /// <summary>"Complete", "Incomplete", or "Invalid" and the problem, e.g. "Invalid RequestLineTooLong".</summary>
    private static string Outcome(ParseResult result) => result.Status == ParseStatus.Invalid ? $"Invalid {result.Problem}" : result.Status.ToString();

    // ---------------------------------------------------------------- valid requests

    [Theory]
    [InlineData("absolute-form GET", "GET http://example.test/a?b=c HTTP/1.1\r\nHost: example.test\r\n\r\n", "GET", "http://example.test/a?b=c", 1, 1)]
    [InlineData("CONNECT with an authority-form target", "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n", "CONNECT", "example.test:443", 1, 1)]
    [InlineData("CONNECT to a bracketed IPv6 literal", "CONNECT [::1]:443 HTTP/1.1\r\n\r\n", "CONNECT", "[::1]:443", 1, 0)]
    [InlineData("HTTP/1.0 request", "GET http://example.test/ HTTP/1.0\r\n\r\n", "GET", "http://example.test/", 0, 0)]
    [InlineData("HTTP/1.2 is treated as 1.1", "GET http://example.test/ HTTP/1.2\r\n\r\n", "GET", "http://example.test/", 1, 0)]
    [InlineData("no header fields at all", "GET http://example.test/ HTTP/1.1\r\n\r\n", "GET", "http://example.test/", 1, 0)]
    [InlineData("one leading empty line is ignored", "\r\nGET http://example.test/ HTTP/1.1\r\n\r\n", "GET", "http://example.test/", 1, 0)]
    [InlineData("four leading empty lines are ignored", "\r\n\r\n\r\n\r\nGET http://example.test/ HTTP/1.1\r\n\r\n", "GET", "http://example.test/", 1, 0)]
    [InlineData("origin-form is a valid request line (the forwarder refuses it, not the reader)", "GET /path HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/path", 1, 1)]
    [InlineData("asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS", "*", 1, 0)]
    [InlineData("an extension method is any token", "M-SEARCH! http://example.test/ HTTP/1.1\r\n\r\n", "M-SEARCH!", "http://example.test/", 1, 0)]
    [InlineData("method case is kept (methods are case-sensitive)", "get http://example.test/ HTTP/1.1\r\n\r\n", "get", "http://example.test/", 1, 0)]
    [InlineData("percent-encoding and query punctuation in the target", "GET http://example.test/%20a?x=[1]&y=%7E HTTP/1.1\r\n\r\n", "GET", "http://example.test/%20a?x=[1]&y=%7E", 1, 0)]
    [InlineData("several fields", "POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n", "POST", "http://example.test/", 1, 3)]
    public void Valid_request_is_complete(string because, string raw, string method, string target, int minor, int fieldCount)
    {
        ParseResult result = Request(raw, out RequestHead? head);

        Assert.True(result.Status == ParseStatus.Complete, $"{because}: expected Complete, got {result.Status} ({result.Message})");
        Assert.Equal(Bytes(raw).Length, result.Consumed);
        Assert.NotNull(head);
        Assert.Equal(method, head.Method);
        Assert.Equal(target, head.Target);
        Assert.Equal(minor, head.MinorVersion);
        Assert.Equal(minor == 0, head.IsHttp10);
        Assert.Equal(method == "CONNECT", head.IsConnect);
        Assert.Equal(fieldCount, head.Fields.Count);
        Assert.Equal(raw.TrimStart('\r', '\n').Length, head.WireLength);
    }

    [Theory]
    [InlineData("value without OWS", "X-A:v", "X-A", "v")]
    [InlineData("one space of OWS", "X-A: v", "X-A", "v")]
    [InlineData("OWS trimmed on both sides, spaces and tabs", "X-A: \t v \t ", "X-A", "v")]
    [InlineData("whitespace inside the value kept", "X-A: a  b\tc", "X-A", "a  b\tc")]
    [InlineData("empty value", "X-A:", "X-A", "")]
    [InlineData("only whitespace is an empty value", "X-A:  \t ", "X-A", "")]
    [InlineData("a colon inside the value is part of it", "X-A: http://a:b", "X-A", "http://a:b")]
    [InlineData("name spelling kept", "x-MiXeD-case: 1", "x-MiXeD-case", "1")]
    [InlineData("every tchar allowed in a name", "!#$%&'*+-.^_`|~09azAZ: 1", "!#$%&'*+-.^_`|~09azAZ", "1")]
    [InlineData("obs-text bytes kept as Latin-1", "X-A: caf\u00e9 \u0080\u00ff", "X-A", "caf\u00e9 \u0080\u00ff")]
    [InlineData("quotes and backslashes are plain VCHARs", "X-A: \"a\\\"b\"", "X-A", "\"a\\\"b\"")]
    public void Field_line_is_read_exactly(string because, string fieldLine, string name, string value)
    {
        ParseResult result = Request($"GET http://example.test/ HTTP/1.1\r\n{fieldLine}\r\n\r\n", out RequestHead? head);

        Assert.True(result.Status == ParseStatus.Complete, $"{because}: expected Complete, got {result.Status} ({result.Message})");
        Assert.Equal(1, head!.Fields.Count);
        KeyValuePair<string, string> field = head.Fields[0];
        Assert.Equal(name, field.Key);
        Assert.Equal(value, field.Value);
    }

    [Fact]
    public void Repeated_fields_stay_separate_and_in_order()
    {
        ParseResult result = Request("GET http://example.test/ HTTP/1.1\r\nX-A: 1\r\nX-B: 2\r\nx-a: 3\r\n\r\n", out RequestHead? head);

        Assert.Equal(ParseStatus.Complete, result.Status);
        Assert.Equal(new[] { "1", "3" }, head!.Fields.All("X-A"));
        Assert.Equal("X-A", head.Fields[0].Key);
        Assert.Equal("X-B", head.Fields[1].Key);
        Assert.Equal("x-a", head.Fields[2].Key);
    }

    [Fact]
    public void Bytes_after_the_head_are_not_consumed()
    {
        const string head = "POST http://example.test/ HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        ParseResult result = Request(head + "hello" + "GET http://example.test/ HTTP/1.1\r\n\r\n", out RequestHead? parsed);

        Assert.Equal(ParseStatus.Complete, result.Status);
        Assert.Equal(head.Length, result.Consumed);
        Assert.Equal("5", parsed!.Fields.Get("content-length"));
    }

    // ---------------------------------------------------------------- incomplete input

    public static TheoryData<string, string, string> ValidHeads => new()
    {
        { "absolute-form GET with fields", "GET http://example.test/a?b=c HTTP/1.1\r\nHost: example.test\r\nX-Empty:\r\nX-Obs: caf\u00e9\r\n\r\n", "defaults" },
        { "CONNECT", "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n", "defaults" },
        { "leading empty lines", "\r\n\r\nGET http://example.test/ HTTP/1.0\r\n\r\n", "defaults" },
        { "request line exactly at its limit", $"GET http://example.test/{new string('a', 64 - 33)} HTTP/1.1\r\nHost: a\r\n\r\n", "small" },
        { "head exactly at the header-section limit", Padded("GET http://example.test/ HTTP/1.1\r\nX-Fill: ", 256, "\r\n\r\n"), "small" },
        { "exactly the maximum number of fields", "GET http://example.test/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", "small" },
    };

    [Theory]
    [MemberData(nameof(ValidHeads))]
    public void Every_proper_prefix_of_a_valid_head_is_incomplete_never_invalid(string because, string raw, string limitsName)
    {
        HeadLimits limits = Limits(limitsName);
        byte[] bytes = Bytes(raw);
        ParseResult whole = HeadParser.ParseRequest(bytes, limits, out _);
        Assert.True(whole.Status == ParseStatus.Complete, $"{because}: the whole head should be Complete, got {whole.Status} ({whole.Message})");
        Assert.Equal(bytes.Length, whole.Consumed);

        for (int length = 0; length < bytes.Length; length++)
        {
            ParseResult result = HeadParser.ParseRequest(bytes.AsSpan(0, length), limits, out RequestHead? head);
            Assert.True(
                result.Status == ParseStatus.Incomplete,
                $"{because}: the first {length} of {bytes.Length} bytes gave {result.Status} {result.Problem} ({result.Message}) instead of Incomplete");
            Assert.Null(head);
        }
    }

    [Fact]
    public void Every_proper_prefix_of_a_valid_response_head_is_incomplete()
    {
        byte[] bytes = Bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: caf\u00e9\r\n\r\n");
        for (int length = 0; length < bytes.Length; length++)
        {
            ParseResult result = HeadParser.ParseResponse(bytes.AsSpan(0, length), Defaults, out ResponseHead? head);
            Assert.True(result.Status == ParseStatus.Incomplete, $"the first {length} of {bytes.Length} bytes gave {result.Status} ({result.Message}) instead of Incomplete");
            Assert.Null(head);
        }
    }

    // ---------------------------------------------------------------- refusals

    [Theory]
    // field lines
    [InlineData("obs-fold: a continuation line starting with a space", "GET http://a.test/ HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n")]
    [InlineData("obs-fold: a continuation line starting with a tab", "GET http://a.test/ HTTP/1.1\r\nX-A: 1\r\n\tcontinued\r\n\r\n")]
    [InlineData("whitespace before the first field line", "GET http://a.test/ HTTP/1.1\r\n Host: a.test\r\n\r\n")]
    [InlineData("space between field name and colon", "GET http://a.test/ HTTP/1.1\r\nHost : a.test\r\n\r\n")]
    [InlineData("tab between field name and colon", "GET http://a.test/ HTTP/1.1\r\nHost\t: a.test\r\n\r\n")]
    [InlineData("space inside a field name", "GET http://a.test/ HTTP/1.1\r\nX A: 1\r\n\r\n")]
    [InlineData("empty field name", "GET http://a.test/ HTTP/1.1\r\n: 1\r\n\r\n")]
    [InlineData("field line without a colon", "GET http://a.test/ HTTP/1.1\r\nHost a.test\r\n\r\n")]
    [InlineData("separator character in a field name", "GET http://a.test/ HTTP/1.1\r\nX(A): 1\r\n\r\n")]
    [InlineData("non-ASCII byte in a field name", "GET http://a.test/ HTTP/1.1\r\nX-\u00e9: 1\r\n\r\n")]
    [InlineData("NUL in a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: a\0b\r\n\r\n")]
    [InlineData("NUL at the end of a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: a\0\r\n\r\n")]
    [InlineData("bare CR inside a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: a\rb\r\n\r\n")]
    [InlineData("CR CR LF at the end of a field line", "GET http://a.test/ HTTP/1.1\r\nX-A: a\r\r\n\r\n")]
    [InlineData("bare CR as a field line terminator", "GET http://a.test/ HTTP/1.1\r\nX-A: a\rX-B: b\r\n\r\n")]
    [InlineData("control byte 0x01 in a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: a\u0001b\r\n\r\n")]
    [InlineData("ESC in a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: \u001b[31m\r\n\r\n")]
    [InlineData("vertical tab in a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: a\u000bb\r\n\r\n")]
    [InlineData("DEL in a field value", "GET http://a.test/ HTTP/1.1\r\nX-A: a\u007fb\r\n\r\n")]
    [InlineData("NUL in a field name", "GET http://a.test/ HTTP/1.1\r\nX-\0A: 1\r\n\r\n")]
    // line endings
    [InlineData("bare LF ends the request line", "GET http://a.test/ HTTP/1.1\nHost: a.test\r\n\r\n")]
    [InlineData("bare LF ends a field line", "GET http://a.test/ HTTP/1.1\r\nHost: a.test\nX-A: 1\r\n\r\n")]
    [InlineData("bare LF as the empty line ending the head", "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\n")]
    [InlineData("bare LF everywhere", "GET http://a.test/ HTTP/1.1\nHost: a.test\n\n")]
    [InlineData("bare LF before the request line", "\nGET http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("bare CR before the request line", "\rGET http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("CR CR LF before the request line", "\r\r\nGET http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("bare CR inside the request line", "GET http://a.test/\r HTTP/1.1\r\n\r\n")]
    [InlineData("bare CR ending the request line", "GET http://a.test/ HTTP/1.1\rHost: a.test\r\n\r\n")]
    // request line shape
    [InlineData("two spaces between method and target", "GET  http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("two spaces between target and version", "GET http://a.test/  HTTP/1.1\r\n\r\n")]
    [InlineData("space before the method", " GET http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("space after the version", "GET http://a.test/ HTTP/1.1 \r\n\r\n")]
    [InlineData("tabs as separators", "GET\thttp://a.test/\tHTTP/1.1\r\n\r\n")]
    [InlineData("missing version", "GET http://a.test/\r\n\r\n")]
    [InlineData("empty version", "GET http://a.test/ \r\n\r\n")]
    [InlineData("missing target and version", "GET\r\n\r\n")]
    [InlineData("a fifth leading empty line is not skipped", "\r\n\r\n\r\n\r\n\r\n\r\n")]
    [InlineData("HTTP/0.9 style simple request", "GET /\r\n\r\n")]
    [InlineData("lower-case http/1.1", "GET http://a.test/ http/1.1\r\n\r\n")]
    [InlineData("version without minor", "GET http://a.test/ HTTP/1\r\n\r\n")]
    [InlineData("version with two digits", "GET http://a.test/ HTTP/11.1\r\n\r\n")]
    [InlineData("version with a letter", "GET http://a.test/ HTTP/1.x\r\n\r\n")]
    [InlineData("version with a comma", "GET http://a.test/ HTTP/1,1\r\n\r\n")]
    [InlineData("unknown protocol name", "GET http://a.test/ HTTPS/1.1\r\n\r\n")]
    [InlineData("four parts on the request line", "GET http://a.test/ x HTTP/1.1\r\n\r\n")]
    [InlineData("separator in the method", "G(T http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("non-ASCII byte in the method", "G\u00e9T http://a.test/ HTTP/1.1\r\n\r\n")]
    [InlineData("NUL in the target", "GET http://a.test/\0 HTTP/1.1\r\n\r\n")]
    [InlineData("DEL in the target", "GET http://a.test/\u007f HTTP/1.1\r\n\r\n")]
    [InlineData("non-ASCII byte in the target", "GET http://a.test/caf\u00e9 HTTP/1.1\r\n\r\n")]
    [InlineData("NUL in the version", "GET http://a.test/ HTTP/1.\0\r\n\r\n")]
    public void Malformed_request_is_refused(string because, string raw)
    {
        ParseResult result = Request(raw, out RequestHead? head);

        Assert.True(result.Status == ParseStatus.Invalid, $"{because}: expected Invalid, got {result.Status}");
        Assert.True(result.Problem == HeadProblem.Malformed, $"{because}: expected Malformed, got {result.Problem} ({result.Message})");
        Assert.False(string.IsNullOrWhiteSpace(result.Message), $"{because}: a refusal must say why");
        Assert.Null(head);
    }

    [Theory]
    [InlineData("a bad field line is refused before the head is complete", "GET http://a.test/ HTTP/1.1\r\nHost : a.test\r\n")]
    [InlineData("a bare LF is refused before the head is complete", "GET http://a.test/ HTTP/1.1\n")]
    [InlineData("a bad request line is refused before any field arrives", "GET  http://a.test/ HTTP/1.1\r\n")]
    public void Refusal_does_not_wait_for_the_rest_of_the_head(string because, string raw)
    {
        ParseResult result = Request(raw, out _);

        Assert.True(result.Status == ParseStatus.Invalid && result.Problem == HeadProblem.Malformed, $"{because}: got {result.Status} {result.Problem}");
    }

    [Theory]
    [InlineData("HTTP/2.0 on an HTTP/1 listener", "GET http://a.test/ HTTP/2.0\r\n\r\n")]
    [InlineData("the HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("HTTP/3.0", "GET http://a.test/ HTTP/3.0\r\n\r\n")]
    [InlineData("HTTP/0.9 spelled as a version", "GET http://a.test/ HTTP/0.9\r\n\r\n")]
    public void Other_major_version_is_not_supported(string because, string raw)
    {
        ParseResult result = Request(raw, out RequestHead? head);

        Assert.True(result.Status == ParseStatus.Invalid && result.Problem == HeadProblem.VersionNotSupported, $"{because}: got {result.Status} {result.Problem} ({result.Message})");
        Assert.Null(head);
    }

    public static TheoryData<string, string, string, string> LimitCases => new()
    {
        // Small: request line 64, header section 256 (request line included), 4 fields.
        { "request line exactly at the limit", $"GET http://a.test/{new string('a', 64 - 27)} HTTP/1.1\r\n\r\n", "small", "Complete" },
        { "request line one byte over the limit", $"GET http://a.test/{new string('a', 65 - 27)} HTTP/1.1\r\n\r\n", "small", "Invalid RequestLineTooLong" },
        { "request line at the limit with its CR but not yet its LF", $"GET http://a.test/{new string('a', 64 - 27)} HTTP/1.1\r", "small", "Incomplete" },
        { "request line over the limit, no LF yet", $"GET http://a.test/{new string('a', 100)}", "small", "Invalid RequestLineTooLong" },
        { "request line one byte over the limit, no LF yet", $"GET http://a.test/{new string('a', 65 - 27)} HTTP/1.1", "small", "Invalid RequestLineTooLong" },
        { "request line over the limit after leading empty lines", $"\r\n\r\nGET http://a.test/{new string('a', 65 - 27)} HTTP/1.1\r\n\r\n", "small", "Invalid RequestLineTooLong" },
        { "head exactly at the header-section limit", Padded("GET http://a.test/ HTTP/1.1\r\nX-Fill: ", 256, "\r\n\r\n"), "small", "Complete" },
        { "head one byte over the header-section limit", Padded("GET http://a.test/ HTTP/1.1\r\nX-Fill: ", 257, "\r\n\r\n"), "small", "Invalid HeaderSectionTooLarge" },
        { "header section over the limit while a field line is still open", $"GET http://a.test/ HTTP/1.1\r\nX-Fill: {new string('f', 300)}", "small", "Invalid HeaderSectionTooLarge" },
        { "header section over the limit in many small fields", $"GET http://a.test/ HTTP/1.1\r\n{string.Concat(Enumerable.Repeat("X: 1\r\n", 60))}\r\n", "small, 1000 fields", "Invalid HeaderSectionTooLarge" },
        { "exactly the maximum number of fields", "GET http://a.test/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", "small", "Complete" },
        { "one field more than the maximum", "GET http://a.test/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", "small", "Invalid HeaderSectionTooLarge" },
        { "too many fields is refused before the head ends", "GET http://a.test/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", "small", "Invalid HeaderSectionTooLarge" },
        { "too many empty-valued fields", "GET http://a.test/ HTTP/1.1\r\nA:\r\nA:\r\nA:\r\nA:\r\nA:\r\n\r\n", "small", "Invalid HeaderSectionTooLarge" },
        // A request-line limit above the header-section limit must not let the buffer grow past the header limit.
        { "unfinished request line past the header-section limit", $"GET http://a.test/{new string('a', 300)}", "small, 4096-byte request line", "Invalid HeaderSectionTooLarge" },
        { "whole request line past the header-section limit", $"GET http://a.test/{new string('a', 300)} HTTP/1.1\r\n", "small, 4096-byte request line", "Invalid HeaderSectionTooLarge" },
        { "default limits: 8 KiB request line is fine", $"GET http://a.test/{new string('a', 8192 - 27)} HTTP/1.1\r\n\r\n", "defaults", "Complete" },
        { "default limits: 9 KiB request line is too long", $"GET http://a.test/{new string('a', 9000)} HTTP/1.1\r\n\r\n", "defaults", "Invalid RequestLineTooLong" },
        { "default limits: 100 fields are fine", $"GET http://a.test/ HTTP/1.1\r\n{string.Concat(Enumerable.Repeat("X: 1\r\n", 100))}\r\n", "defaults", "Complete" },
        { "default limits: 101 fields are too many", $"GET http://a.test/ HTTP/1.1\r\n{string.Concat(Enumerable.Repeat("X: 1\r\n", 101))}\r\n", "defaults", "Invalid HeaderSectionTooLarge" },
        { "default limits: a 70 KB field is too large", $"GET http://a.test/ HTTP/1.1\r\nX: {new string('x', 70_000)}\r\n\r\n", "defaults", "Invalid HeaderSectionTooLarge" },
    };

    [Theory]
    [MemberData(nameof(LimitCases))]
    public void Limits_are_enforced_at_their_exact_boundary(string because, string raw, string limits, string expected)
    {
        ParseResult result = HeadParser.ParseRequest(Bytes(raw), Limits(limits), out _);

        Assert.True(Outcome(result) == expected, $"{because}: expected {expected}, got {Outcome(result)} ({result.Message})");
    }

    // ---------------------------------------------------------------- responses

    [Theory]
    [InlineData("200 with a reason", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1, 200, "OK", 1)]
    [InlineData("HTTP/1.0 response", "HTTP/1.0 404 Not Found\r\n\r\n", 0, 404, "Not Found", 0)]
    [InlineData("no reason and no space after the code", "HTTP/1.1 204\r\n\r\n", 1, 204, "", 0)]
    [InlineData("empty reason after the space", "HTTP/1.1 200 \r\n\r\n", 1, 200, "", 0)]
    [InlineData("informational 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", 1, 100, "Continue", 0)]
    [InlineData("101 Switching Protocols with fields", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1, 101, "Switching Protocols", 2)]
    [InlineData("unregistered code in 5xx", "HTTP/1.1 599 Custom\r\n\r\n", 1, 599, "Custom", 0)]
    [InlineData("reason with spaces, a tab and obs-text", "HTTP/1.1 200 All \tgood caf\u00e9\r\n\r\n", 1, 200, "All \tgood caf\u00e9", 0)]
    public void Valid_response_is_complete(string because, string raw, int minor, int status, string reason, int fieldCount)
    {
        ParseResult result = HeadParser.ParseResponse(Bytes(raw), Defaults, out ResponseHead? head);

        Assert.True(result.Status == ParseStatus.Complete, $"{because}: expected Complete, got {result.Status} ({result.Message})");
        Assert.Equal(Bytes(raw).Length, result.Consumed);
        Assert.Equal(minor, head!.MinorVersion);
        Assert.Equal(status, head.Status);
        Assert.Equal(reason, head.Reason);
        Assert.Equal(fieldCount, head.Fields.Count);
        Assert.Equal(status is >= 100 and < 200, head.IsInformational);
    }

    [Theory]
    [InlineData("HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/2.0 status line", "HTTP/2.0 200 OK\r\n\r\n")]
    [InlineData("lower-case protocol", "http/1.1 200 OK\r\n\r\n")]
    [InlineData("not HTTP at all", "ICY 200 OK\r\n\r\n")]
    [InlineData("two-digit status", "HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("status below 100", "HTTP/1.1 099 Odd\r\n\r\n")]
    [InlineData("status above 599 (RFC 9110 §15: invalid)", "HTTP/1.1 600 Odd\r\n\r\n")]
    [InlineData("status 999", "HTTP/1.1 999 Odd\r\n\r\n")]
    [InlineData("status with a letter", "HTTP/1.1 2x0 OK\r\n\r\n")]
    [InlineData("no space between code and reason", "HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("two spaces before the code", "HTTP/1.1  200 OK\r\n\r\n")]
    [InlineData("tab instead of space", "HTTP/1.1\t200 OK\r\n\r\n")]
    [InlineData("version without minor", "HTTP/1 200 OK\r\n\r\n")]
    [InlineData("bare LF ends the status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")]
    [InlineData("bare LF ends a field line", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n")]
    [InlineData("leading empty line before the status line", "\r\nHTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("NUL in the reason", "HTTP/1.1 200 O\0K\r\n\r\n")]
    [InlineData("bare CR in the reason", "HTTP/1.1 200 O\rK\r\n\r\n")]
    [InlineData("DEL in the reason", "HTTP/1.1 200 OK\u007f\r\n\r\n")]
    [InlineData("obs-fold in a response field", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n")]
    [InlineData("space before the colon in a response field", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n")]
    [InlineData("NUL in a response field value", "HTTP/1.1 200 OK\r\nX-A: \0\r\n\r\n")]
    public void Malformed_response_is_refused(string because, string raw)
    {
        ParseResult result = HeadParser.ParseResponse(Bytes(raw), Defaults, out ResponseHead? head);

        Assert.True(result.Status == ParseStatus.Invalid && result.Problem == HeadProblem.Malformed, $"{because}: got {result.Status} {result.Problem} ({result.Message})");
        Assert.Null(head);
    }

    public static TheoryData<string, string, string> ResponseLimitCases => new()
    {
        { "response head exactly at the limit", Padded("HTTP/1.1 200 OK\r\nX-Fill: ", 256, "\r\n\r\n"), "Complete" },
        { "response head one byte over the limit", Padded("HTTP/1.1 200 OK\r\nX-Fill: ", 257, "\r\n\r\n"), "Invalid HeaderSectionTooLarge" },
        { "status line over the limit with no LF", $"HTTP/1.1 200 {new string('r', 300)}", "Invalid HeaderSectionTooLarge" },
        { "too many response fields", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", "Invalid HeaderSectionTooLarge" },
        { "a response body after the head is not consumed", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "Complete" },
    };

    [Theory]
    [MemberData(nameof(ResponseLimitCases))]
    public void Response_limits_are_enforced(string because, string raw, string expected)
    {
        ParseResult result = HeadParser.ParseResponse(Bytes(raw), Small, out ResponseHead? head);

        Assert.True(Outcome(result) == expected, $"{because}: expected {expected}, got {Outcome(result)} ({result.Message})");
        if (result.Status == ParseStatus.Complete)
        {
            Assert.Equal(raw.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4, result.Consumed);
            Assert.Equal(result.Consumed, head!.WireLength);
        }
    }

    [Fact]
    public void A_connection_sizes_its_next_field_list_from_its_last_head_but_never_beyond_the_cap()
    {
        var strings = new FieldStrings();
        HeadLimits many = Defaults with { MaxFieldCount = 10_000 };
        Assert.Equal(ParseStatus.Complete, HeadParser.ParseRequest(Bytes("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\n\r\n"), many, out _, strings).Status);
        Assert.Equal(4, strings.FieldCapacity); // two fields, and room for two a proxy adds

        // One hostile head with thousands of fields: the next head's list (made again on every parse while a
        // trickled head arrives) stays at the cap, and a head that long still reads whole.
        string huge = "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n" + string.Concat(Enumerable.Range(0, 5_000).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        Assert.Equal(ParseStatus.Complete, HeadParser.ParseRequest(Bytes(huge), many with { MaxHeaderBytes = 1 << 20 }, out RequestHead? head, strings).Status);
        Assert.Equal(5_001, head!.Fields.Count);
        Assert.Equal(FieldStrings.MaxFieldCapacity, strings.FieldCapacity);
    }
}
