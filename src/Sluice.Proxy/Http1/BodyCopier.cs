using System.Buffers;
using System.Globalization;
using System.Text;

namespace Sluice.Proxy.Http1;

/// <summary>Which end of a body copy failed: the side sending the body, or the side receiving it.</summary>
internal enum BodySide
{
    Source,
    Destination,
}

internal sealed class BodyException : Exception
{
    public BodyException(BodySide side, string message, Exception? inner = null)
        : base(message, inner) => Side = side;

    public BodySide Side { get; }
}

/// <summary>
/// A body copy cancelled while a write to the receiving side was waiting: the receiver took nothing for the whole
/// timeout (a client that stopped reading), which is not the sender's timeout. Still a cancellation to every caller
/// that only asks whether the copy was cancelled.
/// </summary>
internal sealed class ReceiverStalledException(OperationCanceledException inner)
    : OperationCanceledException("the receiving side took none of the body for the whole timeout", inner, inner.CancellationToken);

/// <summary>
/// Streams one message body from a connection's input to another connection's stream, never holding more than
/// one pooled buffer. Chunked bodies are parsed strictly and re-encoded (chunk extensions dropped, trailers kept),
/// so a malformed chunk from one side never reaches the other.
/// </summary>
internal static class BodyCopier
{
    private const int MaxChunkLine = 4096;

    // Room in front of the data for "<hex>\r\n" so a re-encoded chunk leaves in one write.
    private const int Prefix = 18;

    // Payload per read, sized so prefix + payload + CRLF is exactly one 64 KiB pooled array (not a 128 KiB one).
    private const int BufferSize = (64 * 1024) - Prefix - 2;

    /// <summary>Copies a body framed by <paramref name="framing"/>, writing it chunked when <paramref name="chunkedOut"/>.</summary>
    /// <returns>Body bytes copied (payload only).</returns>
    /// <param name="dropTrailer">Trailer fields not to pass on (hop-by-hop ones); null keeps every valid trailer.</param>
    public static Task<long> CopyAsync(BufferedInput source, Stream destination, BodyFraming framing, bool chunkedOut, int maxTrailerBytes, Action? onProgress, CancellationToken cancellationToken, Func<string, bool>? dropTrailer = null) =>
        framing.Kind switch
        {
            BodyKind.None => Task.FromResult(0L),
            BodyKind.ContentLength => CopyCountedAsync(source, destination, framing.Length, untilClose: false, chunkedOut, onProgress, cancellationToken),
            BodyKind.UntilClose => CopyCountedAsync(source, destination, long.MaxValue, untilClose: true, chunkedOut, onProgress, cancellationToken),
            BodyKind.Chunked => CopyChunkedAsync(source, destination, chunkedOut, maxTrailerBytes, dropTrailer, onProgress, cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(framing)),
        };

