using System.Globalization;
using System.Net;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// One reply of an FTP server (RFC 959 §4.2): a three-digit code and its text. A multi-line reply's lines are joined
/// with <c>\n</c>; each line keeps what the server wrote after the code and its separator.
/// </summary>
/// <param name="Code">100-599; 0 when the server wrote something that is not a reply (<see cref="IsMalformed"/>).</param>
/// <param name="Truncated">The reply was longer than the reader keeps: <paramref name="Text"/> is its beginning.</param>
internal readonly record struct FtpReply(int Code, string Text, bool Truncated = false)
{
    /// <summary>
    /// The lowest port a passive reply may send anyone to, for a permit or the gateway's data connection. Passive data
    /// ports are ephemeral; a server naming 22 or 25 of its own address steers its client to another service of that
    /// host (Squid's <c>ftp_sanitycheck</c> refuses the same).
    /// </summary>
    public const int LowestDataPort = 1024;

    public bool IsMalformed => Code == 0;

    /// <summary>1yz: the command started, another reply follows (150 before a transfer).</summary>
    public bool IsPreliminary => Code is >= 100 and < 200;

    /// <summary>2yz: the command succeeded.</summary>
    public bool IsCompletion => Code is >= 200 and < 300;

    /// <summary>3yz: more is needed (331 after USER: send PASS).</summary>
    public bool IsIntermediate => Code is >= 300 and < 400;

    public override string ToString() => IsMalformed ? $"(not an FTP reply) {Text}" : $"{Code} {Text}";

    /// <summary>
    /// The address and port of a <c>227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)</c> reply. The numbers are looked for
    /// anywhere in the text, as RFC 1123 §4.1.2.6 tells clients to (servers differ on the parentheses); each must be
    /// 0-255 and the port 1-65535.
    /// </summary>
    public static bool TryParsePassive(string text, out IPAddress address, out int port)
    {
        address = IPAddress.None;
        port = 0;
        for (int start = 0; start < text.Length; start++)
        {
            if (!char.IsAsciiDigit(text[start]) || (start > 0 && char.IsAsciiDigit(text[start - 1])))
            {
                continue;
            }

            if (TryReadSixNumbers(text.AsSpan(start), out Span<byte> numbers))
            {
                int candidate = (numbers[4] << 8) | numbers[5];
                if (candidate == 0)
                {
                    return false;
                }

                address = new IPAddress(numbers[..4]);
                port = candidate;
                return true;
            }
        }

        return false;
    }

    private static bool TryReadSixNumbers(ReadOnlySpan<char> text, out Span<byte> numbers)
    {
        numbers = new byte[6];
        int at = 0;
        for (int i = 0; i < 6; i++)
        {
            int digits = 0;
            int value = 0;
            while (at < text.Length && char.IsAsciiDigit(text[at]) && digits < 4)
            {
                value = (value * 10) + (text[at] - '0');
                digits++;
                at++;
            }

            if (digits is 0 or > 3 || value > 255 || (at < text.Length && char.IsAsciiDigit(text[at])))
            {
                return false;
            }

            numbers[i] = (byte)value;
            if (i < 5)
            {
                if (at >= text.Length || text[at] != ',')
                {
                    return false;
                }

                at++;
            }
        }

        return true;
    }

    /// <summary>
    /// The port of a <c>229 Entering Extended Passive Mode (|||port|)</c> reply (RFC 2428 §3): in parentheses, three
    /// delimiters, the port, the delimiter again; the delimiter is any printable character but a digit (normally
    /// <c>|</c>). The address is the control connection's: the reply names none.
    /// </summary>
    public static bool TryParseExtendedPassive(string text, out int port)
    {
        port = 0;
        int open = text.IndexOf('(', StringComparison.Ordinal);
        if (open < 0 || open + 5 >= text.Length)
        {
            return false;
        }

        char d = text[open + 1];
        if (d is < '!' or > '~' || char.IsAsciiDigit(d) || text[open + 2] != d || text[open + 3] != d)
        {
            return false;
        }

        int end = text.IndexOf(d, open + 4);
        if (end < 0 || end + 1 >= text.Length || text[end + 1] != ')')
        {
            return false;
        }

        ReadOnlySpan<char> digits = text.AsSpan(open + 4, end - open - 4);
        return digits.Length is > 0 and <= 5
            && digits.IndexOfAnyExceptInRange('0', '9') < 0
            && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port is > 0 and <= 65535;
    }
}
