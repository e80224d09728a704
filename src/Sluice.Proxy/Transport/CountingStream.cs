namespace Sluice.Proxy.Transport;

/// <summary>
/// Counts bytes written, for the access log; reads are counted by <see cref="Http1.BufferedInput"/>. The stream
/// underneath (<see cref="PassThroughStream.Inner"/>) is a NetworkStream, or an SslStream on a TLS listener.
/// </summary>
internal sealed class CountingStream(Stream inner) : PassThroughStream(inner)
{
    public long BytesWritten { get; private set; }

    /// <summary>Bytes that reached the socket another way (splice, an immediate send), so the count stays true.</summary>
    public void AddWritten(long count) => BytesWritten += count;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        BytesWritten += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Inner.Write(buffer, offset, count);
        BytesWritten += count;
    }
}
