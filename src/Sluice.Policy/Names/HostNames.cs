using System.Globalization;
using System.Net;

namespace Sluice.Policy.Names;

/// <summary>Destination hosts as the policy compares them: lower-case, no trailing dot, IDNs as punycode.</summary>
public static class HostNames
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
            if (!text.EndsWith(']') || !IPAddress.TryParse(text[1..^1], out address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                // "[127.0.0.1]" parses as IPv4 before it is refused: do not hand that address back with the refusal.
                address = null;
                problem = $"'{raw}' is not a valid IPv6 literal";
                return false;
            }

            address.ScopeId = 0;
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

        if (text.Any(c => c > 127))
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
        if (text.Length > 253 || text.Split('.').Any(label => label.Length > 63))
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

    // Digits, dots and hex/octal prefixes only: something inet_aton might read as an address.
    private static bool LooksNumeric(string text) =>
        text.All(c => char.IsAsciiHexDigit(c) || c is '.' or 'x' or 'X') && text.Split('.').All(l => l.Length > 0 && (char.IsAsciiDigit(l[0])));
}
