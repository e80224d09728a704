using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// A TLS server on 127.0.0.1:0 written by hand, for origins Kestrel will not be: one that presents an expired or
/// foreign certificate, records the ALPN the proxy offered, or closes its keep-alive connection without saying so.
/// Each accepted connection is handshaken, then given to a handler.
/// </summary>
public sealed class TlsOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly SslStreamCertificateContext _certificate;
    private readonly List<SslApplicationProtocol>? _alpn;
    private readonly Func<SslStream, int, Task> _handler;
    private readonly Task _loop;
    private int _connections;

    private TlsOrigin(X509Certificate2 certificate, X509Certificate2[]? chain, List<SslApplicationProtocol>? alpn, Func<SslStream, int, Task> handler)
    {
        _certificate = SslStreamCertificateContext.Create(certificate, chain is null ? null : new X509Certificate2Collection(chain), offline: true);
        _alpn = alpn;
        _handler = handler;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>TCP connections accepted.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>What each completed handshake negotiated by ALPN (empty: none).</summary>
    public ConcurrentQueue<string> Negotiated { get; } = new();

    /// <summary>Handshakes that failed on this side (the proxy gave up on the certificate, or spoke no TLS).</summary>
    public ConcurrentQueue<string> FailedHandshakes { get; } = new();

    /// <summary>Request heads received, in order, over all connections.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <param name="handler">Runs per connection after the handshake, with the connection's number (1, 2, ...).</param>
    /// <param name="chain">Intermediates sent after the certificate.</param>
    public static TlsOrigin Start(X509Certificate2 certificate, Func<SslStream, int, Task> handler, List<SslApplicationProtocol>? alpn = null, X509Certificate2[]? chain = null) =>
        new(certificate, chain, alpn, handler);

    /// <summary>An origin that answers every request with 200 "ok" and keeps the connection open.</summary>
    public static TlsOrigin KeepAlive(X509Certificate2 certificate, List<SslApplicationProtocol>? alpn = null, X509Certificate2[]? chain = null)
    {
        TlsOrigin? origin = null;
        origin = new TlsOrigin(certificate, chain, alpn, async (tls, _) =>
        {
            while (await origin!.ReadRequestAsync(tls) is not null)
            {
                await WriteAsync(tls, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
            }
        });
        return origin;
    }

    /// <summary>
    /// Reads one request head and its Content-Length body (discarded), recording the head; null when the connection
    /// ended before a request.
    /// </summary>
    public async Task<string?> ReadRequestAsync(SslStream tls)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await tls.ReadAsync(one) == 0)
            {
                return null;
            }

            head.Append((char)one[0]);
        }

        string text = head.ToString();
        Requests.Enqueue(text);
        foreach (string line in text.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                byte[] body = new byte[int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)];
                await tls.ReadExactlyAsync(body);
            }
        }

        return text;
    }

    public static async Task WriteAsync(SslStream tls, string text)
    {
        await tls.WriteAsync(Encoding.Latin1.GetBytes(text));
        await tls.FlushAsync();
    }

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

            int number = Interlocked.Increment(ref _connections);
            _ = Task.Run(() => ServeAsync(socket, number));
        }
    }

    private async Task ServeAsync(Socket socket, int number)
    {
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _certificate,
                ApplicationProtocols = _alpn,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, timeout.Token);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            FailedHandshakes.Enqueue(e.Message);
            return;
        }

        Negotiated.Enqueue(tls.NegotiatedApplicationProtocol.ToString());
        try
        {
            await _handler(tls, number);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
    }
}
