namespace Sluice.Proxy.Transport;

/// <summary>
/// Reads the bytes of one direction of a relay before they are written on, without changing them (an FTP control
/// channel's replies). Disposed when the relay has ended.
/// </summary>
internal interface IRelayObserver : IDisposable
{
    void Observe(ReadOnlySpan<byte> bytes);
}
