using System.Net.Sockets;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Transport;
using Sluice.Proxy.Tunnels;

namespace Sluice.Proxy.Forwarding;

/// <summary>
/// A body counted by Content-Length (a request's or a response's) or ended by the origin's close, moved between two
/// plain sockets with splice(2), as a plain tunnel's bytes are (<see cref="Relay"/>): nothing in such a body is
/// parsed or changed, so it need not pass through the process. Chunked bodies are re-encoded and TLS bytes must be
/// decrypted; those go through <see cref="BodyCopier"/>. Never more than the body's length is taken from the sender,
/// so bytes it sends beyond it stay unread: an origin's connection is then not pooled, a client's next request is
/// read from there.
/// </summary>
internal static class SplicedBody
{
    /// <summary>Whether this body can be spliced: both ends plain sockets, the body passed on as it comes.</summary>
    public static bool Applies(bool splice, Connection from, Connection to, BodyFraming framing, bool chunkedOut) =>
        splice && !chunkedOut && framing.Kind is BodyKind.ContentLength or BodyKind.UntilClose
        && from.Stream.Inner is NetworkStream && to.Stream.Inner is NetworkStream;

    /// <summary>Copies the body, as <see cref="BodyCopier.CopyAsync"/> does, failing with a <see cref="BodyException"/> that names the side.</summary>
    /// <returns>Body bytes copied.</returns>
    public static async Task<long> CopyAsync(Connection from, Connection to, BodyFraming framing, Action? onProgress, CancellationToken cancellationToken)
    {
        bool untilClose = framing.Kind == BodyKind.UntilClose;
        long length = untilClose ? long.MaxValue : framing.Length;
        long copied = await SendBufferedAsync(from, to, length, cancellationToken).ConfigureAwait(false);
        SplicePipe? pipe = null;
        try
        {
            while (copied < length)
            {
                if (pipe is null)
                {
                    await WaitForSourceAsync(from, cancellationToken).ConfigureAwait(false);
                    pipe = SplicePipe.Rent();
                }

                long read = Fill(pipe, from, Math.Min(SplicePipe.Capacity, length - copied));
                if (read == 0)
                {
                    if (untilClose)
                    {
                        break;
                    }

                    throw new BodyException(BodySide.Source, $"connection closed after {copied} of {length} body bytes");
                }

                if (read < 0)
                {
                    pipe.Return(); // a readiness event with nothing behind it: wait again, without the pipe
                    pipe = null;
                    continue;
                }

                from.Input.AddRead(read);
                await EmptyAsync(pipe, to, read, cancellationToken).ConfigureAwait(false);
                copied += read;
                onProgress?.Invoke();
                if (read < SplicePipe.Capacity)
                {
                    pipe.Return(); // the origin is not ahead: wait for more without holding a pipe
                    pipe = null;
                }
            }

            return copied;
        }
        catch
        {
            pipe?.Close(); // it may hold bytes: never pooled
            pipe = null;
            throw;
        }
        finally
        {
            pipe?.Return();
        }
    }

    /// <summary>Body bytes that arrived with the response head go first, never more than the body.</summary>
    private static async ValueTask<long> SendBufferedAsync(Connection from, Connection to, long length, CancellationToken cancellationToken)
    {
        int count = (int)Math.Min(from.Input.BufferedCount, length);
        if (count == 0)
        {
            return 0;
        }

        await WriteAsync(to, from.Input.BufferedMemory[..count], cancellationToken).ConfigureAwait(false);
        from.Input.Consume(count);
        return count;
    }

    private static async ValueTask WaitForSourceAsync(Connection from, CancellationToken cancellationToken)
    {
        try
        {
            await from.Stream.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new BodyException(BodySide.Source, "connection failed while sending the body", e);
        }
    }

    // The socket is used directly here, not through its stream: one closed from another thread (the upload resets the
    // origin's connection when the client's body breaks) is an ObjectDisposedException, which the stream would have
    // turned into an IOException. Either way the body failed on that side.
    private static long Fill(SplicePipe pipe, Connection from, long count)
    {
        try
        {
            return pipe.Fill(from.Socket.SafeHandle, count);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw new BodyException(BodySide.Source, "connection failed while sending the body", e);
        }
    }

    private static async ValueTask EmptyAsync(SplicePipe pipe, Connection to, long count, CancellationToken cancellationToken)
    {
        try
        {
            await pipe.EmptyToAsync(to, count, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw new BodyException(BodySide.Destination, "connection failed while receiving the body", e);
        }
        catch (OperationCanceledException e) when (e is not ReceiverStalledException)
        {
            throw new ReceiverStalledException(e);
        }
    }

    private static async ValueTask WriteAsync(Connection to, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await to.Stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
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
