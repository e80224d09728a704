namespace Sluice.Proxy.Transport;

/// <summary>
/// The stream under an <see cref="System.Net.Security.SslStream"/> during its handshake: each completed read returns
/// on a thread-pool thread. The proxy runs socket completions inline on the socket engine's threads (see
/// <see cref="ProxyRuntime"/>), and a handshake's key exchange, signature and certificate checks would otherwise run
/// there too, holding up every other connection that thread serves. After the handshake (<see cref="Handshaken"/>)
/// reads pass straight through: record decryption is as cheap as a copy.
/// </summary>
internal sealed class HandshakeStream(Stream inner) : PassThroughStream(inner)
{
    private volatile bool _handshaking = true;

    /// <summary>The handshake is over: no more hops.</summary>
    public void Handshaken() => _handshaking = false;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _handshaking ? ReadOffThePollerAsync(buffer, cancellationToken) : Inner.ReadAsync(buffer, cancellationToken);

    private async ValueTask<int> ReadOffThePollerAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        await Task.Yield(); // no synchronization context here: the rest of the handshake step runs on the thread pool
        return read;
    }
}
