using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Runtime.InteropServices;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// An origin on 127.0.0.1:0 whose every connection runs a test's script (<see cref="OriginSide"/>): it can answer,
/// close, reset or speak out of turn at any point. It counts the connections it accepted and records every request
/// head it read (with its body), in order, so a test can count how often a request arrived.
/// </summary>
internal sealed class ScriptedOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<OriginSide, Task> _script;
    private readonly Task _loop;
    private readonly ConcurrentQueue<Task> _handlers = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private int _connections;

    public ScriptedOrigin(Func<OriginSide, Task> script)
    {
        _script = script;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Every request read (head and body), over all connections.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>How many requests arrived whose text contains <paramref name="marker"/>.</summary>
    public int Arrivals(string marker) => _requests.Count(r => r.Contains(marker, StringComparison.Ordinal));

    internal void Record(string request) => _requests.Enqueue(request);

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

            int index = Interlocked.Increment(ref _connections);
            _handlers.Enqueue(Task.Run(async () =>
            {
                using var side = new OriginSide(this, socket, index);
                try
                {
                    await _script(side);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                {
                }
            }));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
        await Task.WhenAny(Task.WhenAll(_handlers), Task.Delay(TimeSpan.FromSeconds(5)));
    }
}

/// <summary>The origin's side of one connection from the proxy.</summary>
internal sealed class OriginSide : IDisposable
{
    public const string FreshBody = "fresh";

    private readonly ScriptedOrigin _origin;
    private readonly List<byte> _pending = [];
    private readonly byte[] _buffer = new byte[16 * 1024];

    internal OriginSide(ScriptedOrigin origin, Socket socket, int index)
    {
        _origin = origin;
        Socket = socket;
        Index = index;
        Stream = new NetworkStream(socket, ownsSocket: true);
    }

    public Socket Socket { get; }

    public NetworkStream Stream { get; }

    /// <summary>1 for the first connection the origin accepted.</summary>
    public int Index { get; }

    /// <summary>Requests read on this connection so far.</summary>
    public int Requests { get; private set; }

    /// <summary>The next request head (its Content-Length body read and recorded with it), or null when the proxy closed.</summary>
    public async Task<string?> ReadRequestAsync()
    {
        int end;
        while ((end = CollectionsMarshal.AsSpan(_pending).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync())
            {
                return null;
            }
        }

        string head = Encoding.Latin1.GetString([.. _pending.GetRange(0, end + 4)]);
        _pending.RemoveRange(0, end + 4);
        int length = 0;
        foreach (string field in head.Split("\r\n"))
        {
            if (field.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(field[15..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        while (_pending.Count < length)
        {
            if (!await FillAsync())
            {
                throw new IOException("closed inside the body");
            }
        }

        string body = Encoding.Latin1.GetString([.. _pending.GetRange(0, length)]);
        _pending.RemoveRange(0, length);
        Requests++;
        _origin.Record(head + body);
        return head;
    }

    /// <summary>The fresh response for <paramref name="head"/> (no body for HEAD).</summary>
    public Task AnswerAsync(string head, string extra = "") =>
        SendAsync(head.StartsWith("HEAD ", StringComparison.Ordinal)
            ? $"HTTP/1.1 200 OK\r\nContent-Length: {FreshBody.Length}\r\n\r\n{extra}"
            : $"HTTP/1.1 200 OK\r\nContent-Length: {FreshBody.Length}\r\n\r\n{FreshBody}{extra}");

    /// <summary>Records a request read some other way.</summary>
    public void Record(string request) => _origin.Record(request);

    public async Task SendAsync(string text) => await Stream.WriteAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Closes with a reset (RST), not a FIN.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Close();
    }

    /// <summary>Closes with a FIN (the socket is shut down for sending, then closed).</summary>
    public void Close()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }

        Socket.Close();
    }

    /// <summary>Reads until the proxy closes the connection; true if it did within <paramref name="limit"/>.</summary>
    public async Task<bool> ClosedByProxyWithinAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        try
        {
            while (await Stream.ReadAsync(_buffer, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<bool> FillAsync()
    {
        int n = await Stream.ReadAsync(_buffer);
        if (n == 0)
        {
            return false;
        }

        _pending.AddRange(_buffer.AsSpan(0, n));
        return true;
    }

    public void Dispose() => Stream.Dispose();
}
