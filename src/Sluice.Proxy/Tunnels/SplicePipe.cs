using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Sluice.Proxy.Tunnels;

/// <summary>
/// Linux splice(2): socket to pipe to socket, bytes moved inside the kernel without being copied into the process.
/// A pipe is borrowed only while a tunnel direction is busy and returned empty, so idle tunnels hold no pipe.
/// </summary>
internal sealed partial class SplicePipe
{
    public const int Capacity = 64 * 1024; // the default pipe size; one splice moves at most this much
    private const uint SpliceMove = 1;
    private const uint NonBlock = 2;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private const int EAgain = 11;
    private const int MaxPooled = 256;

    private static readonly ConcurrentBag<SplicePipe> Pool = [];
    private static int _pooled;

    private SplicePipe(int read, int write)
    {
        ReadEnd = read;
        WriteEnd = write;
    }

    public int ReadEnd { get; }

    public int WriteEnd { get; }

    /// <summary>Whether this system has splice (Linux); elsewhere tunnels copy through a buffer.</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && Probe();

    public static SplicePipe Rent()
    {
        if (Pool.TryTake(out SplicePipe? pipe))
        {
            Interlocked.Decrement(ref _pooled);
            return pipe;
        }

        Span<int> fds = stackalloc int[2];
        if (Pipe2(fds, ONonBlock | OCloExec) != 0)
        {
            throw new IOException($"pipe2 failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return new SplicePipe(fds[0], fds[1]);
    }

    /// <summary>Back to the pool: only ever called with the pipe empty.</summary>
    public void Return()
    {
        if (Interlocked.Increment(ref _pooled) <= MaxPooled)
        {
            Pool.Add(this);
            return;
        }

        Interlocked.Decrement(ref _pooled);
        Close();
    }

    public void Close()
    {
        _ = CloseFd(ReadEnd);
        _ = CloseFd(WriteEnd);
    }

    /// <summary>Moves up to <paramref name="count"/> bytes from the socket into the pipe; -1 when it would block.</summary>
    public long Fill(SafeHandle socket, long count) => Move(socket, WriteEnd, fromSocket: true, count);

    /// <summary>Moves up to <paramref name="count"/> bytes from the pipe to the socket; -1 when it would block.</summary>
    public long Empty(SafeHandle socket, long count) => Move(socket, ReadEnd, fromSocket: false, count);

    /// <remarks>The socket's descriptor is referenced for the call (<see cref="Transport.ReferencedDescriptor"/>).</remarks>
    private static long Move(SafeHandle socket, int pipeEnd, bool fromSocket, long count)
    {
        using var fd = new Transport.ReferencedDescriptor(socket);
        long moved = fromSocket
            ? SpliceFd(fd.Value, IntPtr.Zero, pipeEnd, IntPtr.Zero, (nuint)count, SpliceMove | NonBlock)
            : SpliceFd(pipeEnd, IntPtr.Zero, fd.Value, IntPtr.Zero, (nuint)count, SpliceMove | NonBlock);
        if (moved >= 0)
        {
            return moved;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == EAgain ? -1 : throw new IOException($"splice failed: errno {errno}");
    }

    /// <summary>
    /// Moves <paramref name="count"/> bytes the pipe holds to <paramref name="to"/>'s socket, counted as written there.
    /// When the socket is full, the rest is read out of the pipe and written the ordinary way, which waits for room.
    /// </summary>
    public async ValueTask EmptyToAsync(Transport.Connection to, long count, CancellationToken cancellationToken)
    {
        for (long left = count; left > 0;)
        {
            long written = Empty(to.Socket.SafeHandle, left);
            if (written >= 0)
            {
                to.Stream.AddWritten(written);
                left -= written;
                continue;
            }

            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)left);
            try
            {
                int drained = Drain(buffer.AsSpan(0, (int)left));
                await to.Stream.WriteAsync(buffer.AsMemory(0, drained), cancellationToken).ConfigureAwait(false);
                left -= drained;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Reads bytes out of the pipe into a buffer (when the destination is full and must be awaited).</summary>
    public unsafe int Drain(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint read = ReadFd(ReadEnd, p, (nuint)buffer.Length);
            return read >= 0 ? (int)read : throw new IOException($"read from pipe failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private static bool Probe()
    {
        try
        {
            SplicePipe pipe = Rent();
            pipe.Close();
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(Span<int> fds, int flags);

    [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
    private static partial nint SpliceFd(int fdIn, IntPtr offIn, int fdOut, IntPtr offOut, nuint len, uint flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadFd(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseFd(int fd);
}
