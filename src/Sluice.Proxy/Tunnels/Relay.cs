using System.Buffers;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Tunnels;

/// <summary>Bytes moved by a tunnel, per direction.</summary>
internal readonly record struct RelayResult(long ClientToUpstream, long UpstreamToClient, bool Clean);

/// <summary>
/// Relays bytes both ways between two connections until both directions have ended. Each direction is its own
/// loop: when one side finishes sending (FIN), the other side's send half is shut down and the opposite
/// direction carries on, so half-closed protocols work. An error, the idle timeout or the server's stop ends both at
/// once: the server's <see cref="IdleWatch"/> keeps the relay's idle clock and cuts it, so the waits here take no
/// cancellation token (an idle tunnel holds no timer and no token registrations).
/// </summary>
internal static class Relay
{
    private const int BufferSize = 64 * 1024;

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    /// <param name="fromUpstream">
    /// Reads what the upstream sends before it is written to the client (an FTP control channel's replies): that
    /// direction is then copied through the process, never spliced. Null for an ordinary tunnel.
    /// </param>
    public static async ValueTask<RelayResult> RunAsync(Connection client, Connection upstream, TimeSpan idle, bool splice, IdleWatch watch, IRelayObserver? fromUpstream = null)
    {
        using IdleWatch.Watched activity = watch.Watch(client, upstream, idle);
        // splice(2) only between two plain sockets: TLS bytes must pass through the process to be decrypted.
        bool kernel = splice && client.Stream.Inner is System.Net.Sockets.NetworkStream && upstream.Stream.Inner is System.Net.Sockets.NetworkStream;
        var up = PumpAsync(client, upstream, activity, kernel);
        var down = fromUpstream is null ? PumpAsync(upstream, client, activity, kernel) : CopyAsync(upstream, client, activity, fromUpstream);
        (long sentUp, bool upClean) = await up.ConfigureAwait(false);
        (long sentDown, bool downClean) = await down.ConfigureAwait(false);
        return new RelayResult(sentUp, sentDown, upClean && downClean);
    }

    /// <returns>Bytes copied, and whether the direction ended by end of stream rather than by error or timeout.</returns>
    /// <remarks>One async method per direction, not a loop calling another: an idle tunnel holds two of these frames.</remarks>
    private static ValueTask<(long Copied, bool Clean)> PumpAsync(Connection from, Connection to, IdleWatch.Watched activity, bool splice) =>
        splice ? SpliceAsync(from, to, activity) : CopyAsync(from, to, activity, observer: null);

    /// <summary>Bytes that arrived with the request head (e.g. a TLS ClientHello right after CONNECT) go first.</summary>
    private static async ValueTask<int> SendEarlyBytesAsync(Connection from, Connection to, IRelayObserver? observer = null)
    {
        ReadOnlyMemory<byte> early = from.Input.BufferedMemory;
        if (early.IsEmpty)
        {
            return 0;
        }

        observer?.Observe(early.Span);
        await to.Stream.WriteAsync(early).ConfigureAwait(false);
        from.Input.Consume(early.Length);
        return early.Length;
    }

    private static bool Breaks(Exception e) =>
        e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException;

    /// <summary>
    /// One direction failed (or the relay was cut): the tunnel is broken. Both ends are reset, which also stops the
    /// other direction, so neither peer mistakes a truncated stream for a complete one.
    /// </summary>
    private static (long Copied, bool Clean) Broken(IdleWatch.Watched activity, long copied)
    {
        activity.Cut();
        return (copied, false);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private static async ValueTask<(long Copied, bool Clean)> CopyAsync(Connection from, Connection to, IdleWatch.Watched activity, IRelayObserver? observer)
    {
        long copied = 0;
        byte[]? buffer = null;
        try
        {
            copied += await SendEarlyBytesAsync(from, to, observer).ConfigureAwait(false);
            while (true)
            {
                if (buffer is null)
                {
                    // Wait without a buffer: an idle tunnel holds no memory for its data.
                    await from.Stream.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                }

                int read = await from.Input.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false);
                if (read == 0)
                {
                    await to.ShutdownSendAsync().ConfigureAwait(false);
                    return (copied, true);
                }

                observer?.Observe(buffer.AsSpan(0, read)); // first: what it grants must exist when the client reads the bytes
                await to.Stream.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
                copied += read;
                activity.Touch();
                if (read < buffer.Length)
                {
                    // The sender is not ahead of us: give the buffer back and wait for more without one. A full
                    // read means more is probably queued, so a bulk transfer skips the extra wait (a system call).
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        catch (Exception e) when (Breaks(e))
        {
            return Broken(activity, copied);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// One direction through a borrowed pipe with splice(2): readiness comes from a zero-byte read on the socket,
    /// the bytes never enter the process. When the destination is full, what sits in the pipe is read out and
    /// written the ordinary way, which waits for room; the pipe goes back to the pool empty.
    /// </summary>
    /// <returns>Bytes moved, and whether the source ended cleanly (the destination's send side is then shut down).</returns>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    private static async ValueTask<(long Copied, bool Clean)> SpliceAsync(Connection from, Connection to, IdleWatch.Watched activity)
    {
        System.Net.Sockets.SafeSocketHandle source = from.Socket.SafeHandle;
        long copied = 0;
        SplicePipe? pipe = null;
        try
        {
            copied += await SendEarlyBytesAsync(from, to).ConfigureAwait(false);
            while (true)
            {
                if (pipe is null)
                {
                    await from.Stream.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
                    pipe = SplicePipe.Rent();
                }

                long read = pipe.Fill(source, SplicePipe.Capacity);
                if (read == 0)
                {
                    await to.ShutdownSendAsync().ConfigureAwait(false);
                    return (copied, true);
                }

                if (read < 0)
                {
                    pipe.Return(); // nothing there after all: wait again, without the pipe
                    pipe = null;
                    continue;
                }

                from.Input.AddRead(read);
                await pipe.EmptyToAsync(to, read, CancellationToken.None).ConfigureAwait(false);

                copied += read;
                activity.Touch();
                if (read < SplicePipe.Capacity)
                {
                    pipe.Return(); // the sender is not ahead: wait for more without holding a pipe
                    pipe = null;
                }
            }
        }
        catch (Exception e) when (Breaks(e))
        {
            pipe?.Close(); // it may hold bytes: never pooled
            pipe = null;
            return Broken(activity, copied);
        }
        finally
        {
            pipe?.Return();
        }
    }
}
