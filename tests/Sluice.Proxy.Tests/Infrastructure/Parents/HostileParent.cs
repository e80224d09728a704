using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Runtime.InteropServices;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// A parent proxy that is whatever a test makes it: a TCP listener on loopback whose handler gets each connection
/// raw (<see cref="ParentLine"/>). It records every request head it reads. <see cref="Stop"/> is the parent going away
/// (the listener closed, idle connections closed, busy ones closed once they have answered); <see cref="Start"/>
/// listens again on the same port.
/// </summary>
public sealed class HostileParent : IAsyncDisposable
{
    /// <summary>In a scripted answer: wait 50 ms, then write the rest (bytes that arrive late).</summary>
    public const string Pause = "{pause}";

    public const string FreshBody = "fresh";

    public const string FreshResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh";

    public const string Established = "HTTP/1.1 200 Connection established\r\n\r\n";

    private readonly Func<ParentLine, Task> _handler;
    private readonly IPAddress _address;
    private readonly ConcurrentDictionary<ParentLine, byte> _open = new();
    private readonly ConcurrentQueue<Task> _handlers = new();
    private readonly ConcurrentQueue<string> _heads = new();
    private readonly object _gate = new();
    private TcpListener? _listener;
    private Task _loop = Task.CompletedTask;
    private CancellationTokenSource _stopping = new();
    private int _connections;
    private int _requests;

    public HostileParent(Func<ParentLine, Task> handler, IPAddress? address = null, int port = 0)
    {
        _handler = handler;
        _address = address ?? IPAddress.Loopback;
        Port = port;
        Start();
    }

    public int Port { get; private set; }

    public IPEndPoint Endpoint => new(_address, Port);

    /// <summary>Connections accepted, over every start.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Every request head read, in order, over all connections.</summary>
    public IReadOnlyList<string> Heads => [.. _heads];

    /// <summary>Counts a request and returns its number (1 for the first one this parent answers).</summary>
    public int NextRequest() => Interlocked.Increment(ref _requests);

    private readonly TaskCompletionSource _firstAnswerSent = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes once <see cref="FirstAnswer"/>'s whole script is written, pauses included: a test waits on it rather
    /// than on a guessed delay, which a loaded machine can outlast.
    /// </summary>
    public Task FirstAnswerSent => _firstAnswerSent.Task;

    /// <summary>CONNECT: 200 and echo; anything else: <see cref="FreshResponse"/>, on keep-alive connections.</summary>
    public static HostileParent Fresh(IPAddress? address = null, int port = 0) => new(ServeFreshAsync, address, port);

    /// <summary>
    /// The first request answered with <paramref name="answer"/> (<see cref="Pause"/> in it is a wait between writes),
    /// every later one as <see cref="Fresh"/> does. With <paramref name="closeAfter"/> the first connection is closed
    /// after the answer.
    /// </summary>
    public static HostileParent FirstAnswer(string answer, bool closeAfter = false) => new(async line =>
    {
        while (await line.ReadHeadAsync() is { } head)
        {
            await line.ReadBodyAsync(head);
            if (line.Parent.NextRequest() != 1)
            {
                await line.AnswerFreshAsync(head);
                continue;
            }

            await line.SendScriptAsync(answer);
            line.Parent._firstAnswerSent.TrySetResult();
            if (closeAfter)
            {
                return;
            }

            if (head.StartsWith("CONNECT ", StringComparison.Ordinal))
            {
                await line.EchoAsync();
                return;
            }
        }
    });

    public static async Task ServeFreshAsync(ParentLine line)
    {
        while (await line.ReadHeadAsync() is { } head)
        {
            await line.ReadBodyAsync(head);
            line.Parent.NextRequest();
            if (!await line.AnswerFreshAsync(head))
            {
                return;
            }
        }
    }

