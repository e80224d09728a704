using System.Text;

namespace Sluice.Proxy.Http1;

internal enum ParseStatus
{
    Complete,
    Incomplete,
    Invalid,
}

/// <summary>Why a head was refused; maps to a status code in <see cref="Errors.ProxyErrors"/>.</summary>
internal enum HeadProblem
{
    None,
    Malformed,
    RequestLineTooLong,
    HeaderSectionTooLarge,
    VersionNotSupported,
}

internal readonly record struct ParseResult(ParseStatus Status, int Consumed, HeadProblem Problem, string Message)
{
    public static readonly ParseResult Incomplete = new(ParseStatus.Incomplete, 0, HeadProblem.None, "");

    public static ParseResult Invalid(HeadProblem problem, string message) => new(ParseStatus.Invalid, 0, problem, message);

    public static ParseResult Malformed(string message) => Invalid(HeadProblem.Malformed, message);
}

internal readonly record struct HeadLimits(int MaxRequestLineBytes, int MaxHeaderBytes, int MaxFieldCount);

/// <summary>
/// A strict RFC 9112 reader for message heads. It works on the bytes buffered so far, allocates nothing until a
/// whole head is present, and checks every limit before the bytes past it are examined. Anything a lenient
/// parser would have to guess about (bare LF, obs-fold, space before a colon, control bytes) is refused, because
/// two parsers that guess differently are how request smuggling works.
/// </summary>
internal static class HeadParser
{
    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';

    /// <param name="strings">The strings of the connection's previous head, reused where the bytes are the same.</param>
    public static ParseResult ParseRequest(ReadOnlySpan<byte> buffer, HeadLimits limits, out RequestHead? head, FieldStrings? strings = null)
    {
        head = null;
        int start = SkipLeadingEmptyLines(buffer);
        if (start < 0)
        {
            return ParseResult.Malformed("bare CR or LF before the request line");
        }

        ReadOnlySpan<byte> rest = buffer[start..];
        int lf = rest.IndexOf(LF);
        if (lf < 0)
        {
            // A line exactly at the limit may have its CR here and its LF still on the way.
            if (rest.Length > limits.MaxRequestLineBytes + 1 || (rest.Length == limits.MaxRequestLineBytes + 1 && rest[^1] != CR))
            {
                return ParseResult.Invalid(HeadProblem.RequestLineTooLong, $"request line longer than {limits.MaxRequestLineBytes} bytes");
            }

            // The request line counts towards the header section too, whichever limit is smaller.
            return buffer.Length > limits.MaxHeaderBytes
                ? ParseResult.Invalid(HeadProblem.HeaderSectionTooLarge, $"header section larger than {limits.MaxHeaderBytes} bytes")
                : ParseResult.Incomplete;
        }

        if (lf > limits.MaxRequestLineBytes + 1)
        {
            return ParseResult.Invalid(HeadProblem.RequestLineTooLong, $"request line longer than {limits.MaxRequestLineBytes} bytes");
        }

        if (start + lf + 1 > limits.MaxHeaderBytes)
        {
            return ParseResult.Invalid(HeadProblem.HeaderSectionTooLarge, $"header section larger than {limits.MaxHeaderBytes} bytes");
        }

        if (lf == 0 || rest[lf - 1] != CR)
        {
            return ParseResult.Malformed("request line not terminated by CRLF (bare LF)");
        }

        ParseResult line = ParseRequestLine(rest[..(lf - 1)], strings, out string method, out string target, out int minor);
        if (line.Status != ParseStatus.Complete)
        {
            return line;
        }

        var fields = new HttpFields(FieldStrings.CapacityFor(strings));
        ParseResult section = ParseFields(buffer, start + lf + 1, limits, fields, strings, out int end);
        if (section.Status != ParseStatus.Complete)
        {
            return section;
        }

        head = new RequestHead { Method = method, Target = target, MinorVersion = minor, Fields = fields, WireLength = end - start };
        return new ParseResult(ParseStatus.Complete, end, HeadProblem.None, "");
    }

