using System.Globalization;
using System.Text;
using Sluice.Proxy.Http1;

namespace Sluice.Proxy.Tests.Http1;

/// <summary>
/// Body framing (RFC 9112 §6) and the chunked coding (§7.1): how long a body is, decided strictly, and chunked bodies
/// parsed strictly and re-encoded so that a malformed chunk from one side never reaches the other.
/// </summary>
public sealed class ChunkedTests
{
    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary>Fields from "Name: value" lines separated by '\n'; the value is taken as the parser would leave it (trimmed).</summary>
    private static HttpFields Fields(string lines)
    {
        var fields = new HttpFields();
        foreach (string line in lines.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            fields.Add(line[..colon], line[(colon + 1)..].Trim(' ', '\t'));
        }

        return fields;
    }

    // ---------------------------------------------------------------- chunk-size lines

    [Theory]
    [InlineData("zero: the last chunk", "0", 0L)]
    [InlineData("one hex digit", "a", 10L)]
    [InlineData("upper-case hex", "A", 10L)]
    [InlineData("mixed case", "fF", 255L)]
    [InlineData("several digits", "1f4", 500L)]
    [InlineData("leading zeros", "00000a", 10L)]
    [InlineData("fifteen digits, the most allowed", "fffffffffffffff", 0xFFFFFFFFFFFFFFFL)]
    [InlineData("fifteen digits with leading zeros", "000000000000001", 1L)]
    [InlineData("extension with a value", "5;name=value", 5L)]
    [InlineData("extension without a value", "5;name", 5L)]
    [InlineData("extension with a quoted value", "5;name=\"a quoted; value\"", 5L)]
    [InlineData("several extensions", "5;a=1;b=2", 5L)]
    [InlineData("BWS before the extension", "5 ;name=value", 5L)]
    [InlineData("tab BWS before the extension", "5\t;name", 5L)]
    [InlineData("obs-text inside an extension", "5;n=caf\u00e9", 5L)]
    public void Valid_chunk_size_line_is_read(string because, string line, long expected)
    {
        long size = BodyCopier.ParseChunkSize(Bytes(line));

        Assert.True(size == expected, $"{because}: expected {expected}, got {size}");
    }

    [Theory]
    [InlineData("empty line", "")]
    [InlineData("negative size", "-1")]
    [InlineData("plus sign", "+5")]
    [InlineData("0x prefix", "0x5")]
    [InlineData("leading space", " 5")]
    [InlineData("leading tab", "\t5")]
    [InlineData("trailing space without an extension", "5 ")]
    [InlineData("trailing tab without an extension", "5\t")]
    [InlineData("space between digits", "5 6")]
    [InlineData("not hex", "g")]
    [InlineData("hex followed by junk", "5g")]
    [InlineData("decimal point", "5.0")]
    [InlineData("comma", "5,6")]
    [InlineData("equals without a semicolon", "5=6")]
    [InlineData("only an extension", ";name=value")]
    [InlineData("non-ASCII digit", "\u00bd")]
    [InlineData("sixteen digits overflow the limit", "1000000000000000")]
    [InlineData("sixteen f's would overflow a signed long", "ffffffffffffffff")]
    [InlineData("too many digits even when they are leading zeros", "0000000000000000005")]
    [InlineData("way too many digits", "ffffffffffffffffffffffffffffffff")]
    [InlineData("NUL in an extension", "5;a=\0")]
    [InlineData("control byte in an extension", "5;a=\u0001")]
    [InlineData("DEL in an extension", "5;a=\u007f")]
    [InlineData("bare CR in an extension", "5;a\rb")]
    public void Invalid_chunk_size_line_is_refused(string because, string line)
    {
        BodyException e = Assert.Throws<BodyException>(() => BodyCopier.ParseChunkSize(Bytes(line)));

        Assert.True(e.Side == BodySide.Source, $"{because}: the sender is to blame, got {e.Side}");
    }

    // ---------------------------------------------------------------- chunked copy

