using System.Globalization;
using System.Net;

namespace Sluice.Policy.Names;

/// <summary>
/// Destination hosts as the policy compares them: lower-case, no trailing dot, IDNs as punycode, IP literals as the
/// address they denote. One rule for odd IPv4 notations: where a host is <em>read</em> (a request, a probe target, a
/// host the client library is about to reach) any form inet_aton accepts (<c>127.1</c>, <c>2130706433</c>,
/// <c>0x7f.1</c>, <c>0177.0.0.1</c>) is that address, never a name a domain rule could match; where an address is
/// <em>written down</em> (destinations, listeners, NO_PROXY entries) only <see cref="IsCanonicalLiteral"/> forms are
/// accepted, and the rest refused, since the writer may not have meant what inet_aton reads.
/// </summary>
/// <remarks>
/// Compiled into Sluice.Client too (a linked file), where it stays internal: the declaration here has no
/// accessibility, and <c>PublicNames.cs</c>, which only Sluice.Policy compiles, makes it public. Keep this file
/// self-contained: nothing from the rest of Sluice.Policy.
/// </remarks>
static partial class HostNames
{
    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = false };

    /// <summary>
    /// Normalises a host from a request. An IP literal in any notation the resolver would accept
    /// (<c>127.1</c>, <c>2130706433</c>, <c>0x7f.1</c>) comes back as its address, so it is never sent to DNS as a name.
    /// </summary>
    public static bool TryNormalize(string raw, out string host, out IPAddress? address, out string problem)
    {
        host = "";
        address = null;
        problem = "";
        string text = raw;
        if (text.StartsWith('['))
        {
            // A zone id names an interface of whoever wrote it; the host that is reached never has one.
            if (text.Contains('%'))
            {
                problem = $"'{raw}' has an IPv6 zone id (%...); write the address without one";
                return false;
            }

            if (!text.EndsWith(']') || !IPAddress.TryParse(text[1..^1], out address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                // "[127.0.0.1]" parses as IPv4 before it is refused: do not hand that address back with the refusal.
                address = null;
                problem = $"'{raw}' is not a valid IPv6 literal";
                return false;
            }

            host = address.ToString();
            return true;
        }

        if (text.EndsWith('.'))
        {
            text = text[..^1];
        }

        if (text.Length == 0 || text.Length > 253)
        {
            problem = "the host name is empty or longer than 253 characters";
            return false;
        }

        if (!text.Contains(':') && LooksNumeric(text) && IPAddress.TryParse(text, out address))
        {
            host = address.ToString();
            return true;
        }

        if (!System.Text.Ascii.IsValid(text))
        {
            try
            {
                text = Idn.GetAscii(text);
            }
            catch (ArgumentException)
            {
                problem = $"'{raw}' is not a valid internationalised domain name";
                return false;
            }
        }

        foreach (char c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            {
                problem = $"'{raw}' contains a character not allowed in a host name";
                return false;
            }
        }

        // Only one trailing dot (the root) was removed above: "example.com.." still ends in an empty label, and
        // passing it on as "example.com." would slip past a rule for ".example.com".
        if (text.StartsWith('.') || text.EndsWith('.') || text.Contains("..", StringComparison.Ordinal))
        {
            problem = $"'{raw}' has an empty label";
            return false;
        }

        // Checked again after IDN conversion, which makes names longer; DNS cannot carry more than this.
        if (text.Length > 253 || LongestLabel(text) > 63)
        {
            problem = $"'{raw}' is longer than 253 characters or has a label longer than 63";
            return false;
        }

        if (LooksNumeric(text))
        {
            problem = $"'{raw}' looks like an IP address but is not a valid one";
            return false;
        }

        host = text.ToLowerInvariant();
        return true;
    }

    /// <summary>
    /// True for the two forms a configuration should write an address in: four plain decimal octets without leading
    /// zeros, or an IPv6 literal (any text with a colon; <see cref="IPAddress.TryParse(string, out IPAddress)"/>
    /// decides the rest). inet_aton's other forms (<c>10</c>, <c>10.1</c>, <c>0x0a.1</c>) are refused there, and
    /// <c>010</c> above all, which it reads as octal 8: <c>010.0.0.0/8</c> would silently mean 8.0.0.0/8.
    /// </summary>
    public static bool IsCanonicalLiteral(string text)
    {
        if (text.Contains(':'))
        {
            return true;
        }

        string[] octets = text.Split('.');
        return octets.Length == 4
            && octets.All(o => o.Length is > 0 and <= 3 && o.All(char.IsAsciiDigit) && (o.Length == 1 || o[0] != '0'));
    }

    // Digits, dots and hex/octal prefixes only, every label starting with a digit: something inet_aton might read as
    // an address. Read on every request's host, so without splitting it into strings.
    private static bool LooksNumeric(string text)
    {
        bool labelStart = true;
        foreach (char c in text)
        {
            if (c == '.')
            {
                if (labelStart)
                {
                    return false; // an empty label
                }

                labelStart = true;
                continue;
            }

            if (!(char.IsAsciiHexDigit(c) || c is 'x' or 'X') || (labelStart && !char.IsAsciiDigit(c)))
            {
                return false;
            }

            labelStart = false;
        }

        return !labelStart;
    }

    private static int LongestLabel(string text)
    {
        int longest = 0;
        foreach (Range label in text.AsSpan().Split('.'))
        {
            longest = Math.Max(longest, label.End.Value - label.Start.Value);
        }

        return longest;
    }
}
