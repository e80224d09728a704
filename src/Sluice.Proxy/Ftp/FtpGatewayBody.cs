using System.Globalization;
using System.Text;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// The body of a gateway response whose length is not known in advance: chunked to an HTTP/1.1 client, raw to an
/// HTTP/1.0 one (whose connection then closes). The last chunk is written only by <see cref="CompleteAsync"/>, once the
/// FTP server has confirmed the transfer: a transfer that fails must never look complete to the client.
/// </summary>
internal sealed class FtpGatewayBody(Stream client, bool chunked, Action progress, CancellationToken cancellationToken)
{
    public long Written { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        if (chunked)
        {
            await client.WriteAsync(Encoding.ASCII.GetBytes(bytes.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), cancellationToken).ConfigureAwait(false);
        }

        await client.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        if (chunked)
        {
            await client.WriteAsync("\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        Written += bytes.Length;
        progress();
    }

    public ValueTask WriteAsync(string text) => WriteAsync(Encoding.UTF8.GetBytes(text));

    public async ValueTask CompleteAsync()
    {
        if (chunked)
        {
            await client.WriteAsync("0\r\n\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }
    }
}
