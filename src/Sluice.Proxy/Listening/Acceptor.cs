using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Sluice.Proxy.Listening;

/// <summary>
/// Accepts through one reused <see cref="SocketAsyncEventArgs"/>: a failed accept is a <see cref="SocketError"/>
/// value, not an exception. Out of descriptors, that matters: an exception from an awaited socket operation records
/// its stack trace with file information, which loads an assembly and reads symbol files, descriptors the process
/// no longer has, and the runtime gives up ("Out of memory") instead of the accept loop backing off.
/// </summary>
internal sealed class Acceptor : SocketAsyncEventArgs, IValueTaskSource<SocketError>
{
    private readonly Socket _listener;
    private ManualResetValueTaskSourceCore<SocketError> _source;

    public Acceptor(Socket listener)
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _listener = listener;
    }

    /// <summary>Waits for the next connection; on <see cref="SocketError.Success"/>, <see cref="TakeSocket"/> has it.</summary>
    /// <exception cref="ObjectDisposedException">The listener was closed.</exception>
    public ValueTask<SocketError> AcceptAsync()
    {
        AcceptSocket = null;
        _source.Reset();
        return _listener.AcceptAsync(this)
            ? new ValueTask<SocketError>(this, _source.Version)
            : new ValueTask<SocketError>(SocketError); // completed at once
    }

    public Socket TakeSocket()
    {
        Socket socket = AcceptSocket!;
        AcceptSocket = null;
        return socket;
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => _source.SetResult(e.SocketError);

    SocketError IValueTaskSource<SocketError>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<SocketError>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<SocketError>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