    public void Start()
    {
        lock (_gate)
        {
            if (_listener is not null)
            {
                return;
            }

            _stopping = new CancellationTokenSource();
            var listener = new TcpListener(_address, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _listener = listener;
            _loop = AcceptAsync(listener, _stopping.Token);
        }
    }

    /// <summary>The parent goes away: no more connections, idle ones closed now, busy ones after their answer.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (_listener is null)
            {
                return;
            }

            _listener.Stop();
            _listener = null;
            _stopping.Cancel();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken stopping)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            var line = new ParentLine(this, socket, stopping);
            _open[line] = 0;
            _handlers.Enqueue(Task.Run(async () =>
            {
                try
                {
                    await _handler(line);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                {
                }
                finally
                {
                    _open.TryRemove(line, out _);
                    line.Dispose();
                }
            }));
        }
    }

    internal void Record(string head) => _heads.Enqueue(head);

    public async ValueTask DisposeAsync()
    {
        Stop();
        await _loop;
        foreach (ParentLine line in _open.Keys)
        {
            line.Dispose();
        }

        await Task.WhenAny(Task.WhenAll(_handlers), Task.Delay(TimeSpan.FromSeconds(5)));
    }
}

/// <summary>One connection from the proxy to a <see cref="HostileParent"/>.</summary>
public sealed class ParentLine : IDisposable
{
    private readonly List<byte> _pending = [];
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly CancellationToken _parentStopping;

    internal ParentLine(HostileParent parent, Socket socket, CancellationToken parentStopping)
    {
        Parent = parent;
        Socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
        _parentStopping = parentStopping;
    }

    public HostileParent Parent { get; }

    public Socket Socket { get; }

    public NetworkStream Stream { get; }

    /// <summary>Cancelled when the parent stops.</summary>
    public CancellationToken Stopping => _parentStopping;

    /// <summary>The next request head (recorded), or null when the proxy closed, or when the parent stops while idle.</summary>
    public async Task<string?> ReadHeadAsync()
    {
        while (true)
        {
            int end = CollectionsMarshal.AsSpan(_pending).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                string head = Encoding.Latin1.GetString([.. _pending.GetRange(0, end + 4)]);
                _pending.RemoveRange(0, end + 4);
                Parent.Record(head);
                return head;
            }

            int n;
            try
            {
                // Idle (nothing of the next head yet): a parent going away closes the connection here.
                n = await Stream.ReadAsync(_buffer, _pending.Count == 0 ? _parentStopping : CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            if (n == 0)
            {
                return null;
            }

            _pending.AddRange(_buffer.AsSpan(0, n));
        }
    }

    /// <summary>Reads (and drops) a Content-Length request body.</summary>
    public async Task ReadBodyAsync(string head)
    {
        int length = 0;
        foreach (string field in head.Split("\r\n"))
        {
            if (field.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(field[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        while (_pending.Count < length)
        {
            int n = await Stream.ReadAsync(_buffer);
            if (n == 0)
            {
                throw new IOException("closed inside the body");
            }

            _pending.AddRange(_buffer.AsSpan(0, n));
        }

        _pending.RemoveRange(0, length);
    }

    public async Task SendAsync(string text) => await Stream.WriteAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Writes <paramref name="script"/>, waiting 50 ms at each <see cref="HostileParent.Pause"/>.</summary>
    public async Task SendScriptAsync(string script)
    {
        string[] parts = script.Split(HostileParent.Pause);
        for (int i = 0; i < parts.Length; i++)
        {
            if (i > 0)
            {
                await Task.Delay(50);
            }

            if (parts[i].Length > 0)
            {
                await SendAsync(parts[i]);
            }
        }
    }

    /// <summary>CONNECT: 200 then echo until the proxy closes (false: the connection is done). Else the fresh response.</summary>
    public async Task<bool> AnswerFreshAsync(string head)
    {
        if (head.StartsWith("CONNECT ", StringComparison.Ordinal))
        {
            await SendAsync(HostileParent.Established);
            await EchoAsync();
            return false;
        }

        await SendAsync(HostileParent.FreshResponse);
        return true;
    }

    /// <summary>Echoes what is buffered and everything after it until the proxy closes, then closes.</summary>
    public async Task EchoAsync()
    {
        if (_pending.Count > 0)
        {
            await Stream.WriteAsync(_pending.ToArray());
            _pending.Clear();
        }

        int n;
        while ((n = await Stream.ReadAsync(_buffer)) > 0)
        {
            await Stream.WriteAsync(_buffer.AsMemory(0, n));
        }
    }

    /// <summary>Waits until the proxy closes the connection (or the parent stops), reading and dropping what comes.</summary>
    public async Task DrainAsync()
    {
        try
        {
            while (await Stream.ReadAsync(_buffer, _parentStopping) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Closes with a reset (RST), not a FIN.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Close();
    }

    public void Dispose() => Stream.Dispose();
}
