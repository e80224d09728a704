namespace Sluice.Proxy.Transport;

/// <summary>
/// The stream under an <see cref="System.Net.Security.SslStream"/> during its handshake: each completed read returns
/// on a thread-pool thread. The proxy runs socket completions inline on the socket engine's threads (see
/// <see cref="ProxyRuntime"/>), and a handshake's key exchange, signature and certificate checks would otherwise run
/// there too, holding up every other connection that thread serves. After the handshake (<see cref="Handshaken"/>)
/// reads pass straight through: record decryption is as cheap as a copy.
/// </summary>
internal sealed class HandshakeStream(Stream inner) : Stream
{
    private volatile bool _handshaking = true;

    public Stream Inner { get; } = inner;

    /// <summary>The handshake is over: no more hops.</summary>
    public void Handshaken() => _handshaking = false;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _handshaking ? ReadOffThePollerAsync(buffer, cancellationToken) : Inner.ReadAsync(buffer, cancellationToken);

    private async ValueTask<int> ReadOffThePollerAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        await Task.Yield(); // no synchronization context here: the rest of the handshake step runs on the thread pool
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public override void Flush() => Inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
