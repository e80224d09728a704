using System.Globalization;

namespace Sluice.Proxy.Http1;

internal enum BodyKind
{
    None,
    ContentLength,
    Chunked,

    /// <summary>A response body delimited by the origin closing the connection.</summary>
    UntilClose,
}

internal readonly record struct BodyFraming(BodyKind Kind, long Length)
{
    public static readonly BodyFraming None = new(BodyKind.None, 0);
    public static readonly BodyFraming Chunked = new(BodyKind.Chunked, -1);
    public static readonly BodyFraming UntilClose = new(BodyKind.UntilClose, -1);

    public bool HasBody => Kind != BodyKind.None && !(Kind == BodyKind.ContentLength && Length == 0);
}

/// <summary>RFC 9112 §6: how long a message body is, decided once, strictly, before any body byte is forwarded.</summary>
internal static class Framing
{
    /// <summary>Request framing. Anything ambiguous is an error: an ambiguity is where request smuggling lives.</summary>
    /// <param name="unsupportedCoding">Set when the only problem is a transfer coding other than chunked in front of
    /// chunked: RFC 9112 §6.1 asks for 501 (Not Implemented) then, rather than 400.</param>
    public static bool TryForRequest(HttpFields fields, bool http10, out BodyFraming framing, out string problem, out bool unsupportedCoding)
    {
        framing = BodyFraming.None;
        problem = "";
        unsupportedCoding = false;
        int teCount = fields.CountOf("Transfer-Encoding");
        int clCount = fields.CountOf("Content-Length");
        if (teCount > 0 && http10)
        {
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty, whatever else it says.
            problem = "Transfer-Encoding in an HTTP/1.0 request (HTTP/1.0 has no transfer codings)";
            return false;
        }

        if (teCount > 0 && clCount > 0)
        {
            problem = "both Content-Length and Transfer-Encoding";
            return false;
        }

        if (teCount > 0)
        {
            List<string> codings = fields.Tokens("Transfer-Encoding").ToList();
            if (codings.Count != 1 || !codings[0].Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                // chunked last, once, after other codings: well framed, but codings Sluice does not pass on (§6.1: 501).
                unsupportedCoding = codings.Count > 1 && codings[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase)
                    && codings.Count(c => c.Equals("chunked", StringComparison.OrdinalIgnoreCase)) == 1;
                problem = $"Transfer-Encoding '{string.Join(", ", fields.All("Transfer-Encoding"))}' is not exactly 'chunked'";
                return false;
            }

            framing = BodyFraming.Chunked;
            return true;
        }

        if (clCount > 1)
        {
            problem = "more than one Content-Length";
            return false;
        }

        if (clCount == 1)
        {
            if (!TryParseLength(fields.Get("Content-Length")!, out long length))
            {
                problem = $"Content-Length '{fields.Get("Content-Length")}' is not a number of bytes";
                return false;
            }

            framing = new BodyFraming(BodyKind.ContentLength, length);
        }

        return true;
    }

    /// <summary>Response framing (RFC 9112 §6.3), given the request it answers.</summary>
    public static bool TryForResponse(string requestMethod, ResponseHead response, out BodyFraming framing, out string problem)
    {
        framing = BodyFraming.None;
        problem = "";
        HttpFields fields = response.Fields;
        bool hasTe = fields.Contains("Transfer-Encoding");
        if (hasTe && response.MinorVersion == 0)
        {
            // RFC 9112 §6.1: faulty framing, whatever the status; the connection is not used again.
            problem = "the origin sent Transfer-Encoding in an HTTP/1.0 response (HTTP/1.0 has no transfer codings)";
            return false;
        }

        if (requestMethod == "HEAD" || response.IsInformational || response.Status is 204 or 304)
        {
            return true;
        }

        int clCount = fields.CountOf("Content-Length");
        if (hasTe && clCount > 0)
        {
            problem = "the origin sent both Content-Length and Transfer-Encoding";
            return false;
        }

        if (hasTe)
        {
            // Sluice re-frames bodies itself, so it can pass on only the chunked coding (the only one in use).
            List<string> codings = fields.Tokens("Transfer-Encoding").ToList();
            if (codings.Count != 1 || !codings[0].Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                problem = $"the origin sent Transfer-Encoding '{string.Join(", ", codings)}', not 'chunked'";
                return false;
            }

            framing = BodyFraming.Chunked;
            return true;
        }

        if (clCount > 0)
        {
            // Identical repeated values are tolerated for responses (§6.3 rule 5); differing ones are not.
            if (!TryReadSameLength(fields, out long length))
            {
                problem = $"the origin sent an invalid Content-Length '{string.Join(", ", fields.All("Content-Length"))}'";
                return false;
            }

            framing = new BodyFraming(BodyKind.ContentLength, length);
            return true;
        }

        framing = BodyFraming.UntilClose;
        return true;
    }

    public static bool TryParseLength(ReadOnlySpan<char> text, out long length)
    {
        length = 0;
        return text.Length is > 0 and <= 18 && !text.ContainsAnyExcept(Digits)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out length);
    }

    private static readonly System.Buffers.SearchValues<char> Digits = System.Buffers.SearchValues.Create("0123456789");

    /// <summary>Every element of every Content-Length field spelled the same, and that a number of bytes.</summary>
    private static bool TryReadSameLength(HttpFields fields, out long length)
    {
        length = 0;
        ReadOnlySpan<char> first = [];
        foreach (ReadOnlySpan<char> value in fields.TokenSpans("Content-Length"))
        {
            if (first.IsEmpty)
            {
                first = value;
            }
            else if (!value.SequenceEqual(first))
            {
                return false;
            }
        }

        return TryParseLength(first, out length);
    }
}
