using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// What inspected tunnels carry: big bodies byte-exact both ways, chunked uploads, WebSocket upgrades, and an origin
/// connection that is opened again when the origin closed it between requests.
/// </summary>
public sealed class InspectedTrafficTests
{
    private const long Big = 64L * 1024 * 1024;

    /// <summary>A request body of deterministic bytes, produced as it is sent: with a length, or chunked.</summary>
    private sealed class GeneratedContent(long length, bool chunked) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            byte[] buffer = new byte[64 * 1024];
            for (long sent = 0; sent < length;)
            {
                int count = (int)Math.Min(buffer.Length, length - sent);
                TestData.Fill(buffer.AsSpan(0, count), sent);
                await stream.WriteAsync(buffer.AsMemory(0, count));
                sent += count;
            }
        }

        protected override bool TryComputeLength(out long size)
        {
            size = length;
            return !chunked;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_64_mib_upload_reaches_the_origin_byte_exact(bool chunked)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        using HttpClient client = kit.Client(proxy);
        client.Timeout = TimeSpan.FromMinutes(3);

        using var request = new HttpRequestMessage(HttpMethod.Post, kit.Url("/sha256")) { Content = new GeneratedContent(Big, chunked) };
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"{Big} {TestData.Sha256(Big)}", await response.Content.ReadAsStringAsync());
        Assert.Equal(chunked, request.Headers.TransferEncodingChunked == true || request.Content.Headers.ContentLength is null);

        await proxy.StopAsync();
        string line = proxy.AccessLog.Lines.Single(l => l.Contains(" POST "));
        Assert.Contains($" TCP_MISS/200 ", line);
        Assert.Contains($" POST https://{kit.Authority}/sha256 ", line);
    }

    [Theory]
    [InlineData("")]
    [InlineData("?chunked=1")]
    public async Task A_64_mib_download_arrives_byte_exact(string query)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        using HttpClient client = kit.Client(proxy);
        client.Timeout = TimeSpan.FromMinutes(3);

        using HttpResponseMessage response = await client.GetAsync(kit.Url($"/bytes/{Big}{query}"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(query.Length == 0 ? Big : null, response.Content.Headers.ContentLength);
        await using Stream body = await response.Content.ReadAsStreamAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        Assert.Equal(Big, total);
        Assert.Equal(TestData.Sha256(Big), Convert.ToHexString(hash.GetHashAndReset()));
    }

    [Fact]
    public async Task A_small_chunked_upload_is_echoed_back_equal()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        await tunnel.SendAsync($"POST /echo HTTP/1.1\r\nHost: {kit.Authority}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n");
        TunnelResponse echoed = await tunnel.ReadResponseAsync();
        Assert.Equal(200, echoed.Status);
        Assert.Equal("hello world!", echoed.Text);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status); // and the tunnel goes on
    }

    [Fact]
    public async Task A_web_socket_upgrade_inside_an_inspected_tunnel_carries_messages_both_ways()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/ws"]));
        X509Certificate2? shown = null;
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(proxy.Uri);
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            shown = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return shown?.Issuer == kit.Ca.Subject;
        };

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"wss://{kit.Authority}/ws"), timeout.Token);
        Assert.Equal(kit.Ca.Subject, shown!.Issuer);
        for (int i = 0; i < 3; i++)
        {
            string text = $"message {i} through inspection";
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
            Assert.Equal(text, Encoding.UTF8.GetString(await ReceiveAsync(socket, timeout.Token)));
        }

        byte[] large = new byte[300_000];
        TestData.Fill(large, 7);
        await socket.SendAsync(large, WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        byte[] echoed = await ReceiveAsync(socket, timeout.Token);
        Assert.True(large.AsSpan().SequenceEqual(echoed), "the binary message came back different");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal("bye", socket.CloseStatusDescription);

        string upgrade = await proxy.AccessLog.WaitForAsync(l => l.Contains("/ws "), "for the upgraded request");
        Assert.Contains(" TCP_MISS/101 ", upgrade);
        Assert.Contains($" GET https://{kit.Authority}/ws ", upgrade);
        await proxy.AccessLog.WaitForAsync(l => l.Contains(" NONE_NONE/200 ") && l.Contains($" CONNECT {kit.Authority} "), "for the CONNECT after the session");
    }

    [Fact]
    public async Task A_web_socket_upgrade_on_a_denied_path_is_403_inside_the_tunnel()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello"]));
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(proxy.Uri);
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == kit.Ca.Subject;
        socket.Options.CollectHttpResponseDetails = true;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"wss://{kit.Authority}/ws"), timeout.Token));
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    private static async Task<byte[]> ReceiveAsync(WebSocket socket, CancellationToken ct)
    {
        using var message = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, ct);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return message.ToArray();
            }
        }
    }

    /// <summary>An origin that answers one request per connection, then closes it; <paramref name="say"/> adds Connection: close.</summary>
    private static TlsOrigin OneRequestPerConnection(X509Certificate2 certificate, bool say, TaskCompletionSource? closed = null)
    {
        TlsOrigin? origin = null;
        origin = TlsOrigin.Start(certificate, async (tls, number) =>
        {
            if (await origin!.ReadRequestAsync(tls) is null)
            {
                return;
            }

            string body = $"connection {number}";
            await TlsOrigin.WriteAsync(tls, $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n{(say ? "Connection: close\r\n" : "")}\r\n{body}");
            await tls.ShutdownAsync(); // close_notify
            await tls.DisposeAsync(); // and FIN
            closed?.TrySetResult();
        });
        return origin;
    }

    [Fact]
    public async Task An_origin_that_answers_connection_close_gets_a_new_connection_for_the_next_request()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = OneRequestPerConnection(certificate, say: true);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);

        TunnelResponse first = await tunnel.GetAsync("/one");
        Assert.Equal("connection 1", first.Text);
        Assert.Null(first.Field("Connection")); // the origin's close is hop-by-hop: the client's tunnel stays open
        Assert.Equal("connection 2", (await tunnel.GetAsync("/two")).Text);
        Assert.Equal("connection 3", (await tunnel.SendBodyAsync("POST", "/three", "body"u8.ToArray())).Text);
        Assert.Equal(3, origin.Connections);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    public async Task An_origin_that_closes_its_idle_connection_silently_gets_a_new_one_for_the_next_request(string method)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TlsOrigin origin = OneRequestPerConnection(certificate, say: false, closed);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);

        Assert.Equal("connection 1", (await tunnel.GetAsync("/one")).Text);
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(500); // close_notify and FIN are on their way over loopback: a head start, not a timing assertion

        TunnelResponse second = method == "GET" ? await tunnel.GetAsync("/two") : await tunnel.SendBodyAsync("POST", "/two", "a body that cannot be sent twice"u8.ToArray());
        Assert.True(second.Status == 200, $"{method} after the origin closed its idle connection: {second}");
        Assert.Equal("connection 2", second.Text);
        Assert.Equal(2, origin.Connections);
    }

    [Fact]
    public async Task A_close_delimited_origin_response_reaches_the_client_chunked_and_the_tunnel_goes_on()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        TlsOrigin? untilClose = null;
        untilClose = TlsOrigin.Start(certificate, async (tls, number) =>
        {
            if (await untilClose!.ReadRequestAsync(tls) is not null)
            {
                await TlsOrigin.WriteAsync(tls, $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody {number} ends with the connection");
                await tls.ShutdownAsync();
            }
        });
        await using TlsOrigin origin = untilClose;
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);

        TunnelResponse first = await tunnel.GetAsync("/");
        Assert.Equal("chunked", first.Field("Transfer-Encoding"));
        Assert.Equal("body 1 ends with the connection", first.Text);
        Assert.Equal("body 2 ends with the connection", (await tunnel.GetAsync("/")).Text);
        Assert.Equal(2, origin.Connections);
    }

    [Fact]
    public async Task A_reopened_origin_connection_goes_to_the_address_checked_for_the_connect()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = OneRequestPerConnection(certificate, say: true);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);
        Assert.Equal("connection 1", (await tunnel.GetAsync("/one")).Text);
        int lookups = proxy.Resolver.Lookups;

        // The name now points elsewhere (nothing listens there): the tunnel's origin is still the one checked.
        proxy.Resolver.Map(InspectionKit.OriginName, IPAddress.Parse("127.0.0.2"));
        TunnelResponse second = await tunnel.GetAsync("/two");
        Assert.True(second.Status == 200, second.ToString());
        Assert.Equal("connection 2", second.Text);
        Assert.Equal(lookups, proxy.Resolver.Lookups);
    }
}
