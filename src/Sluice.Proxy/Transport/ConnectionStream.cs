namespace Sluice.Proxy.Transport;

/// <summary>
/// A connection as a plain stream, for TLS layered over it: reads take the bytes already buffered first (a ClientHello
/// that came with the CONNECT, a server's first bytes after a parent's answer), then the connection's stream.
/// Writes go through the connection's counting stream. Disposing it disposes the connection.
/// </summary>
internal sealed class ConnectionStream(Connection connection) : Stream
{
    public Connection Connection { get; } = connection;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty && Connection.Input.BufferedCount == 0
            ? Connection.Stream.ReadAsync(buffer, cancellationToken) // a zero-byte read waits for data without a buffer
            : Connection.Input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Connection.Stream.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Connection.Stream.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Connection.Stream.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => Connection.Stream.FlushAsync(cancellationToken);

    public override void Flush() => Connection.Stream.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Connection.Dispose();
        }

        base.Dispose(disposing);
    }
}
