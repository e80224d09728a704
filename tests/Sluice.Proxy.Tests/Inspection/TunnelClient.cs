using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// A client of an inspected tunnel written by hand: a raw CONNECT, then TLS with a chosen SNI, ALPN and trust, then
/// request bytes exactly as the test writes them (no client library normalises <c>/a/../b</c> here) and responses
/// read strictly by their framing, so the test sees whether the connection is still usable after each one.
/// </summary>
public sealed class TunnelClient : IAsyncDisposable
{
    private readonly RawClient _raw;
    private SslStream? _tls;

    private TunnelClient(RawClient raw, string authority, string connectHead)
    {
        _raw = raw;
        Authority = authority;
        ConnectHead = connectHead;
    }

    /// <summary>host:port the CONNECT named.</summary>
    public string Authority { get; }

    /// <summary>The proxy's answer to the CONNECT, head only.</summary>
    public string ConnectHead { get; }

    public bool Established => ConnectHead.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal);

    /// <summary>The certificate the TLS server inside the tunnel presented (the minted leaf, or the origin's own).</summary>
    public X509Certificate2? Presented { get; private set; }

    /// <summary>The chain the client was given, leaf first.</summary>
    public IReadOnlyList<X509Certificate2> PresentedChain { get; private set; } = [];

    public SslStream Tls => _tls ?? throw new InvalidOperationException("no TLS handshake yet");

    public RawClient Raw => _raw;

    /// <summary>Sends the CONNECT (with <paramref name="extraFields"/>, CRLF-terminated lines) and reads the answer's head.</summary>
    public static async Task<TunnelClient> ConnectAsync(IPEndPoint proxy, string authority, string extraFields = "")
    {
        RawClient raw = await RawClient.ConnectAsync(proxy);
        await raw.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{extraFields}\r\n");
        string head = await raw.ReadHeadAsync();
        return new TunnelClient(raw, authority, head);
    }

    /// <summary>CONNECT, expect 200, then the TLS handshake: what most tests need.</summary>
    public static async Task<TunnelClient> OpenAsync(IPEndPoint proxy, string authority, params X509Certificate2[] trust)
    {
        TunnelClient tunnel = await ConnectAsync(proxy, authority);
        if (!tunnel.Established)
        {
            await tunnel.DisposeAsync();
            throw new Xunit.Sdk.XunitException($"CONNECT {authority} was not established: {tunnel.ConnectHead}");
        }

        await tunnel.HandshakeAsync(trust);
        return tunnel;
    }

    /// <summary>
    /// TLS inside the tunnel. The server is accepted when its chain ends in one of <paramref name="trust"/> and it is for
    /// the name or address the client asked for (<paramref name="sni"/>, else the CONNECT host). Throws the handshake's failure.
    /// </summary>
    public async Task<SslApplicationProtocol> HandshakeAsync(X509Certificate2[] trust, string? sni = null, List<SslApplicationProtocol>? alpn = null, int timeoutMs = 15_000)
    {
        string host = sni ?? HostOf(Authority);
        _tls = new SslStream(_raw.Stream, leaveInnerStreamOpen: true);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            ApplicationProtocols = alpn,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                Presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                PresentedChain = chain is null ? [Presented] : [.. chain.ChainElements.Select(e => X509CertificateLoader.LoadCertificate(e.Certificate.RawData))];
                using var check = new X509Chain();
                check.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                check.ChainPolicy.CustomTrustStore.AddRange(trust);
                check.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return check.Build(Presented) && Matches(Presented, host);
            },
        };
        using var timeout = new CancellationTokenSource(timeoutMs);
        await _tls.AuthenticateAsClientAsync(options, timeout.Token);
        return _tls.NegotiatedApplicationProtocol;
    }

    private static bool Matches(X509Certificate2 certificate, string host) =>
        IPAddress.TryParse(host, out IPAddress? address)
            ? certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Any(s => s.EnumerateIPAddresses().Contains(address))
            : certificate.MatchesHostname(host);

    /// <summary>The host part of host:port (an IPv6 literal without its brackets).</summary>
    public static string HostOf(string authority)
    {
        int colon = authority.LastIndexOf(':');
        string host = colon < 0 ? authority : authority[..colon];
        return host.Trim('[', ']');
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        await Tls.WriteAsync(bytes);
        await Tls.FlushAsync();
    }

    /// <summary>A bodiless request for <paramref name="target"/> with Host the CONNECT's authority, then its response.</summary>
    public async Task<TunnelResponse> RequestAsync(string method, string target, string extraFields = "", string? host = null)
    {
        await SendAsync($"{method} {target} HTTP/1.1\r\nHost: {host ?? Authority}\r\n{extraFields}\r\n");
        return await ReadResponseAsync(headOnly: method == "HEAD");
    }

    public Task<TunnelResponse> GetAsync(string target) => RequestAsync("GET", target);

    /// <summary>A request with a Content-Length body, then its response.</summary>
    public async Task<TunnelResponse> SendBodyAsync(string method, string target, byte[] body, string extraFields = "")
    {
        await SendAsync($"{method} {target} HTTP/1.1\r\nHost: {Authority}\r\nContent-Length: {body.Length}\r\n{extraFields}\r\n");
        await SendAsync(body);
        return await ReadResponseAsync();
    }

    /// <summary>One response: head read through the empty line, then exactly its body (Content-Length, chunked, or none).</summary>
    public async Task<TunnelResponse> ReadResponseAsync(bool headOnly = false, int timeoutMs = 15_000)
    {
        using var timeout = new CancellationTokenSource(timeoutMs);
        string head = await ReadHeadAsync(timeout.Token);
        var response = new TunnelResponse(head, []);
        if (headOnly || response.Status is 204 or 304 || response.Status < 200)
        {
            return response;
        }

        if (response.Field("Transfer-Encoding") is { } coding && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            return response with { Body = await ReadChunkedAsync(timeout.Token) };
        }

        if (response.Field("Content-Length") is { } length)
        {
            byte[] body = new byte[int.Parse(length, CultureInfo.InvariantCulture)];
            await Tls.ReadExactlyAsync(body, timeout.Token);
            return response with { Body = body };
        }

        // Close-delimited: read to the end.
        using var all = new MemoryStream();
        await Tls.CopyToAsync(all, timeout.Token);
        return response with { Body = all.ToArray() };
    }

    /// <summary>True when the proxy ends the TLS connection (close_notify, FIN or reset) within the timeout, with nothing more sent.</summary>
    public async Task<bool> ClosedAsync(int timeoutMs = 10_000)
    {
        using var timeout = new CancellationTokenSource(timeoutMs);
        byte[] one = new byte[1];
        try
        {
            return await Tls.ReadAsync(one, timeout.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<string> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            int n;
            try
            {
                n = await Tls.ReadAsync(one, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"no complete response head inside the tunnel in time; got: {head}");
            }

            if (n == 0)
            {
                throw new Xunit.Sdk.XunitException($"the tunnel closed before a complete response head; got: {head}");
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private async Task<byte[]> ReadChunkedAsync(CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        while (true)
        {
            string sizeLine = await ReadLineAsync(cancellationToken);
            int size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                while ((await ReadLineAsync(cancellationToken)).Length > 0)
                {
                    // trailer fields
                }

                return body.ToArray();
            }

            byte[] chunk = new byte[size];
            await Tls.ReadExactlyAsync(chunk, cancellationToken);
            body.Write(chunk);
            await ReadLineAsync(cancellationToken);
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            if (await Tls.ReadAsync(one, cancellationToken) == 0)
            {
                throw new Xunit.Sdk.XunitException($"the tunnel closed inside a chunked body; line so far: {line}");
            }

            line.Append((char)one[0]);
        }

        return line.ToString()[..^2];
    }

    public async ValueTask DisposeAsync()
    {
        if (_tls is not null)
        {
            await _tls.DisposeAsync();
        }

        _raw.Dispose();
    }
}

/// <summary>A response read inside a tunnel: its head as text and its body bytes.</summary>
public sealed record TunnelResponse(string Head, byte[] Body)
{
    public int Status => int.Parse(Head.AsSpan(9, 3), CultureInfo.InvariantCulture);

    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>The value of the first field named <paramref name="name"/>, or null.</summary>
    public string? Field(string name)
    {
        foreach (string line in Head.Split("\r\n").Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    public override string ToString() => Head + Text;
}
