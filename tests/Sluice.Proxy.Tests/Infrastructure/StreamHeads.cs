using System.Net.Sockets;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>What a raw origin reads of the requests the proxy sends it: one head at a time, byte by byte.</summary>
internal static class StreamHeads
{
    /// <summary>The next head up to and including its empty line, every byte kept as it came (Latin1); null at the end.</summary>
    public static async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return null;
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    /// <summary>The head's Content-Length, 0 without one.</summary>
    public static int ContentLength(string head) =>
        head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line ? int.Parse(line[15..].Trim()) : 0;
}
