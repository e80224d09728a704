using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Runtime.InteropServices;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.InspectionAttacks;

/// <summary>
/// A TLS origin on 127.0.0.1:0 with a certificate chosen by the test (any shape: CN only, wrong name, missing
/// intermediate), that records every request head it receives and answers each with what the test's function says.
/// </summary>
public sealed class TlsOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly SslStreamCertificateContext _certificate;
    private readonly Func<TlsOrigin.Exchange, Task> _serve;
    private readonly ConcurrentQueue<Task> _tasks = new();
    private readonly ConcurrentQueue<string> _heads = new();
    private readonly Task _loop;
    private int _connections;

    /// <summary>One connection of the origin, as seen by the serving function.</summary>
    public sealed class Exchange(TlsOrigin origin, SslStream stream, Socket socket, int connection)
    {
        private readonly List<byte> _pending = [];

        public SslStream Stream => stream;

        public Socket Socket => socket;

        public int Connection => connection;

        /// <summary>The next request head (recorded), or null when the proxy closed the connection.</summary>
        public async Task<string?> ReadHeadAsync()
        {
            byte[] buffer = new byte[16 * 1024];
            while (true)
            {
                int end = CollectionsMarshal.AsSpan(_pending).IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    string head = Encoding.Latin1.GetString([.. _pending.GetRange(0, end + 4)]);
                    _pending.RemoveRange(0, end + 4);
                    origin._heads.Enqueue(head);
                    origin.HeadArrived.Release();
                    return head;
                }

                int n;
                try
                {
                    n = await stream.ReadAsync(buffer);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    return null;
                }

                if (n == 0)
                {
                    return null;
                }

                _pending.AddRange(buffer.AsSpan(0, n));
            }
        }

        /// <summary>Reads and drops a Content-Length body the head announced.</summary>
        public async Task SkipBodyAsync(string head)
        {
            int length = 0;
            foreach (string line in head.Split("\r\n"))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(line[15..].Trim());
                }
            }

            byte[] buffer = new byte[16 * 1024];
            if (head.Contains("\r\nTransfer-Encoding: chunked\r\n", StringComparison.OrdinalIgnoreCase))
            {
                // the proxy sends chunked bodies in its own framing; tests send no trailers
                int end;
                while ((end = CollectionsMarshal.AsSpan(_pending).IndexOf("0\r\n\r\n"u8)) < 0 || (end > 0 && _pending[end - 1] != (byte)'\n'))
                {
                    int n = await stream.ReadAsync(buffer);
                    if (n == 0)
                    {
                        throw new IOException("closed inside the body");
                    }

                    _pending.AddRange(buffer.AsSpan(0, n));
                }

                _pending.RemoveRange(0, end + 5);
                return;
            }

            while (_pending.Count < length)
            {
                int n = await stream.ReadAsync(buffer);
                if (n == 0)
                {
                    throw new IOException("closed inside the body");
                }

                _pending.AddRange(buffer.AsSpan(0, n));
            }

            _pending.RemoveRange(0, length);
        }

        public Task WriteAsync(string text) => stream.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask();
    }

    public TlsOrigin(SslStreamCertificateContext certificate, Func<Exchange, Task> serve, SslApplicationProtocol? alpn = null)
    {
        _certificate = certificate;
        _serve = serve;
        Alpn = alpn;
        _listener.Start();
        _loop = AcceptAsync();
    }

    private SslApplicationProtocol? Alpn { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Every request head received, in order.</summary>
    public IReadOnlyList<string> Heads => [.. _heads];

    /// <summary>The request lines received ("GET /x HTTP/1.1").</summary>
    public IReadOnlyList<string> RequestLines => [.. _heads.Select(h => h[..h.IndexOf("\r\n", StringComparison.Ordinal)])];

    public SemaphoreSlim HeadArrived { get; } = new(0);

    /// <summary>Signalled by serving functions when they have done what the test waits for.</summary>
    public TaskCompletionSource Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A well-formed keep-alive answer to every request: 200 with "origin saw {request line}".</summary>
    public static async Task Echo(Exchange x)
    {
        while (await x.ReadHeadAsync() is { } head)
        {
            await x.SkipBodyAsync(head);
            string body = "origin saw " + head[..head.IndexOf("\r\n", StringComparison.Ordinal)];
            await x.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        }
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
            _tasks.Enqueue(Task.Run(async () =>
            {
                var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    var options = new SslServerAuthenticationOptions { ServerCertificateContext = _certificate };
                    if (Alpn is { } alpn)
                    {
                        options.ApplicationProtocols = [alpn];
                    }

                    await tls.AuthenticateAsServerAsync(options, timeout.Token);
                    await _serve(new Exchange(this, tls, socket, number));
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or AuthenticationException or OperationCanceledException)
                {
                }
                finally
                {
                    await tls.DisposeAsync();
                }
            }));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
        await Task.WhenAny(Task.WhenAll(_tasks), Task.Delay(5000));
    }
}

