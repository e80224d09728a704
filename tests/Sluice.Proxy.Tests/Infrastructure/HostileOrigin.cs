using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Runtime.InteropServices;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// An origin on 127.0.0.1:0 that answers the first request it receives with exactly the bytes a table row gives
/// (<c>{pause}</c> in them is a wait (100 ms unless told) between two writes, for bytes that arrive late; <c>{close}</c> at the
/// end closes the connection after them), and every later
/// request with a well-formed <c>fresh</c> response. It records every byte the proxy sent it, per connection.
/// </summary>
public sealed class HostileOrigin : IAsyncDisposable
{
    public const string Pause = "{pause}";
    public const string Close = "{close}";
    public const string FreshBody = "fresh";

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _firstAnswer;
    private readonly Task _loop;
    private readonly ConcurrentQueue<Task> _connections = new();
    private readonly ConcurrentQueue<StringBuilder> _received = new();
    private int _requests;

    private readonly TimeSpan _pause;

    public HostileOrigin(string firstAnswer, TimeSpan? pause = null)
    {
        _firstAnswer = firstAnswer;
        _pause = pause ?? TimeSpan.FromMilliseconds(100);
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completed when the first (hostile) answer has been written whole, late bytes included.</summary>
    public TaskCompletionSource FirstAnswered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when the proxy closes the first connection (the origin reads its end).</summary>
    public TaskCompletionSource FirstConnectionClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Connections => _received.Count;

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Everything received, all connections in the order they were accepted.</summary>
    public string Received => string.Concat(_received.Select(r => { lock (r) { return r.ToString(); } }));

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var received = new StringBuilder();
            bool first = _received.IsEmpty;
            _received.Enqueue(received);
            _connections.Enqueue(Task.Run(async () =>
            {
                await ServeAsync(socket, received);
                if (first)
                {
                    FirstConnectionClosed.TrySetResult();
                }
            }));
        }
    }

    private async Task ServeAsync(Socket socket, StringBuilder received)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var pending = new List<byte>();
        byte[] buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int headEnd;
                while ((headEnd = CollectionsMarshal.AsSpan(pending).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    int n = await stream.ReadAsync(buffer);
                    if (n == 0)
                    {
                        return;
                    }

                    Record(received, buffer.AsSpan(0, n));
                    pending.AddRange(buffer.AsSpan(0, n));
                }

                string head = Encoding.Latin1.GetString(pending.ToArray(), 0, headEnd + 4);
                pending.RemoveRange(0, headEnd + 4);
                await ReadBodyAsync(stream, head, pending, received, buffer);
                if (Interlocked.Increment(ref _requests) == 1)
                {
                    if (await AnswerFirstAsync(stream))
                    {
                        socket.Shutdown(SocketShutdown.Send);
                        await DrainAsync(stream, buffer);
                        return;
                    }
                }
                else
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {FreshBody.Length}\r\n\r\n{FreshBody}"));
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            FirstAnswered.TrySetResult();
        }
    }

    /// <returns>True when the answer asked for the connection to be closed after it.</returns>
    private async Task<bool> AnswerFirstAsync(NetworkStream stream)
    {
        bool close = _firstAnswer.EndsWith(Close, StringComparison.Ordinal);
        string answer = close ? _firstAnswer[..^Close.Length] : _firstAnswer;
        string[] parts = answer.Split(Pause);
        for (int i = 0; i < parts.Length; i++)
        {
            if (i > 0)
            {
                await Task.Delay(_pause);
            }

            await stream.WriteAsync(Encoding.Latin1.GetBytes(parts[i]));
        }

        FirstAnswered.TrySetResult();
        return close;
    }

    private static async Task DrainAsync(NetworkStream stream, byte[] buffer)
    {
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }

    /// <summary>Reads the request body (Content-Length, or chunked up to its last chunk) so the next request can follow.</summary>
    private static async Task ReadBodyAsync(NetworkStream stream, string head, List<byte> pending, StringBuilder received, byte[] buffer)
    {
        bool chunked = head.Contains("\r\nTransfer-Encoding: chunked\r\n", StringComparison.OrdinalIgnoreCase);
        int length = 0;
        foreach (string line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) && int.TryParse(line[15..].Trim(), out int parsed))
            {
                length = parsed;
            }
        }

        while (chunked ? EndOfChunked(pending) < 0 : pending.Count < length)
        {
            int n = await stream.ReadAsync(buffer);
            if (n == 0)
            {
                throw new IOException("closed inside the body");
            }

            Record(received, buffer.AsSpan(0, n));
            pending.AddRange(buffer.AsSpan(0, n));
        }

        int end = chunked ? EndOfChunked(pending) : length;
        pending.RemoveRange(0, Math.Min(end, pending.Count));
    }

    // The last chunk ("0" CRLF) and its trailer section end at the first empty line after it.
    private static int EndOfChunked(List<byte> pending)
    {
        string text = Encoding.Latin1.GetString(pending.ToArray());
        int last = text.StartsWith("0\r\n", StringComparison.Ordinal) ? 0 : text.IndexOf("\r\n0\r\n", StringComparison.Ordinal);
        if (last < 0)
        {
            return -1;
        }

        int end = text.IndexOf("\r\n\r\n", last == 0 ? 1 : last + 2, StringComparison.Ordinal);
        return end < 0 ? -1 : end + 4;
    }

    private static void Record(StringBuilder received, ReadOnlySpan<byte> bytes)
    {
        lock (received)
        {
            received.Append(Encoding.Latin1.GetString(bytes));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
    }
}
