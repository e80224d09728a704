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
    public static bool TryForRequest(HttpFields fields, out BodyFraming framing, out string problem)
    {
        framing = BodyFraming.None;
        problem = "";
        int teCount = fields.CountOf("Transfer-Encoding");
        int clCount = fields.CountOf("Content-Length");
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
        if (requestMethod == "HEAD" || response.IsInformational || response.Status is 204 or 304)
        {
            return true;
        }

        HttpFields fields = response.Fields;
        bool hasTe = fields.Contains("Transfer-Encoding");
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
            var values = fields.Tokens("Content-Length").Distinct(StringComparer.Ordinal).ToList();
            if (values.Count != 1 || !TryParseLength(values[0], out long length))
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

    public static bool TryParseLength(string text, out long length)
    {
        length = 0;
        return text.Length is > 0 and <= 18 && text.All(char.IsAsciiDigit)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out length);
    }
}
