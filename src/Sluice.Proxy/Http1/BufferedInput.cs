using System.Buffers;

namespace Sluice.Proxy.Http1;

/// <summary>
/// The read side of one connection: bytes received but not yet consumed, over the connection's stream.
/// Heads are parsed from <see cref="Buffered"/>; bodies and tunnels drain the buffer first, then read the
/// stream directly. The buffer is rented only while bytes are pending, so an idle keep-alive connection or
/// tunnel holds no buffer (<see cref="WaitForDataAsync"/> is a zero-byte read).
/// </summary>
internal sealed class BufferedInput : IDisposable
{
    private const int InitialSize = 8 * 1024;

    private readonly Stream _stream;
    private byte[]? _buffer;
    private int _start;
    private int _end;

    public BufferedInput(Stream stream) => _stream = stream;

    public int BufferedCount => _end - _start;

    public ReadOnlySpan<byte> Buffered => _buffer is null ? [] : _buffer.AsSpan(_start, _end - _start);

    public ReadOnlyMemory<byte> BufferedMemory => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(_start, _end - _start);

    /// <summary>Total bytes read from the stream, for the access log.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Bytes taken from the socket another way (splice), so the count stays true.</summary>
    public void AddRead(long count) => BytesRead += count;

    /// <summary>Bytes read and consumed: where the next unread byte sits in the connection's byte stream.</summary>
    public long Consumed => BytesRead - BufferedCount;

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            Release();
        }
    }

    /// <summary>Reads more bytes into the buffer, growing it up to <paramref name="maxBuffered"/>. Returns 0 at end of stream.</summary>
    /// <param name="waitWithoutBuffer">
    /// Wait for data with a zero-byte read before renting the buffer: right for connections that may idle (a client
    /// between requests), a wasted system call where an answer is due (an origin's response).
    /// </param>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    public async ValueTask<int> FillAsync(int maxBuffered, CancellationToken cancellationToken, bool waitWithoutBuffer = true)
    {
        if (BufferedCount == 0 && waitWithoutBuffer)
        {
            await WaitForDataAsync(cancellationToken).ConfigureAwait(false);
        }

        EnsureSpace(maxBuffered);
        int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        BytesRead += read;
        if (BufferedCount == 0)
        {
            Release();
        }

        return read;
    }

    /// <summary>Waits until the stream has data (or ends) without holding a buffer, unless bytes are already buffered.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))] // one box per call, pooled
    public async ValueTask WaitForDataAsync(CancellationToken cancellationToken)
    {
        if (BufferedCount == 0)
        {
            await _stream.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads body or tunnel bytes: buffered ones first, then straight from the stream into <paramref name="destination"/>.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // one box per call, pooled
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (BufferedCount > 0)
        {
            int n = Math.Min(destination.Length, BufferedCount);
            Buffered[..n].CopyTo(destination.Span);
            Consume(n);
            return n;
        }

        int read = await _stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        BytesRead += read;
        return read;
    }

    public void Dispose() => Release();

    private void EnsureSpace(int maxBuffered)
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialSize, maxBuffered + 1));
            _start = _end = 0;
            return;
        }

        if (_end < _buffer.Length)
        {
            return;
        }

        int pending = BufferedCount;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _start = 0;
            _end = pending;
            return;
        }

        // Full and compact: grow, but never beyond what the caller's limit can accept (plus one byte to detect overflow).
        int size = Math.Min(Math.Max(_buffer.Length * 2, InitialSize), maxBuffered + 1);
        if (size <= _buffer.Length)
        {
            throw new InvalidOperationException("input buffer limit reached; the caller must check its limit before filling");
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(size);
        Buffer.BlockCopy(_buffer, 0, bigger, 0, pending);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private void Release()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        _start = _end = 0;
    }
}
