using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// A TLS origin on 127.0.0.1:0 with a certificate a <see cref="TestPki"/> issued, that only handshakes and counts the
/// bytes a client sends after it: what a probe of the origin's TLS should (not) send.
/// </summary>
public sealed class PkiOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly Task _loop;
    private readonly System.Threading.Channels.Channel<int> _received = System.Threading.Channels.Channel.CreateUnbounded<int>();

    private PkiOrigin(TestPki pki)
    {
        (string certificate, string key, _) = pki.Server("origin");
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificate, key);
        _certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static PkiOrigin Start(TestPki pki) => new(pki);

    /// <summary>Bytes the next finished connection sent after its handshake (-1: the handshake or close failed).</summary>
    public async Task<int> NextReceivedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await _received.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the origin never saw the probe's connection end");
        }
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            await using var tls = new SslStream(client.GetStream());
            try
            {
                await tls.AuthenticateAsServerAsync(_certificate);
                byte[] buffer = new byte[4096];
                int total = 0;
                int n;
                while ((n = await tls.ReadAsync(buffer)) > 0)
                {
                    total += n;
                }

                _received.Writer.TryWrite(total);
            }
            catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
            {
                _received.Writer.TryWrite(-1);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
        _certificate.Dispose();
    }
}
