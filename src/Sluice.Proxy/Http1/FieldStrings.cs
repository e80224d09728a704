using System.Text;

namespace Sluice.Proxy.Http1;

/// <summary>
/// The strings of the last message head read on one connection, offered again to the next head: a keep-alive
/// connection carries the same names and mostly the same values message after message (Host, User-Agent, Server,
/// Content-Type, ETag...), so a string whose bytes did not change is reused instead of allocated. Names of the common
/// fields, and the common methods, come from one table shared by every connection, so a first message allocates
/// little too. Owned by one connection and used by one reader at a time.
/// </summary>
internal sealed class FieldStrings
{
    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> Common = CommonStrings();

    // Index 0 is the start line's variable part (method or reason), 1 its target, 2.. the fields' names and values.
    private string[] _last = new string[2 + (2 * 16)];

    /// <summary>
    /// The fields of the last head read here, plus room for the few a proxy adds: the next head's list is made this
    /// size, so it is allocated once and exactly, not grown from a guess (a fixed 16 fields cost 280 bytes per head).
    /// At most <see cref="MaxFieldCapacity"/>: a head is parsed again as more of it arrives, so one head with
    /// thousands of fields must not make every parse of the next, trickled one, allocate a list that size.
    /// </summary>
    public int FieldCapacity { get; private set; } = HttpFields.DefaultCapacity;

    /// <summary>The largest <see cref="FieldCapacity"/>; a head with more fields grows its list as it is read.</summary>
    public const int MaxFieldCapacity = 32;

    /// <summary>Records the field count of a head just read, for the next head's <see cref="FieldCapacity"/>.</summary>
    public void Read(HttpFields fields) => FieldCapacity = Math.Min(fields.Count + 2, MaxFieldCapacity);

    /// <summary>The capacity for a head read with <paramref name="strings"/> (or none: a head outside a kept connection).</summary>
    public static int CapacityFor(FieldStrings? strings) => strings?.FieldCapacity ?? HttpFields.DefaultCapacity;

    /// <summary>The method, target or reason phrase at <paramref name="slot"/> (0 or 1) of the start line.</summary>
    public string StartLine(int slot, ReadOnlySpan<byte> bytes) => Get(slot, bytes);

    public string Name(int field, ReadOnlySpan<byte> bytes) => Get(2 + (2 * field), bytes);

    public string Value(int field, ReadOnlySpan<byte> bytes) => Get(3 + (2 * field), bytes);

    /// <summary>The slot's string from <paramref name="strings"/> when there is one, else a string made once.</summary>
    public static string StartLine(FieldStrings? strings, int slot, ReadOnlySpan<byte> bytes) => strings?.StartLine(slot, bytes) ?? Once(bytes);

    public static string Name(FieldStrings? strings, int field, ReadOnlySpan<byte> bytes) => strings?.Name(field, bytes) ?? Once(bytes);

    public static string Value(FieldStrings? strings, int field, ReadOnlySpan<byte> bytes) => strings?.Value(field, bytes) ?? Once(bytes);

    /// <summary>A string for bytes that are not part of a kept connection's head: the common table, or a new string.</summary>
    public static string Once(ReadOnlySpan<byte> bytes) => FromTable(bytes) ?? Encoding.Latin1.GetString(bytes);

    private string Get(int slot, ReadOnlySpan<byte> bytes)
    {
        if (slot >= _last.Length)
        {
            Array.Resize(ref _last, Math.Max(slot + 1, _last.Length * 2));
        }

        string? last = _last[slot];
        if (last is not null && last.Length == bytes.Length && Ascii.Equals(bytes, last))
        {
            return last;
        }

        string made = Once(bytes);
        _last[slot] = made;
        return made;
    }

    private static string? FromTable(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 32)
        {
            return null;
        }

        Span<char> chars = stackalloc char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = (char)bytes[i];
        }

        return Common.TryGetValue(chars, out string? known) ? known : null;
    }

    private static Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> CommonStrings()
    {
        string[] common =
        [
            "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE", "OK",
            "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Accept-Ranges", "Age", "Authorization",
            "Cache-Control", "Connection", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
            "Content-Range", "Content-Type", "Cookie", "Date", "ETag", "Expect", "Expires", "If-Match", "If-Modified-Since",
            "If-None-Match", "If-Range", "Keep-Alive", "Last-Modified", "Location", "Max-Forwards", "Origin", "Pragma",
            "Proxy-Authorization", "Proxy-Connection", "Range", "Referer", "Retry-After", "Server", "Set-Cookie", "TE",
            "Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Via", "WWW-Authenticate", "X-Forwarded-For",
            "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions", "Strict-Transport-Security", "X-Content-Type-Options", "Traceparent",
            "keep-alive", "close", "chunked", "bytes", "*/*", "gzip", "gzip, deflate", "gzip, deflate, br", "identity",
            "no-cache", "websocket", "13", "0",
        ];
        var table = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string s in common)
        {
            table[s] = s;
        }

        return table.GetAlternateLookup<ReadOnlySpan<char>>();
    }
}
