namespace Sluice.Proxy.Transport;

/// <summary>
/// A connection as a plain stream, for TLS layered over it: reads take the bytes already buffered first (a ClientHello
/// that came with the CONNECT, a server's first bytes after a parent's answer), then the connection's stream.
/// Writes go through the connection's counting stream. Disposing it disposes the connection.
/// </summary>
internal sealed class ConnectionStream(Connection connection) : PassThroughStream(connection.Stream)
{
    public Connection Connection { get; } = connection;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty && Connection.Input.BufferedCount == 0
            ? Connection.Stream.ReadAsync(buffer, cancellationToken) // a zero-byte read waits for data without a buffer
            : Connection.Input.ReadAsync(buffer, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Connection.Dispose();
        }

        base.Dispose(disposing);
    }
}
