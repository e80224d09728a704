using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sluice.Proxy.Transport;

/// <summary>
/// A short write on a plain socket made with one send(2) that never waits (MSG_DONTWAIT), for the few bytes a tunnel
/// writes itself (the 200 that opens it). An async send would give the socket a cached send operation, kept for the
/// connection's life (about 400 bytes), although a spliced tunnel never sends through it again. Whatever the kernel
/// does not take at once (a full send buffer) is written the ordinary way.
/// </summary>
internal static partial class ImmediateSend
{
    private const int DontWait = 0x40;
    private const int NoSignal = 0x4000;

    public static ValueTask WriteAsync(Connection connection, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        int sent = OperatingSystem.IsLinux() && connection.Stream.Inner is NetworkStream ? TrySend(connection.Socket, bytes.Span) : 0;
        connection.Stream.AddWritten(sent);
        return sent == bytes.Length ? ValueTask.CompletedTask : connection.Stream.WriteAsync(bytes[sent..], cancellationToken);
    }

    /// <returns>Bytes the kernel took; 0 when it would block or on an error, which the ordinary write then reports.</returns>
    private static unsafe int TrySend(Socket socket, ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var fd = new ReferencedDescriptor(socket.SafeHandle);
            fixed (byte* p = bytes)
            {
                nint sent = Send(fd.Value, p, (nuint)bytes.Length, DontWait | NoSignal);
                return sent > 0 ? (int)sent : 0;
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);
}
