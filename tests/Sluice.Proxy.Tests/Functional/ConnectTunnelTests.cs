using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>CONNECT tunnels through the real proxy: TLS from HttpClient, half-close both ways, bulk bytes, early bytes, failures.</summary>
public sealed class ConnectTunnelTests : IAsyncLifetime
{
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _proxy = await TestProxy.StartAsync();
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Https_get_through_connect_reaches_the_tls_origin()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        using HttpClient client = TrustingClient(_proxy, origin.Certificate!);

        using HttpResponseMessage response = await client.GetAsync($"https://secure.test:{origin.Port}/hello");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello from origin", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, origin.Connections);
    }

    [Fact]
    public async Task Client_half_close_lets_the_origin_keep_sending_until_it_is_done()
    {
        byte[] request = Encoding.ASCII.GetBytes("all of the request, then FIN");
        byte[] reply = new byte[300_000];
        TestData.Fill(reply, 0);
        var originReceived = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            // Read to the client's FIN first; only then answer, so every reply byte travels after the half-close.
            byte[] received = await ReadToEndAsync(stream);
            originReceived.TrySetResult(received);
            await stream.WriteAsync(reply);
            socket.Shutdown(SocketShutdown.Send);
        });

        using RawClient client = await OpenTunnelAsync($"origin.test:{origin.Port}");
        await client.SendAsync(request);
        client.ShutdownSend();

        byte[] got = await client.ReadToEndAsync(timeoutMs: 30_000);
        Assert.Equal(request, await WithTimeout(originReceived.Task, "the origin never saw the client's end of stream"));
        Assert.Equal(reply.Length, got.Length);
        Assert.True(reply.AsSpan().SequenceEqual(got), "the bytes the origin sent after the client's FIN arrived changed");
    }

    [Fact]
    public async Task Origin_half_close_lets_the_client_keep_sending_until_it_is_done()
    {
        byte[] greeting = Encoding.ASCII.GetBytes("greeting, then the origin's FIN");
        byte[] late = new byte[200_000];
        TestData.Fill(late, 1000);
        var originReceived = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await stream.WriteAsync(greeting);
            socket.Shutdown(SocketShutdown.Send);
            originReceived.TrySetResult(await ReadToEndAsync(stream));
        });

        using RawClient client = await OpenTunnelAsync($"origin.test:{origin.Port}");

        // The origin's FIN reaches the client as end of stream, while the client's own direction stays open.
        byte[] got = await client.ReadToEndAsync(timeoutMs: 30_000);
        Assert.Equal(greeting, got);

        await client.SendAsync(late);
        client.ShutdownSend();
        byte[] received = await WithTimeout(originReceived.Task, "the origin never received the client's bytes sent after the origin's half-close");
        Assert.Equal(late.Length, received.Length);
        Assert.True(late.AsSpan().SequenceEqual(received), "bytes the client sent after the origin's FIN arrived changed");
    }

    [Fact]
    public async Task Sixty_four_mebibytes_each_way_at_once_arrive_byte_exact()
    {
        const long size = 64L * 1024 * 1024;
        var originSaw = new TaskCompletionSource<(long, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Task<(long, string)> receive = HashToEndAsync(stream, CancellationToken.None);
            await SendDeterministicAsync(stream, size, offset: 7, CancellationToken.None);
            socket.Shutdown(SocketShutdown.Send);
            originSaw.TrySetResult(await receive);
        });

        using RawClient client = await OpenTunnelAsync($"origin.test:{origin.Port}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Task<(long, string)> download = HashToEndAsync(client.Stream, timeout.Token);
        Task upload = Task.Run(async () =>
        {
            await SendDeterministicAsync(client.Stream, size, offset: 0, timeout.Token);
            client.ShutdownSend();
        });

        await WithTimeout(upload, "the client could not send 64 MiB into the tunnel", TimeSpan.FromMinutes(3));
        (long downLength, string downHash) = await WithTimeout(download, "the client did not receive the origin's 64 MiB and FIN", TimeSpan.FromMinutes(3));
        (long upLength, string upHash) = await WithTimeout(originSaw.Task, "the origin did not receive the client's 64 MiB and FIN", TimeSpan.FromMinutes(3));

        Assert.Equal(size, upLength);
        Assert.Equal(DeterministicHash(size, offset: 0), upHash);
        Assert.Equal(size, downLength);
        Assert.Equal(DeterministicHash(size, offset: 7), downHash);
    }

    [Fact]
    public async Task Bytes_in_the_same_packet_as_the_connect_head_are_forwarded()
    {
        await using RawOrigin origin = RawOrigin.Echo();
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        const string early = "EARLY-BYTES-AFTER-THE-HEAD";

        // One write: the head and the first tunnel bytes reach the proxy together, as a TLS ClientHello often does.
        await client.SendAsync($"CONNECT origin.test:{origin.Port} HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\n\r\n{early}");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200 ", head);

        byte[] echoed = await WithTimeout(client.ReadExactlyAsync(early.Length, timeoutMs: 60_000), "the bytes sent with the CONNECT head did not come back from the echo origin");
        Assert.Equal(early, Encoding.ASCII.GetString(echoed));

        await client.SendAsync("later");
        client.ShutdownSend();
        Assert.Equal("later", Encoding.ASCII.GetString(await client.ReadToEndAsync()));
    }

    [Fact]
    public async Task Head_bytes_and_end_of_stream_sent_before_the_200_all_reach_the_origin()
    {
        var originReceived = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            originReceived.TrySetResult(await ReadToEndAsync(stream));
            await stream.WriteAsync(Encoding.ASCII.GetBytes("got it"));
            socket.Shutdown(SocketShutdown.Send);
        });
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        const string early = "the whole message, sent with the head";

        // The client does not wait for the 200: head, payload and FIN all leave before the tunnel exists.
        await client.SendAsync($"CONNECT origin.test:{origin.Port} HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\n\r\n{early}");
        client.ShutdownSend();

        Assert.Equal("HTTP/1.1 200 Connection established\r\n\r\n", await client.ReadHeadAsync());
        Assert.Equal(early, Encoding.ASCII.GetString(await WithTimeout(originReceived.Task, "the origin never got the early bytes and the client's FIN")));
        Assert.Equal("got it", Encoding.ASCII.GetString(await client.ReadToEndAsync()));
    }

    [Fact]
    public async Task Client_that_resets_mid_tunnel_closes_the_upstream_and_is_logged_as_terminated()
    {
        var originSawEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            try
            {
                await ReadToEndAsync(stream);
            }
            finally
            {
                originSawEnd.TrySetResult();
            }
        });

        RawClient client = await OpenTunnelAsync($"origin.test:{origin.Port}");
        await client.SendAsync("half a message");
        client.Socket.LingerState = new LingerOption(true, 0);
        client.Dispose(); // RST, not FIN

        await WithTimeout(originSawEnd.Task, "the upstream connection stayed open after the client reset the tunnel");
        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for the reset tunnel");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
    }

    [Fact]
    public async Task Connect_to_a_name_that_does_not_resolve_is_502_dns_error()
    {
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync("CONNECT nowhere.test:443 HTTP/1.1\r\nHost: nowhere.test:443\r\n\r\n");
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 502 ", head);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=dns_error", head);
        Assert.Contains("nowhere.test", Encoding.UTF8.GetString(await client.ReadToEndAsync()));
    }

    [Fact]
    public async Task Connect_to_a_closed_port_is_502_connection_refused()
    {
        int closed = Ports.Free();
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync($"CONNECT origin.test:{closed} HTTP/1.1\r\nHost: origin.test:{closed}\r\n\r\n");
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 502 ", head);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=connection_refused", head);
    }

    [Theory]
    [InlineData("/foo")]
    [InlineData("origin.test")]
    [InlineData("http://origin.test:443/")]
    [InlineData("user@origin.test:443")]
    [InlineData("origin.test:")]
    [InlineData("origin.test:70000")]
    [InlineData("[::1:443")]
    public async Task Connect_with_a_target_that_is_not_host_and_port_is_400(string target)
    {
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync($"CONNECT {target} HTTP/1.1\r\nHost: origin.test\r\n\r\n");
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 400 ", head);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=http_request_error", head);
        Assert.Equal(0, _proxy.Resolver.Lookups);
    }

    [Fact]
    public async Task Loopback_is_refused_403_destination_ip_prohibited_when_addresses_allow_is_empty()
    {
        int accepted = 0;
        await using RawOrigin origin = RawOrigin.Start((_, _) =>
        {
            Interlocked.Increment(ref accepted);
            return Task.CompletedTask;
        });
        await using TestProxy strict = await TestProxy.StartAsync(c => c with { Addresses = new AddressesConfig() });

        using RawClient client = await RawClient.ConnectAsync(strict.Endpoint);
        await client.SendAsync($"CONNECT 127.0.0.1:{origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n\r\n");
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 403 ", head);
        Assert.Contains($"\r\nProxy-Status: {TestProxy.Name}; error=destination_ip_prohibited", head);
        await client.ReadToEndAsync();
        Assert.Equal(0, Volatile.Read(ref accepted));
    }

    [Fact]
    public async Task Ipv6_literal_authority_is_tunnelled_when_the_proxy_allows_it()
    {
        using var listener = new TcpListener(IPAddress.IPv6Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task<IPEndPoint> serve = Task.Run(async () =>
        {
            using Socket socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            byte[] got = await ReadToEndAsync(stream);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("v6 says: ").Concat(got).ToArray());
            socket.Shutdown(SocketShutdown.Send);
            return (IPEndPoint)socket.RemoteEndPoint!;
        });

        using RawClient client = await OpenTunnelAsync($"[::1]:{port}");
        await client.SendAsync("hi");
        client.ShutdownSend();

        Assert.Equal("v6 says: hi", Encoding.ASCII.GetString(await client.ReadToEndAsync()));
        IPEndPoint proxySide = await WithTimeout(serve, "the IPv6 origin never saw the tunnel's connection");
        Assert.Equal(IPAddress.IPv6Loopback, proxySide.Address);
        Assert.Equal(0, _proxy.Resolver.Lookups);
        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for the IPv6 tunnel");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
        Assert.Contains($" CONNECT [::1]:{port} - HIER_DIRECT/::1 -", line);
    }

    /// <summary>HttpClient through the proxy that trusts exactly one certificate: the origin's.</summary>
    internal static HttpClient TrustingClient(TestProxy proxy, X509Certificate2 trusted)
    {
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(proxy.Uri),
            UseProxy = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && certificate.GetCertHashString() == trusted.GetCertHashString(),
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    private async Task<RawClient> OpenTunnelAsync(string authority)
    {
        RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.Equal("HTTP/1.1 200 Connection established\r\n\r\n", head);
        return client;
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var all = new MemoryStream();
        await stream.CopyToAsync(all);
        return all.ToArray();
    }

    private static async Task SendDeterministicAsync(Stream stream, long size, long offset, CancellationToken ct)
    {
        byte[] buffer = new byte[64 * 1024];
        for (long sent = 0; sent < size;)
        {
            int count = (int)Math.Min(buffer.Length, size - sent);
            TestData.Fill(buffer.AsSpan(0, count), offset + sent);
            await stream.WriteAsync(buffer.AsMemory(0, count), ct);
            sent += count;
        }
    }

    private static async Task<(long Length, string Hash)> HashToEndAsync(Stream stream, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (total, Convert.ToHexString(hash.GetHashAndReset()));
    }

    private static string DeterministicHash(long size, long offset)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[64 * 1024];
        for (long done = 0; done < size;)
        {
            int count = (int)Math.Min(buffer.Length, size - done);
            TestData.Fill(buffer.AsSpan(0, count), offset + done);
            hash.AppendData(buffer, 0, count);
            done += count;
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    internal static async Task WithTimeout(Task task, string whatDidNotHappen, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(20);
        if (await Task.WhenAny(task, Task.Delay(limit)) != task)
        {
            throw new Xunit.Sdk.XunitException($"{whatDidNotHappen} within {limit.TotalSeconds} s");
        }

        await task;
    }

    internal static async Task<T> WithTimeout<T>(Task<T> task, string whatDidNotHappen, TimeSpan? timeout = null)
    {
        await WithTimeout((Task)task, whatDidNotHappen, timeout);
        return await task;
    }
}
