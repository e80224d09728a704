using System.Globalization;
using System.Text;
using Sluice.Policy.Names;

namespace Sluice.Proxy.Pipeline;

/// <summary>
/// An <c>ftp://[user[:password]@]host[:port]/path[;type=a|i|d]</c> URL (RFC 1738 §3.2) as the FTP gateway reads it:
/// the directories to change into and the name at the end, each percent-decoded. The credentials are kept for the
/// login and never shown: <see cref="LogUrl"/> is the URL without them.
/// </summary>
/// <param name="Path">The path as written, without <c>;type=</c>: what the rules' <c>paths:</c> see.</param>
/// <param name="Directories">The decoded segments before the last one (empty ones dropped).</param>
/// <param name="Name">The decoded last segment; empty for a directory URL (<c>/dir/</c>).</param>
/// <param name="Type"><c>a</c>, <c>i</c> or <c>d</c> from <c>;type=</c>; null when the URL names none.</param>
internal sealed record FtpTarget(HostPort Authority, string Path, IReadOnlyList<string> Directories, string Name, char? Type, string? User, string? Password)
{
    /// <summary>What the gateway does: GET and HEAD (RETR, SIZE, a listing), PUT (STOR). The Allow field of a 405.</summary>
    public const string GatewayMethods = "GET, HEAD, PUT";

    public static bool IsGatewayMethod(string method) => method is "GET" or "HEAD" or "PUT";

    /// <summary>A listing is asked for: the path ends with <c>/</c>, or <c>;type=d</c>.</summary>
    public bool IsDirectory => Name.Length == 0 || Type == 'd';

    /// <summary>The URL as the access log, the status page and every error text show it: no credentials.</summary>
    public string LogUrl => $"ftp://{AuthorityForUri}{Path}{(Type is { } t ? $";type={t}" : "")}";

    /// <summary><c>host</c>, with <c>:port</c> when it is not 21.</summary>
    public string AuthorityForUri => Authority.Port == 21 ? Authority.HostForUri : Authority.ToString();

    /// <summary>Every directory of the path, the last segment too when it names one (a listing).</summary>
    public IEnumerable<string> ListedDirectories => Name.Length == 0 ? Directories : [.. Directories, Name];

    /// <summary>Reads an ftp:// URL; the problem names what is wrong without repeating any credentials.</summary>
    public static bool TryRead(string target, out FtpTarget? parsed, out string problem)
    {
        if (TryReadUrl(target, out parsed, out problem))
        {
            return true;
        }

        if (HidesCredentials(target))
        {
            // Which part of a refused URL is the password is not known: 'ftp://user:pa/ss@host' is refused as an
            // invalid port 'pa', and a segment in the message could be one too. Nothing before the last '@' is quoted.
            problem = $"'{Redacted(target)}' cannot be read as an ftp:// URL (a '/', '?' or '#' in a user name or password is written %2F, %3F, %23)";
        }

        return false;
    }

    /// <summary>
    /// A refused ftp:// URL as the access log and error texts show it: with an '@' anywhere after the scheme, everything
    /// from the scheme to the last '@' is hidden (the URL could not be read, so where its credentials end is unknown).
    /// </summary>
    public static string Redacted(string target) =>
        HidesCredentials(target) ? $"{target[..(target.IndexOf("://", StringComparison.Ordinal) + 3)]}***{target[target.LastIndexOf('@')..]}" : target;

    private static bool HidesCredentials(string target) =>
        target.IndexOf("://", StringComparison.Ordinal) is int scheme and >= 0 && target.LastIndexOf('@') > scheme;

    private static bool TryReadUrl(string target, out FtpTarget? parsed, out string problem)
    {
        parsed = null;
        if (!HostPort.TryParseUri(target, out UriTarget uri, out problem))
        {
            return false;
        }

        if (uri.Scheme != "ftp")
        {
            problem = $"'{HostPort.Redact(target)}' is not an ftp:// URL";
            return false;
        }

        if (uri.HasFragment)
        {
            problem = "a request target must not contain a fragment (#)";
            return false;
        }

        string path = uri.PathAndQuery;
        if (path.Contains('?'))
        {
            problem = "an ftp:// URL has no query (?): RFC 1738 gives FTP paths none";
            return false;
        }

        char? type = null;
        int semicolon = path.LastIndexOf(';');
        if (semicolon >= 0)
        {
            string parameter = path[(semicolon + 1)..];
            if (parameter.Length != 6 || !parameter.StartsWith("type=", StringComparison.OrdinalIgnoreCase) || char.ToLowerInvariant(parameter[5]) is not ('a' or 'i' or 'd'))
            {
                problem = $"';{parameter}' is not a type (;type=a, ;type=i or ;type=d)";
                return false;
            }

            type = char.ToLowerInvariant(parameter[5]);
            path = path[..semicolon];
        }

        string[] segments = path.Split('/');
        var decoded = new List<string>(segments.Length);
        foreach (string segment in segments.Skip(1))
        {
            if (!TryDecode(segment, out string value))
            {
                problem = $"the path segment '{segment}' is not valid percent-encoded UTF-8 without control characters or '/'";
                return false;
            }

            decoded.Add(value);
        }

        string name = decoded.Count == 0 ? "" : decoded[^1];
        List<string> directories = [.. decoded.SkipLast(1).Where(d => d.Length > 0)];
        (string? user, string? password) = (null, null);
        if (uri.HasUserInfo && !TryReadUserInfo(target, out user, out password, out problem))
        {
            return false;
        }

        parsed = new FtpTarget(uri.Authority, path, directories, name, type, user, password);
        problem = "";
        return true;
    }

    private static bool TryReadUserInfo(string target, out string? user, out string? password, out string problem)
    {
        int start = target.IndexOf("://", StringComparison.Ordinal) + 3;
        int end = target.IndexOfAny(['/', '?', '#'], start);
        string authority = target[start..(end < 0 ? target.Length : end)];
        string userInfo = authority[..authority.LastIndexOf('@')];
        int colon = userInfo.IndexOf(':');
        user = password = null;
        problem = "";
        if (!TryDecode(colon < 0 ? userInfo : userInfo[..colon], out string name) || (colon >= 0 && !TryDecode(userInfo[(colon + 1)..], out password)))
        {
            problem = "the user name or password in the URL is not valid percent-encoded UTF-8 without control characters";
            return false;
        }

        user = name.Length == 0 ? null : name;
        return true;
    }

    /// <summary>
    /// Percent-decoding as UTF-8. Refused: a bad escape, bytes that are not UTF-8, and what would change the FTP command
    /// the value goes into: CR, LF, NUL (another command), any other control character, and an encoded '/'.
    /// </summary>
    private static bool TryDecode(string text, out string value)
    {
        value = text;
        if (!text.Contains('%'))
        {
            return !text.Any(char.IsControl);
        }

        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
                continue;
            }

            if (i + 2 >= text.Length || !byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }

            bytes.Add(b);
            i += 2;
        }

        try
        {
            value = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. bytes]);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        return !value.Any(char.IsControl) && !value.Contains('/');
    }
}