    /// <param name="strings">The strings of the connection's previous head, reused where the bytes are the same.</param>
    public static ParseResult ParseResponse(ReadOnlySpan<byte> buffer, HeadLimits limits, out ResponseHead? head, FieldStrings? strings = null)
    {
        head = null;
        int lf = buffer.IndexOf(LF);
        if (lf < 0)
        {
            return buffer.Length > limits.MaxHeaderBytes
                ? ParseResult.Invalid(HeadProblem.HeaderSectionTooLarge, $"status line longer than {limits.MaxHeaderBytes} bytes")
                : ParseResult.Incomplete;
        }

        if (lf == 0 || buffer[lf - 1] != CR)
        {
            return ParseResult.Malformed("status line not terminated by CRLF");
        }

        ReadOnlySpan<byte> line = buffer[..(lf - 1)];
        // HTTP/1.1 SP 3DIGIT [SP reason]; some origins omit the space after an empty reason.
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || !IsDigit(line[7]) || line[8] != ' '
            || !IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) || line[9] == '0'
            || (line.Length > 12 && line[12] != ' '))
        {
            return ParseResult.Malformed("status line is not 'HTTP/1.x NNN reason'");
        }

        // RFC 9110 §15: codes outside 100..599 are invalid; a proxy has no way to pass one on faithfully.
        if (line[9] > '5')
        {
            return ParseResult.Malformed($"status code {Encoding.ASCII.GetString(line[9..12])} is outside 100-599");
        }

        ReadOnlySpan<byte> reason = line.Length > 13 ? line[13..] : [];
        foreach (byte b in reason)
        {
            if (!IsFieldValueByte(b))
            {
                return ParseResult.Malformed("control character in the reason phrase");
            }
        }

        var fields = new HttpFields(FieldStrings.CapacityFor(strings));
        ParseResult section = ParseFields(buffer, lf + 1, limits, fields, strings, out int end);
        if (section.Status != ParseStatus.Complete)
        {
            return section;
        }

        head = new ResponseHead
        {
            MinorVersion = line[7] - '0',
            Status = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0'),
            Reason = FieldStrings.StartLine(strings, 0, reason),
            Fields = fields,
            WireLength = end,
        };
        return new ParseResult(ParseStatus.Complete, end, HeadProblem.None, "");
    }

    /// <summary>RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.</summary>
    private static int SkipLeadingEmptyLines(ReadOnlySpan<byte> buffer)
    {
        int i = 0;
        while (i < buffer.Length && (buffer[i] == CR || buffer[i] == LF) && i < 8)
        {
            if (buffer[i] == LF)
            {
                return -1;
            }

            if (i + 1 < buffer.Length && buffer[i + 1] != LF)
            {
                return -1;
            }

            i += 2;
        }

        return Math.Min(i, buffer.Length);
    }

    private static ParseResult ParseRequestLine(ReadOnlySpan<byte> line, FieldStrings? strings, out string method, out string target, out int minor)
    {
        method = target = "";
        minor = 0;
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            return ParseResult.Malformed("request line is not 'METHOD target HTTP/1.x'");
        }

        ReadOnlySpan<byte> methodBytes = line[..sp1];
        foreach (byte b in methodBytes)
        {
            if (!IsTokenByte(b))
            {
                return ParseResult.Malformed("the method is not a token");
            }
        }

        ReadOnlySpan<byte> afterMethod = line[(sp1 + 1)..];
        int sp2 = afterMethod.IndexOf((byte)' ');
        if (sp2 <= 0)
        {
            return ParseResult.Malformed("request line is not 'METHOD target HTTP/1.x'");
        }

        ReadOnlySpan<byte> targetBytes = afterMethod[..sp2];
        foreach (byte b in targetBytes)
        {
            if (b is <= 0x20 or >= 0x7F)
            {
                return ParseResult.Malformed("the request target contains a space, control or non-ASCII byte");
            }
        }

        ReadOnlySpan<byte> version = afterMethod[(sp2 + 1)..];
        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || !IsDigit(version[5]) || version[6] != '.' || !IsDigit(version[7]))
        {
            return ParseResult.Malformed("request line is not 'METHOD target HTTP/1.x'");
        }

        if (version[5] != '1')
        {
            return ParseResult.Invalid(HeadProblem.VersionNotSupported, $"HTTP/{(char)version[5]}.{(char)version[7]} is not supported on this listener; use HTTP/1.1");
        }

        method = FieldStrings.StartLine(strings, 0, methodBytes);
        target = FieldStrings.StartLine(strings, 1, targetBytes);
        minor = version[7] == '0' ? 0 : 1;
        return new ParseResult(ParseStatus.Complete, 0, HeadProblem.None, "");
    }

    private static ParseResult ParseFields(ReadOnlySpan<byte> buffer, int position, HeadLimits limits, HttpFields fields, FieldStrings? strings, out int end)
    {
        end = 0;
        while (true)
        {
            ReadOnlySpan<byte> rest = buffer[position..];
            int lf = rest.IndexOf(LF);
            if (lf < 0)
            {
                return buffer.Length > limits.MaxHeaderBytes
                    ? ParseResult.Invalid(HeadProblem.HeaderSectionTooLarge, $"header section larger than {limits.MaxHeaderBytes} bytes")
                    : ParseResult.Incomplete;
            }

            if (position + lf + 1 > limits.MaxHeaderBytes)
            {
                return ParseResult.Invalid(HeadProblem.HeaderSectionTooLarge, $"header section larger than {limits.MaxHeaderBytes} bytes");
            }

            if (lf == 0 || rest[lf - 1] != CR)
            {
                return ParseResult.Malformed("header line not terminated by CRLF (bare LF)");
            }

            ReadOnlySpan<byte> line = rest[..(lf - 1)];
            position += lf + 1;
            if (line.IsEmpty)
            {
                end = position;
                strings?.Read(fields);
                return new ParseResult(ParseStatus.Complete, end, HeadProblem.None, "");
            }

            if (fields.Count >= limits.MaxFieldCount)
            {
                return ParseResult.Invalid(HeadProblem.HeaderSectionTooLarge, $"more than {limits.MaxFieldCount} header fields");
            }

            ParseResult field = ParseField(line, fields, strings);
            if (field.Status != ParseStatus.Complete)
            {
                return field;
            }
        }
    }

    private static ParseResult ParseField(ReadOnlySpan<byte> line, HttpFields fields, FieldStrings? strings)
    {
        if (line[0] is (byte)' ' or (byte)'\t')
        {
            return ParseResult.Malformed("obsolete line folding (a header line starting with whitespace)");
        }

        int colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            return ParseResult.Malformed("header line without a colon");
        }

        ReadOnlySpan<byte> name = line[..colon];
        if (name.IsEmpty)
        {
            return ParseResult.Malformed("empty header field name");
        }

        foreach (byte b in name)
        {
            if (!IsTokenByte(b))
            {
                return b is (byte)' ' or (byte)'\t'
                    ? ParseResult.Malformed("whitespace between a header field name and the colon")
                    : ParseResult.Malformed("invalid character in a header field name");
            }
        }

        ReadOnlySpan<byte> value = line[(colon + 1)..];
        foreach (byte b in value)
        {
            if (!IsFieldValueByte(b))
            {
                return ParseResult.Malformed(b switch
                {
                    0 => "NUL in a header field value",
                    CR => "bare CR in a header field value",
                    _ => "control character in a header field value",
                });
            }
        }

        value = value.Trim(" \t"u8);
        int index = fields.Count;
        fields.Add(FieldStrings.Name(strings, index, name), FieldStrings.Value(strings, index, value));
        return new ParseResult(ParseStatus.Complete, 0, HeadProblem.None, "");
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    // field-value bytes: HTAB, SP, VCHAR, obs-text. Everything else (NUL, CR, LF, DEL, other CTLs) is refused.
    private static bool IsFieldValueByte(byte b) => b == '\t' || (b >= 0x20 && b != 0x7F);

    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    internal static bool IsTokenByte(byte b) => b switch
    {
        >= (byte)'a' and <= (byte)'z' => true,
        >= (byte)'A' and <= (byte)'Z' => true,
        >= (byte)'0' and <= (byte)'9' => true,
        (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*' or (byte)'+'
            or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~' => true,
        _ => false,
    };
}
