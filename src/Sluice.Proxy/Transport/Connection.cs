using System.Net;
using System.Net.Sockets;
using Sluice.Proxy.Http1;

namespace Sluice.Proxy.Transport;

/// <summary>
/// One TCP connection, client side or upstream side: the socket, the stream bytes move over (the socket's, or TLS
/// over it for a TLS listener), and the buffered input. Owns all three; disposing closes the socket.
/// </summary>
internal sealed class Connection : IDisposable
{
    private int _disposed;
    private int _sendShut;

    public Connection(Socket socket, Stream stream, IPEndPoint remote)
    {
        Socket = socket;
        Stream = new CountingStream(stream);
        Remote = remote;
        Input = new BufferedInput(Stream);
    }

    public Socket Socket { get; }

    public CountingStream Stream { get; }

    public BufferedInput Input { get; }

    public IPEndPoint Remote { get; }

    /// <summary>
    /// Who the client is, as far as the connection can tell: the common name of a verified client certificate on a
    /// TLS listener. Rules match it with <c>users:</c>; the access log shows it in the user column.
    /// </summary>
    public string? CertificateUser { get; init; }

    /// <summary>
    /// The strings of the last head read here, for the next one (<see cref="FieldStrings"/>); made at the first head.
    /// A connection that becomes a tunnel reads no more heads and lets them go (<see cref="ForgetHeadStrings"/>).
    /// </summary>
    public FieldStrings HeadStrings => _headStrings ??= new FieldStrings();

    public void ForgetHeadStrings() => _headStrings = null;

    private FieldStrings? _headStrings;

    /// <summary>When this connection last finished an exchange; used by the upstream pool.</summary>
    public long IdleSinceTicks { get; set; }

    /// <summary>The upstream pool's claim on this connection (<see cref="UpstreamPool"/>: in use, idle or dead).</summary>
    internal int PoolState;

    /// <summary>
    /// The zero-byte receive a pooled connection kept pending while idle; it completes when the response to the next
    /// request arrives. Whoever reads that response awaits it first (<see cref="AwaitPendingReadAsync"/>) instead of
    /// starting a second receive on the socket.
    /// </summary>
    internal Task<int>? PendingRead { get; set; }

    /// <summary>Waits for the pending idle receive, if any, so the next read is the only one on the socket.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))] // one box per call, pooled
    public async ValueTask AwaitPendingReadAsync(CancellationToken cancellationToken)
    {
        if (PendingRead is not { } pending)
        {
            return;
        }

        PendingRead = null;
        if (pending.IsCompleted)
        {
            Rethrow(pending);
            return;
        }

        // Cancelled, the wait closes the socket, which ends the receive, rather than leaving it behind: the
        // connection is not used again after a cancelled exchange. A registration on the exchange's source is reused
        // from request to request; Task.WaitAsync would allocate a promise for every response waited for.
        CancellationTokenRegistration closeOnCancel = cancellationToken.UnsafeRegister(static socket => ((Socket)socket!).Dispose(), Socket);
        try
        {
            await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            closeOnCancel.Dispose(); // waits out a callback already running: the socket is closed when it returns
        }

        cancellationToken.ThrowIfCancellationRequested();
        Rethrow(pending);
    }

    // What awaiting the receive would have thrown, a socket error as the IOException a read gives.
    private static void Rethrow(Task<int> read)
    {
        if (read.IsCanceled)
        {
            throw new OperationCanceledException();
        }

        if (read.Exception?.InnerException is { } failure)
        {
            if (failure is SocketException e)
            {
                throw new IOException(e.Message, e);
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>
    /// A connection whose bytes go through <paramref name="layered"/> (TLS over <paramref name="plain"/>, read through a
    /// <see cref="ConnectionStream"/>): same socket, same peer, same identity; disposing it disposes both.
    /// </summary>
    public static Connection Layered(Connection plain, Stream layered) =>
        new(plain.Socket, layered, plain.Remote) { CertificateUser = plain.CertificateUser };

    /// <param name="remote">The peer when it is known (the endpoint dialled); else the socket is asked.</param>
    public static Connection FromSocket(Socket socket, IPEndPoint? remote = null) =>
        new(socket, new NetworkStream(socket, ownsSocket: false), remote ?? (IPEndPoint)socket.RemoteEndPoint!);

    /// <summary>
    /// Half-close: no more bytes will be sent, but reading goes on (FIN, not RST). Over TLS, close_notify first. Once
    /// only: a tunnel's relay half-closes the client and the closing session would again (a system call that fails).
    /// </summary>
    public async ValueTask ShutdownSendAsync()
    {
        if (Interlocked.Exchange(ref _sendShut, 1) == 1)
        {
            return;
        }

        try
        {
            if (Stream.Inner is System.Net.Security.SslStream tls)
            {
                // close_notify is a write: a peer that stopped reading must not hold us here.
                await tls.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }

            Socket.Shutdown(SocketShutdown.Send);
        }
        catch (TimeoutException)
        {
            Abort();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or InvalidOperationException)
        {
        }
    }

    /// <summary>
    /// Closes after a response the client may still be sending into (an error, a refused body): send FIN, then read
    /// and discard what arrives for a short while. Closing with unread input makes the kernel send RST, and a
    /// client can lose the response we just wrote (the "lingering close" of nginx and Apache).
    /// </summary>
    public async Task LingerCloseAsync(TimeSpan limit)
    {
        if (Volatile.Read(ref _disposed) == 1)
        {
            return;
        }

        await ShutdownSendAsync().ConfigureAwait(false);
        using var deadline = new CancellationTokenSource(limit);
        byte[] discard = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long budget = 1024 * 1024;
            Input.Consume(Input.BufferedCount);
            while (budget > 0)
            {
                int n = await Stream.ReadAsync(discard, deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                budget -= n;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(discard);
        }
    }

    /// <summary>Closes at once, with RST, so the peer sees an error rather than a clean end of a truncated message.</summary>
    public void Abort()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        Socket.Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // Socket first: a pending receive fails before the input buffer goes back to the pool.
        Socket.Dispose();
        Stream.Dispose();
        Input.Dispose();
    }
}
