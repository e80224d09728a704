using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>A raw TCP client for bytes no well-behaved HTTP client would send, and for reading exactly what comes back.</summary>
public sealed class RawClient : IDisposable
{
    private readonly Socket _socket;

    private RawClient(Socket socket)
    {
        _socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
    }

    public NetworkStream Stream { get; }

    public Socket Socket => _socket;

    /// <param name="from">The local address to connect from (another loopback address, e.g. 127.0.0.2, is another client).</param>
    public static async Task<RawClient> ConnectAsync(IPEndPoint endpoint, IPAddress? from = null)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(endpoint);
        return new RawClient(socket);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await Stream.WriteAsync(bytes);

    /// <summary>Reads one response head (through the empty line) byte by byte, so nothing after it is consumed.</summary>
    public async Task<string> ReadHeadAsync(int timeoutMs = 10_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await Stream.ReadAsync(one, cts.Token);
            if (n == 0)
            {
                throw new Xunit.Sdk.XunitException($"connection closed before a complete response head; got: {head}");
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    /// <summary>Reads until the peer closes; fails if it does not close within the timeout.</summary>
    public async Task<byte[]> ReadToEndAsync(int timeoutMs = 10_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        using var all = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await Stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                all.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the connection was not closed within {timeoutMs} ms; received so far: {Encoding.Latin1.GetString(all.ToArray())}");
        }
        catch (IOException)
        {
            // reset by peer counts as closed
        }

        return all.ToArray();
    }

    public async Task<byte[]> ReadExactlyAsync(int count, int timeoutMs = 10_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        byte[] buffer = new byte[count];
        await Stream.ReadExactlyAsync(buffer, cts.Token);
        return buffer;
    }

    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public void Dispose() => Stream.Dispose();
}