    /// <summary>A stream that hands out at most <c>pieceSize</c> bytes per read, so every line boundary is crossed mid-read.</summary>
    private sealed class PieceStream(byte[] data, int pieceSize) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(Math.Min(buffer.Length, pieceSize), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer, offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async Task<(long Copied, byte[] Output, int Remaining)> CopyChunked(string body, bool chunkedOut, int pieceSize, int maxTrailerBytes = 1024)
    {
        using var input = new BufferedInput(new PieceStream(Bytes(body), pieceSize));
        using var output = new MemoryStream();
        long copied = await BodyCopier.CopyAsync(input, output, BodyFraming.Chunked, chunkedOut, maxTrailerBytes, null, CancellationToken.None);
        int remaining = 0;
        byte[] rest = new byte[64];
        int n;
        while ((n = await input.ReadAsync(rest, CancellationToken.None)) > 0)
        {
            remaining += n;
        }

        return (copied, output.ToArray(), remaining);
    }

    /// <summary>A strict decoder for what the copier wrote: payload and the raw trailer section.</summary>
    private static (string Payload, string Trailers) Dechunk(byte[] encoded)
    {
        string text = Encoding.Latin1.GetString(encoded);
        var payload = new StringBuilder();
        int i = 0;
        while (true)
        {
            int crlf = text.IndexOf("\r\n", i, StringComparison.Ordinal);
            Assert.True(crlf > i, $"re-encoded chunk-size line missing at {i}: {text}");
            string sizeText = text[i..crlf];
            Assert.Matches("^[0-9a-f]+$", sizeText);
            int size = int.Parse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            i = crlf + 2;
            if (size == 0)
            {
                Assert.EndsWith("\r\n", text);
                return (payload.ToString(), text[i..^2]);
            }

            payload.Append(text, i, size);
            Assert.Equal("\r\n", text.Substring(i + size, 2));
            i += size + 2;
        }
    }

    [Theory]
    [InlineData("one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", "")]
    [InlineData("several chunks", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", "hello world", "")]
    [InlineData("no chunks, only the last one", "0\r\n\r\n", "", "")]
    [InlineData("upper-case hex and leading zeros", "00B\r\nhello world\r\n0\r\n\r\n", "hello world", "")]
    [InlineData("extensions are dropped", "5;ext=1\r\nhello\r\n0;last\r\n\r\n", "hello", "")]
    [InlineData("trailer fields are kept", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n", "hello", "X-Sum: 1\r\nX-Other: two\r\n")]
    [InlineData("data may contain CR, LF and NUL", "6\r\na\r\nb\0c\r\n0\r\n\r\n", "a\r\nb\0c", "")]
    public async Task Valid_chunked_body_is_copied_whole(string because, string body, string payload, string trailers)
    {
        foreach (int piece in new[] { 1, 3, 64 * 1024 })
        {
            (long copied, byte[] output, int remaining) = await CopyChunked(body + "NEXT", chunkedOut: true, piece);
            (string gotPayload, string gotTrailers) = Dechunk(output);
            Assert.True(gotPayload == payload, $"{because} (reads of {piece} bytes): payload was '{gotPayload}'");
            Assert.True(gotTrailers == trailers, $"{because} (reads of {piece} bytes): trailers were '{gotTrailers}'");
            Assert.Equal(payload.Length, copied);
            Assert.DoesNotContain(";", Encoding.Latin1.GetString(output), StringComparison.Ordinal);
            Assert.True(remaining == 4, $"{because}: the bytes after the body must stay unread for the next message");

            (_, byte[] plain, _) = await CopyChunked(body, chunkedOut: false, piece);
            Assert.Equal(payload, Encoding.Latin1.GetString(plain));
        }
    }

    [Theory]
    [InlineData("invalid chunk size", "zz\r\nhello\r\n0\r\n\r\n", "zz")]
    [InlineData("invalid size after a valid chunk", "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n", "world")]
    [InlineData("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("negative size", "-5\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("size overflow", "10000000000000005\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("bare LF after the size", "5\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("bare CR inside the size line", "5\r;x\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("data longer than its size", "5\r\nhelloEXTRA\r\n0\r\n\r\n", "EXTRA")]
    [InlineData("data not followed by CRLF", "5\r\nhelloXY0\r\n\r\n", "XY")]
    [InlineData("bare LF after the data", "5\r\nhello\n0\r\n\r\n", "0\r\n")]
    [InlineData("invalid trailer without a colon", "5\r\nhello\r\n0\r\nnot a field\r\n\r\n", "not a field")]
    [InlineData("obs-fold in the trailers", "5\r\nhello\r\n0\r\nX-A: 1\r\n folded\r\n\r\n", "folded")]
    [InlineData("space before a trailer colon", "5\r\nhello\r\n0\r\nX-A : 1\r\n\r\n", "X-A")]
    [InlineData("NUL in a trailer value", "5\r\nhello\r\n0\r\nX-A: \0\r\n\r\n", "X-A")]
    [InlineData("bare LF ends the trailers", "5\r\nhello\r\n0\r\n\n", "0\r\n")]
    [InlineData("end of stream inside a chunk", "5\r\nhel", "0\r\n")]
    [InlineData("end of stream before the last chunk", "5\r\nhello\r\n", "0\r\n")]
    [InlineData("end of stream inside the trailers", "5\r\nhello\r\n0\r\nX-A: 1\r\n", "0\r\n")]
    public async Task Malformed_chunked_body_stops_before_the_bad_bytes_reach_the_other_side(string because, string body, string mustNotArrive)
    {
        foreach (int piece in new[] { 1, 64 * 1024 })
        {
            using var input = new BufferedInput(new PieceStream(Bytes(body), piece));
            using var output = new MemoryStream();
            BodyException e = await Assert.ThrowsAsync<BodyException>(
                () => BodyCopier.CopyAsync(input, output, BodyFraming.Chunked, chunkedOut: true, 1024, null, CancellationToken.None));

            string forwarded = Encoding.Latin1.GetString(output.ToArray());
            Assert.True(e.Side == BodySide.Source, $"{because}: the sender is to blame, got {e.Side}");
            Assert.False(forwarded.Contains(mustNotArrive, StringComparison.Ordinal), $"{because} (reads of {piece} bytes): '{mustNotArrive}' was forwarded: {forwarded}");
            Assert.False(forwarded.EndsWith("0\r\n\r\n", StringComparison.Ordinal), $"{because}: a broken body must not be terminated as if it were complete");
        }
    }

    [Fact]
    public async Task Chunk_size_line_longer_than_4_KiB_is_refused_without_buffering_it_all()
    {
        string body = "5;" + new string('e', 100_000) + "\r\nhello\r\n0\r\n\r\n";

        BodyException e = await Assert.ThrowsAsync<BodyException>(() => CopyChunked(body, chunkedOut: true, pieceSize: 64 * 1024));
        Assert.Contains("too long", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trailer_section_over_the_limit_is_refused()
    {
        string body = "0\r\n" + string.Concat(Enumerable.Repeat("X-Trailer: 0123456789\r\n", 20)) + "\r\n";

        await Assert.ThrowsAsync<BodyException>(() => CopyChunked(body, chunkedOut: true, pieceSize: 64 * 1024, maxTrailerBytes: 100));
    }

    [Theory]
    [InlineData("content-length body copied exactly", 5, "helloNEXT", "hello")]
    [InlineData("zero content-length copies nothing", 0, "NEXT", "")]
    public async Task Counted_body_is_copied_exactly(string because, long length, string input, string expected)
    {
        using var source = new BufferedInput(new PieceStream(Bytes(input), 2));
        using var output = new MemoryStream();
        long copied = await BodyCopier.CopyAsync(source, output, new BodyFraming(BodyKind.ContentLength, length), chunkedOut: false, 1024, null, CancellationToken.None);

        Assert.True(copied == length, $"{because}: copied {copied}");
        Assert.Equal(expected, Encoding.Latin1.GetString(output.ToArray()));
    }

    [Fact]
    public async Task Counted_body_cut_short_is_a_source_error()
    {
        using var source = new BufferedInput(new PieceStream(Bytes("hel"), 64));
        using var output = new MemoryStream();

        BodyException e = await Assert.ThrowsAsync<BodyException>(
            () => BodyCopier.CopyAsync(source, output, new BodyFraming(BodyKind.ContentLength, 5), chunkedOut: false, 1024, null, CancellationToken.None));
        Assert.Equal(BodySide.Source, e.Side);
    }

    [Fact]
    public async Task Close_delimited_body_is_re_encoded_chunked_to_the_end()
    {
        using var source = new BufferedInput(new PieceStream(Bytes("until the end"), 4));
        using var output = new MemoryStream();
        long copied = await BodyCopier.CopyAsync(source, output, BodyFraming.UntilClose, chunkedOut: true, 1024, null, CancellationToken.None);

        Assert.Equal(13, copied);
        Assert.Equal(("until the end", ""), Dechunk(output.ToArray()));
    }

    // ---------------------------------------------------------------- request framing

    [Theory]
    [InlineData("no Content-Length, no Transfer-Encoding: no body", "Host: a.test", "None", 0L)]
    [InlineData("Content-Length 0", "Content-Length: 0", "ContentLength", 0L)]
    [InlineData("Content-Length 5", "Content-Length: 5", "ContentLength", 5L)]
    [InlineData("Content-Length with leading zeros", "Content-Length: 007", "ContentLength", 7L)]
    [InlineData("Content-Length of 18 digits", "Content-Length: 999999999999999999", "ContentLength", 999999999999999999L)]
    [InlineData("field name case does not matter", "content-LENGTH: 5", "ContentLength", 5L)]
    [InlineData("Transfer-Encoding chunked", "Transfer-Encoding: chunked", "Chunked", -1L)]
    [InlineData("transfer-coding names are case-insensitive", "Transfer-Encoding: Chunked", "Chunked", -1L)]
    [InlineData("an empty list element is ignored (RFC 9110 §5.6.1)", "Transfer-Encoding: chunked,", "Chunked", -1L)]
    public void Request_framing_is_decided(string because, string fields, string kindName, long length)
    {
        bool ok = Framing.TryForRequest(Fields(fields), http10: false, out BodyFraming framing, out string problem, out _);

        Assert.True(ok, $"{because}: refused with '{problem}'");
        Assert.True(framing == new BodyFraming(Enum.Parse<BodyKind>(kindName), length), $"{because}: got {framing}");
        Assert.Equal(kindName == "Chunked" || length > 0, framing.HasBody);
    }

    [Theory]
    [InlineData("both Content-Length and Transfer-Encoding", "Content-Length: 5\nTransfer-Encoding: chunked", "both")]
    [InlineData("both, Transfer-Encoding first", "Transfer-Encoding: chunked\nContent-Length: 5", "both")]
    [InlineData("both, even with Content-Length 0", "Content-Length: 0\nTransfer-Encoding: chunked", "both")]
    [InlineData("both, even when Transfer-Encoding is not chunked", "Content-Length: 5\nTransfer-Encoding: gzip", "both")]
    [InlineData("duplicate Content-Length with the same value", "Content-Length: 5\nContent-Length: 5", "more than one")]
    [InlineData("duplicate Content-Length with different values", "Content-Length: 5\nContent-Length: 6", "more than one")]
    [InlineData("a list in one Content-Length", "Content-Length: 5, 5", "not a number")]
    [InlineData("non-numeric Content-Length", "Content-Length: abc", "not a number")]
    [InlineData("empty Content-Length", "Content-Length:", "not a number")]
    [InlineData("negative Content-Length", "Content-Length: -1", "not a number")]
    [InlineData("Content-Length with a plus sign", "Content-Length: +5", "not a number")]
    [InlineData("hex Content-Length", "Content-Length: 0x10", "not a number")]
    [InlineData("exponent in Content-Length", "Content-Length: 1e3", "not a number")]
    [InlineData("space inside Content-Length", "Content-Length: 5 5", "not a number")]
    [InlineData("non-ASCII digits in Content-Length", "Content-Length: \u0665", "not a number")]
    [InlineData("Content-Length of 19 digits", "Content-Length: 1000000000000000000", "not a number")]
    [InlineData("Content-Length beyond a long", "Content-Length: 99999999999999999999", "not a number")]
    [InlineData("Transfer-Encoding gzip", "Transfer-Encoding: gzip", "not exactly 'chunked'")]
    [InlineData("Transfer-Encoding identity", "Transfer-Encoding: identity", "not exactly 'chunked'")]
    [InlineData("Transfer-Encoding gzip, chunked", "Transfer-Encoding: gzip, chunked", "not exactly 'chunked'")]
    [InlineData("Transfer-Encoding chunked, gzip", "Transfer-Encoding: chunked, gzip", "not exactly 'chunked'")]
    [InlineData("Transfer-Encoding chunked, chunked", "Transfer-Encoding: chunked, chunked", "not exactly 'chunked'")]
    [InlineData("two Transfer-Encoding fields", "Transfer-Encoding: chunked\nTransfer-Encoding: chunked", "not exactly 'chunked'")]
    [InlineData("empty Transfer-Encoding", "Transfer-Encoding:", "not exactly 'chunked'")]
    [InlineData("quoted chunked", "Transfer-Encoding: \"chunked\"", "not exactly 'chunked'")]
    [InlineData("chunked with a parameter", "Transfer-Encoding: chunked;q=1", "not exactly 'chunked'")]
    [InlineData("chunked misspelt", "Transfer-Encoding: chunk", "not exactly 'chunked'")]
    public void Ambiguous_request_framing_is_refused(string because, string fields, string problemMentions)
    {
        bool ok = Framing.TryForRequest(Fields(fields), http10: false, out _, out string problem, out _);

        Assert.False(ok, $"{because}: was accepted");
        Assert.Contains(problemMentions, problem, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- response framing

    [Theory]
    [InlineData("HEAD response has no body whatever it declares", "HEAD", 200, "Content-Length: 100", "None", 0L)]
    [InlineData("HEAD response with Transfer-Encoding has no body", "HEAD", 200, "Transfer-Encoding: chunked", "None", 0L)]
    [InlineData("204 has no body", "GET", 204, "Content-Length: 100", "None", 0L)]
    [InlineData("304 has no body", "GET", 304, "Content-Length: 100", "None", 0L)]
    [InlineData("304 with Transfer-Encoding has no body", "GET", 304, "Transfer-Encoding: chunked", "None", 0L)]
    [InlineData("100 Continue has no body", "POST", 100, "", "None", 0L)]
    [InlineData("103 Early Hints has no body", "GET", 103, "Link: </a.css>", "None", 0L)]
    [InlineData("Content-Length", "GET", 200, "Content-Length: 5", "ContentLength", 5L)]
    [InlineData("Content-Length 0", "POST", 201, "Content-Length: 0", "ContentLength", 0L)]
    [InlineData("identical Content-Length values in one field are tolerated", "GET", 200, "Content-Length: 5, 5", "ContentLength", 5L)]
    [InlineData("identical Content-Length fields are tolerated", "GET", 200, "Content-Length: 5\nContent-Length: 5", "ContentLength", 5L)]
    [InlineData("chunked", "GET", 200, "Transfer-Encoding: chunked", "Chunked", -1L)]
    [InlineData("neither: the body runs until the origin closes", "GET", 200, "Content-Type: text/plain", "UntilClose", -1L)]
    [InlineData("an error status without framing is close-delimited too", "GET", 500, "", "UntilClose", -1L)]
    public void Response_framing_is_decided(string because, string method, int status, string fields, string kindName, long length)
    {
        var response = new ResponseHead { MinorVersion = 1, Status = status, Reason = "", Fields = Fields(fields) };

        bool ok = Framing.TryForResponse(method, response, out BodyFraming framing, out string problem);

        Assert.True(ok, $"{because}: refused with '{problem}'");
        Assert.True(framing == new BodyFraming(Enum.Parse<BodyKind>(kindName), length), $"{because}: got {framing}");
    }

    [Theory]
    [InlineData("both Content-Length and Transfer-Encoding", "Content-Length: 5\nTransfer-Encoding: chunked")]
    [InlineData("different Content-Length values", "Content-Length: 5\nContent-Length: 6")]
    [InlineData("different values in one Content-Length", "Content-Length: 5, 6")]
    [InlineData("non-numeric Content-Length", "Content-Length: abc")]
    [InlineData("negative Content-Length", "Content-Length: -1")]
    [InlineData("a coding Sluice cannot re-frame", "Transfer-Encoding: gzip")]
    [InlineData("chunked not alone", "Transfer-Encoding: gzip, chunked")]
    [InlineData("chunked twice", "Transfer-Encoding: chunked, chunked")]
    public void Ambiguous_response_framing_is_refused(string because, string fields)
    {
        var response = new ResponseHead { MinorVersion = 1, Status = 200, Reason = "OK", Fields = Fields(fields) };

        Assert.False(Framing.TryForResponse("GET", response, out _, out string problem), $"{because}: was accepted");
        Assert.False(string.IsNullOrEmpty(problem), $"{because}: a refusal must say why");
    }
}