/// <summary>Certificates for hostile origins, issued by a CA the proxy trusts as upstreamCa (or by one it does not).</summary>
public sealed class OriginCerts : IDisposable
{
    private readonly X509Certificate2 _ca;

    /// <param name="trusted">The PKI whose CA the proxy trusts for origins (the kit's Origins): its key signs here.</param>
    public OriginCerts(TestPki trusted)
    {
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(trusted.CaPath, trusted.CaKeyPath);
        _ca = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A leaf with the given subject and DNS names (none: no SAN at all), signed by <paramref name="issuer"/> (default: the trusted CA).</summary>
    public X509Certificate2 Leaf(string subject, string[] dnsNames, X509Certificate2? issuer = null, bool serverAuth = true)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (dnsNames.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (string name in dnsNames)
            {
                san.AddDnsName(name);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        X509Certificate2 signer = issuer ?? _ca;
        using X509Certificate2 issued = request.Create(signer, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2), RandomNumberGenerator.GetBytes(8));
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>An intermediate CA under the trusted CA, with its key.</summary>
    public X509Certificate2 Intermediate(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using X509Certificate2 issued = request.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(3), RandomNumberGenerator.GetBytes(8));
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public static SslStreamCertificateContext Context(X509Certificate2 leaf, params X509Certificate2[] chain) =>
        SslStreamCertificateContext.Create(leaf, [.. chain.Select(c => X509CertificateLoader.LoadCertificate(c.RawData))], offline: true);

    public void Dispose() => _ca.Dispose();
}

/// <summary>An inspected tunnel opened by hand: CONNECT, then TLS trusting the inspection CA, then raw HTTP inside.</summary>
public sealed class InsideClient : IDisposable
{
    private readonly RawClient _raw;

    private InsideClient(RawClient raw, SslStream tls, X509Certificate2? leaf)
    {
        _raw = raw;
        Tls = tls;
        Leaf = leaf;
    }

    public SslStream Tls { get; }

    public X509Certificate2? Leaf { get; }

    public Socket Socket => _raw.Socket;

    /// <summary>Sends CONNECT; returns the proxy's response head and the raw client (for CONNECTs that should fail).</summary>
    public static async Task<(string Head, RawClient Raw)> ConnectAsync(TestProxy proxy, string authority)
    {
        RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
        await raw.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        return (await raw.ReadHeadAsync(), raw);
    }

    /// <summary>CONNECT then TLS with SNI <paramref name="sni"/> (default: the host; "" for none), trusting only <paramref name="ca"/>.</summary>
    public static async Task<InsideClient> OpenAsync(TestProxy proxy, string authority, X509Certificate2 ca, string? sni = null)
    {
        (string head, RawClient raw) = await ConnectAsync(proxy, authority);
        Assert.StartsWith("HTTP/1.1 200", head);
        var tls = new SslStream(raw.Stream, leaveInnerStreamOpen: true);
        X509Certificate2? seen = null;
        string host = authority[..authority.LastIndexOf(':')].Trim('[', ']');
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = sni ?? host,
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                seen = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(seen);
            },
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await tls.AuthenticateAsClientAsync(options, timeout.Token);
        return new InsideClient(raw, tls, seen);
    }

    public Task SendAsync(string text) => Tls.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask();

    /// <summary>One response head, byte by byte; null when the tunnel ended first.</summary>
    public async Task<string?> ReadHeadAsync(int timeoutMs = 15_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            int n;
            try
            {
                n = await Tls.ReadAsync(one, cts.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                return null; // the tunnel ended, or nothing came within the time allowed
            }

            if (n == 0)
            {
                return null;
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    /// <summary>A response: head and Content-Length body.</summary>
    public async Task<(string? Head, string Body)> ReadResponseAsync(int timeoutMs = 15_000)
    {
        string? head = await ReadHeadAsync(timeoutMs);
        if (head is null)
        {
            return (null, "");
        }

        int length = 0;
        foreach (string line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line[15..].Trim());
            }
        }

        byte[] body = new byte[length];
        using var cts = new CancellationTokenSource(timeoutMs);
        await Tls.ReadExactlyAsync(body, cts.Token);
        return (head, Encoding.Latin1.GetString(body));
    }

    /// <summary>What remains until the tunnel ends; Clean says whether it ended with TLS close_notify/FIN rather than an error.</summary>
    public async Task<(string Text, bool Clean, bool TimedOut)> ReadToEndAsync(int timeoutMs = 15_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        using var all = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await Tls.ReadAsync(buffer, cts.Token)) > 0)
            {
                all.Write(buffer, 0, n);
            }

            return (Encoding.Latin1.GetString(all.ToArray()), true, false);
        }
        catch (OperationCanceledException)
        {
            return (Encoding.Latin1.GetString(all.ToArray()), false, true);
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            return (Encoding.Latin1.GetString(all.ToArray()), false, false);
        }
    }

    public void Dispose()
    {
        Tls.Dispose();
        _raw.Dispose();
    }
}
