using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// A real HTTP/1.1 origin (Kestrel, an independent implementation) on 127.0.0.1:0, optionally over TLS, counting the
/// TCP connections it accepts so tests can prove upstream keep-alive.
/// </summary>
public sealed class TestOrigin : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _connections;

    private TestOrigin(WebApplication app) => _app = app;

    public int Port { get; private set; }

    public int Connections => Volatile.Read(ref _connections);

    public X509Certificate2? Certificate { get; private set; }

    /// <param name="tls">Serve HTTPS with a self-signed certificate for <paramref name="certificateName"/>...</param>
    /// <param name="issued">...or with this certificate (with its key), e.g. one a <see cref="TestPki"/> issued.</param>
    public static async Task<TestOrigin> StartAsync(bool tls = false, string certificateName = "secure.test", X509Certificate2? issued = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        X509Certificate2? certificate = issued ?? (tls ? TestCertificates.SelfSigned(certificateName) : null);
        TestOrigin? origin = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            k.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(next => context =>
                {
                    Interlocked.Increment(ref origin!._connections);
                    return next(context);
                });
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        WebApplication app = builder.Build();
        origin = new TestOrigin(app) { Certificate = certificate };
        app.UseWebSockets();
        MapRoutes(app);
        await app.StartAsync();
        string address = app.Urls.First();
        origin.Port = new Uri(address).Port;
        return origin;
    }

    private static void MapRoutes(WebApplication app)
    {
        app.MapGet("/hello", () => Results.Text("hello from origin", "text/plain"));

        // What the origin received: method, target, version and header fields, one per line.
        app.Map("/headers", async (HttpContext c) =>
        {
            var lines = new List<string> { $"{c.Request.Method} {c.Request.Path}{c.Request.QueryString} {c.Request.Protocol}" };
            lines.AddRange(c.Request.Headers.Select(h => $"{h.Key}: {h.Value}"));
            await Results.Text(string.Join("\n", lines), "text/plain").ExecuteAsync(c);
        });

        // Echoes the request body, streamed (no Content-Length: chunked on the way back).
        app.MapPost("/echo", async (HttpContext c) =>
        {
            c.Response.ContentType = c.Request.ContentType ?? "application/octet-stream";
            await c.Request.Body.CopyToAsync(c.Response.Body);
        });

        // SHA-256 and length of the request body, so large uploads are checked without keeping them.
        app.MapMethods("/sha256", ["POST", "PUT"], async (HttpContext c) =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await c.Request.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
            }

            return Results.Text($"{total} {Convert.ToHexString(hash.GetHashAndReset())}");
        });

        // n deterministic bytes: with Content-Length, or chunked when ?chunked=1.
        app.MapMethods("/bytes/{n:long}", ["GET", "HEAD"], async (HttpContext c, long n) =>
        {
            c.Response.ContentType = "application/octet-stream";
            if (c.Request.Query["chunked"] != "1")
            {
                c.Response.ContentLength = n;
            }

            if (HttpMethods.IsHead(c.Request.Method))
            {
                return;
            }

            byte[] buffer = new byte[64 * 1024];
            long sent = 0;
            while (sent < n)
            {
                int count = (int)Math.Min(buffer.Length, n - sent);
                TestData.Fill(buffer.AsSpan(0, count), sent);
                await c.Response.Body.WriteAsync(buffer.AsMemory(0, count));
                sent += count;
            }
        });

        app.MapMethods("/status/{code:int}", ["GET", "HEAD", "POST"], (int code) => Results.StatusCode(code));

        app.Map("/ws", async (HttpContext c) =>
        {
            if (!c.WebSockets.IsWebSocketRequest)
            {
                c.Response.StatusCode = 400;
                return;
            }

            using WebSocket socket = await c.WebSockets.AcceptWebSocketAsync();
            byte[] buffer = new byte[64 * 1024];
            while (true)
            {
                WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Certificate?.Dispose();
    }
}

/// <summary>Deterministic content: byte i of a stream is a function of i, so both ends can hash without sharing a buffer.</summary>
public static class TestData
{
    public static void Fill(Span<byte> destination, long offset)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            long p = offset + i;
            destination[i] = (byte)((p * 31) ^ (p >> 8) ^ (p >> 16));
        }
    }

    public static string Sha256(long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[64 * 1024];
        for (long sent = 0; sent < length;)
        {
            int count = (int)Math.Min(buffer.Length, length - sent);
            Fill(buffer.AsSpan(0, count), sent);
            hash.AppendData(buffer, 0, count);
            sent += count;
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
