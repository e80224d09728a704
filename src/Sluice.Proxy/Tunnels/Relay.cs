using System.Buffers;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Tunnels;

/// <summary>Bytes moved by a tunnel, per direction.</summary>
internal readonly record struct RelayResult(long ClientToUpstream, long UpstreamToClient, bool Clean);

/// <summary>
/// Relays bytes both ways between two connections until both directions have ended. Each direction is its own
/// loop: when one side finishes sending (FIN), the other side's send half is shut down and the opposite
/// direction carries on, so half-closed protocols work. An error or the idle timeout ends both at once.
/// </summary>
internal static class Relay
{
    private const int BufferSize = 64 * 1024;

    public static async Task<RelayResult> RunAsync(Connection client, Connection upstream, TimeSpan idle, CancellationToken stopping)
    {
        using var activity = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        activity.CancelAfter(idle);
        var up = PumpAsync(client, upstream, activity, idle);
        var down = PumpAsync(upstream, client, activity, idle);
        (long sentUp, bool upClean) = await up.ConfigureAwait(false);
        (long sentDown, bool downClean) = await down.ConfigureAwait(false);
        return new RelayResult(sentUp, sentDown, upClean && downClean);
    }

    /// <returns>Bytes copied, and whether the direction ended by end of stream rather than by error or timeout.</returns>
    private static async Task<(long Copied, bool Clean)> PumpAsync(Connection from, Connection to, CancellationTokenSource activity, TimeSpan idle)
    {
        long copied = 0;
        try
        {
            // Bytes that arrived with the request head (e.g. a TLS ClientHello right after CONNECT) go first.
            ReadOnlyMemory<byte> early = from.Input.BufferedMemory;
            if (!early.IsEmpty)
            {
                await to.Stream.WriteAsync(early, activity.Token).ConfigureAwait(false);
                copied += early.Length;
                from.Input.Consume(early.Length);
            }

            byte[]? buffer = null;
            try
            {
                while (true)
                {
                    if (buffer is null)
                    {
                        // Wait without a buffer: an idle tunnel holds no memory for its data.
                        await from.Stream.ReadAsync(Memory<byte>.Empty, activity.Token).ConfigureAwait(false);
                        buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                    }

                    int read = await from.Input.ReadAsync(buffer, activity.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        await to.ShutdownSendAsync().ConfigureAwait(false);
                        return (copied, true);
                    }

                    await to.Stream.WriteAsync(buffer.AsMemory(0, read), activity.Token).ConfigureAwait(false);
                    copied += read;
                    activity.CancelAfter(idle);
                    if (read < buffer.Length)
                    {
                        // The sender is not ahead of us: give the buffer back and wait for more without one. A full
                        // read means more is probably queued, so a bulk transfer skips the extra wait (a system call).
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null;
                    }
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // One direction failed: the tunnel is broken. Cancel the other direction and reset both ends, so
            // neither peer mistakes a truncated stream for a complete one.
            await activity.CancelAsync().ConfigureAwait(false);
            from.Abort();
            to.Abort();
            return (copied, false);
        }
    }
}