    private static async Task<long> CopyCountedAsync(BufferedInput source, Stream destination, long length, bool untilClose, bool chunkedOut, Action? onProgress, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize + Prefix + 2);
        long copied = 0;
        try
        {
            while (copied < length)
            {
                int want = (int)Math.Min(BufferSize, length - copied);
                int read = await ReadSourceAsync(source, buffer.AsMemory(Prefix, want), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    if (untilClose)
                    {
                        break;
                    }

                    throw new BodyException(BodySide.Source, $"connection closed after {copied} of {length} body bytes");
                }

                copied += read;
                await WriteAsync(destination, buffer, read, chunkedOut, cancellationToken).ConfigureAwait(false);
                onProgress?.Invoke();
            }

            if (chunkedOut)
            {
                await WriteDestinationAsync(destination, "0\r\n\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }

            return copied;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<long> CopyChunkedAsync(BufferedInput source, Stream destination, bool chunkedOut, int maxTrailerBytes, Func<string, bool>? dropTrailer, Action? onProgress, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize + Prefix + 2);
        long copied = 0;
        try
        {
            while (true)
            {
                int lineEnd = await ReadLineAsync(source, MaxChunkLine, cancellationToken).ConfigureAwait(false);
                long size = ParseChunkSize(source.Buffered[..lineEnd]);
                source.Consume(lineEnd + 2);
                if (size == 0)
                {
                    break;
                }

                long remaining = size;
                while (remaining > 0)
                {
                    int read = await ReadSourceAsync(source, buffer.AsMemory(Prefix, (int)Math.Min(BufferSize, remaining)), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new BodyException(BodySide.Source, "connection closed inside a chunk");
                    }

                    remaining -= read;
                    copied += read;
                    await WriteAsync(destination, buffer, read, chunkedOut, cancellationToken).ConfigureAwait(false);
                    onProgress?.Invoke();
                }

                int crlf = await ReadLineAsync(source, 2, cancellationToken).ConfigureAwait(false);
                if (crlf != 0)
                {
                    throw new BodyException(BodySide.Source, "chunk data longer than its declared size");
                }

                source.Consume(2);
            }

            byte[] trailers = await ReadTrailersAsync(source, maxTrailerBytes, dropTrailer, cancellationToken).ConfigureAwait(false);
            if (chunkedOut)
            {
                byte[] last = new byte[3 + trailers.Length + 2];
                "0\r\n"u8.CopyTo(last);
                trailers.CopyTo(last, 3);
                "\r\n"u8.CopyTo(last.AsSpan(3 + trailers.Length));
                await WriteDestinationAsync(destination, last, cancellationToken).ConfigureAwait(false);
            }

            return copied;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>chunk-size [ chunk-ext ]: 1*HEXDIG, at most 15 digits (no overflow), then only a well-formed extension.</summary>
    internal static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        int digits = 0;
        long size = 0;
        while (digits < line.Length && char.IsAsciiHexDigit((char)line[digits]))
        {
            if (digits == 15)
            {
                throw new BodyException(BodySide.Source, "chunk size too large");
            }

            size = (size << 4) | (long)HexValue(line[digits]);
            digits++;
        }

        if (digits == 0)
        {
            throw new BodyException(BodySide.Source, "invalid chunk size line");
        }

        // BWS is allowed only in front of a ';' (RFC 9112 §7.1.1): "5 " with nothing after it is not a chunk-size line.
        ReadOnlySpan<byte> extension = line[digits..].TrimStart(" \t"u8);
        if (digits < line.Length && (extension.IsEmpty || extension[0] != ';' || !IsValidExtension(extension)))
        {
            throw new BodyException(BodySide.Source, "invalid chunk size line");
        }

        return size;
    }

    private static bool IsValidExtension(ReadOnlySpan<byte> extension)
    {
        foreach (byte b in extension)
        {
            if (b != '\t' && (b < 0x20 || b == 0x7F))
            {
                return false;
            }
        }

        return true;
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    /// <summary>Trailer fields up to the empty line, validated as header fields are; returned as raw CRLF-terminated lines.</summary>
    /// <remarks>The limit counts every trailer byte received, dropped fields included: dropping is not reading less.</remarks>
    private static async Task<byte[]> ReadTrailersAsync(BufferedInput source, int maxBytes, Func<string, bool>? drop, CancellationToken cancellationToken)
    {
        using var trailers = new MemoryStream();
        long received = 0;
        while (true)
        {
            int lineEnd = await ReadLineAsync(source, maxBytes, cancellationToken).ConfigureAwait(false);
            if (lineEnd == 0)
            {
                source.Consume(2);
                return trailers.ToArray();
            }

            ReadOnlySpan<byte> line = source.Buffered[..lineEnd];
            int colon = line.IndexOf((byte)':');
            if (line[0] is (byte)' ' or (byte)'\t' || colon <= 0 || !IsToken(line[..colon]) || !IsValidExtension(line[(colon + 1)..]))
            {
                throw new BodyException(BodySide.Source, "invalid trailer field");
            }

            if (drop is null || !drop(Encoding.ASCII.GetString(line[..colon])))
            {
                trailers.Write(source.Buffered[..(lineEnd + 2)]);
            }

            source.Consume(lineEnd + 2);
            received += lineEnd + 2;
            if (received > maxBytes)
            {
                throw new BodyException(BodySide.Source, "trailer section too large");
            }
        }
    }

    private static bool IsToken(ReadOnlySpan<byte> name)
    {
        foreach (byte b in name)
        {
            if (!HeadParser.IsTokenByte(b))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Buffers one CRLF-terminated line and returns the index of its CR. Bare LF or CR is an error.</summary>
    private static async Task<int> ReadLineAsync(BufferedInput source, int maxLength, CancellationToken cancellationToken)
    {
        int scanned = 0;
        while (true)
        {
            ReadOnlySpan<byte> buffered = source.Buffered;
            int lf = buffered[scanned..].IndexOf((byte)'\n');
            if (lf >= 0)
            {
                lf += scanned;
                if (lf == 0 || buffered[lf - 1] != '\r' || buffered[..(lf - 1)].Contains((byte)'\r'))
                {
                    throw new BodyException(BodySide.Source, "chunked framing line not terminated by CRLF");
                }

                // The limit holds however the line arrived: all at once in one read as much as byte by byte.
                if (lf - 1 > maxLength)
                {
                    throw new BodyException(BodySide.Source, $"chunked framing line too long (over {maxLength} bytes)");
                }

                return lf - 1;
            }

            if (buffered.Length > maxLength + 1)
            {
                throw new BodyException(BodySide.Source, $"chunked framing line too long (over {maxLength} bytes)");
            }

            scanned = Math.Max(0, buffered.Length - 1);
            int read;
            try
            {
                read = await source.FillAsync(maxLength + 2, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new BodyException(BodySide.Source, "connection failed inside a chunked body", e);
            }

            if (read == 0)
            {
                throw new BodyException(BodySide.Source, "connection closed inside a chunked body");
            }
        }
    }

    private static async ValueTask<int> ReadSourceAsync(BufferedInput source, Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            return await source.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new BodyException(BodySide.Source, "connection failed while sending the body", e);
        }
    }

    private static ValueTask WriteAsync(Stream destination, byte[] buffer, int count, bool chunked, CancellationToken cancellationToken)
    {
        if (!chunked)
        {
            return WriteDestinationAsync(destination, buffer.AsMemory(Prefix, count), cancellationToken);
        }

        string hex = count.ToString("x", CultureInfo.InvariantCulture);
        int start = Prefix - hex.Length - 2;
        Encoding.ASCII.GetBytes(hex, buffer.AsSpan(start));
        buffer[Prefix - 2] = (byte)'\r';
        buffer[Prefix - 1] = (byte)'\n';
        buffer[Prefix + count] = (byte)'\r';
        buffer[Prefix + count + 1] = (byte)'\n';
        return WriteDestinationAsync(destination, buffer.AsMemory(start, Prefix - start + count + 2), cancellationToken);
    }

    private static async ValueTask WriteDestinationAsync(Stream destination, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await destination.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new BodyException(BodySide.Destination, "connection failed while receiving the body", e);
        }
        catch (OperationCanceledException e) when (e is not ReceiverStalledException)
        {
            throw new ReceiverStalledException(e);
        }
    }
}
