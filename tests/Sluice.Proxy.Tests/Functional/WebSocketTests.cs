using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>WebSocket through the proxy: ClientWebSocket (ws:// and wss://) and the absolute-form Upgrade path from a raw socket.</summary>
public sealed class WebSocketTests : IAsyncLifetime
{
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _proxy = await TestProxy.StartAsync();
        _proxy.Resolver.Map("ws.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Client_web_socket_over_ws_exchanges_messages_both_ways_over_time()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(_proxy.Uri);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await ConnectAsync(socket, new Uri($"ws://ws.test:{origin.Port}/ws"), timeout.Token);
        await ConverseAsync(socket, timeout.Token);

        // .NET sends even plain ws:// through a proxy as a CONNECT tunnel; the absolute-form path is tested below.
        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains($"ws.test:{origin.Port}"), "for the ws:// session after it closed");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
        Assert.Contains($" CONNECT ws.test:{origin.Port} ", line);
    }

    [Fact]
    public async Task Client_web_socket_over_wss_exchanges_messages_both_ways_over_time()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync(tls: true, certificateName: "secure.test");
        string trusted = origin.Certificate!.GetCertHashString();
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(_proxy.Uri);
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == trusted;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await ConnectAsync(socket, new Uri($"wss://secure.test:{origin.Port}/ws"), timeout.Token);
        await ConverseAsync(socket, timeout.Token);

        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains($" CONNECT secure.test:{origin.Port} "), "for the wss:// tunnel after it closed");
        Assert.Contains(" TCP_TUNNEL/200 ", line);
    }

    [Fact]
    public async Task Absolute_form_upgrade_gets_101_and_then_carries_web_socket_frames()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        using RawClient client = await RawClient.ConnectAsync(_proxy.Endpoint);
        string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        await client.SendAsync(
            $"GET http://ws.test:{origin.Port}/ws HTTP/1.1\r\n" +
            $"Host: ws.test:{origin.Port}\r\n" +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\n" +
            "Sec-WebSocket-Version: 13\r\n" +
            "\r\n");

        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.Contains("\r\nUpgrade: websocket\r\n", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nConnection: Upgrade\r\n", head, StringComparison.OrdinalIgnoreCase);
#pragma warning disable CA5350 // RFC 6455 §4.2.2 defines Sec-WebSocket-Accept with SHA-1; not a security use here.
        string expectedAccept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        Assert.Contains($"\r\nSec-WebSocket-Accept: {expectedAccept}\r\n", head);

        using WebSocket socket = WebSocket.CreateFromStream(client.Stream, new WebSocketCreationOptions { IsServer = false });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await ConverseAsync(socket, timeout.Token);

        string line = await _proxy.AccessLog.WaitForAsync(l => l.Contains($" GET http://ws.test:{origin.Port}/ws "), "for the upgraded GET after the WebSocket closed");
        Assert.Contains(" TCP_MISS/101 ", line);
    }

    private static async Task ConnectAsync(ClientWebSocket socket, Uri uri, CancellationToken ct)
    {
        try
        {
            await socket.ConnectAsync(uri, ct);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the WebSocket handshake with {uri} through the proxy did not complete");
        }
    }

    /// <summary>Several round trips with pauses, text and binary, a large message, then a clean close handshake.</summary>
    private static async Task ConverseAsync(WebSocket socket, CancellationToken ct)
    {
        for (int i = 0; i < 4; i++)
        {
            string text = $"message {i} over the proxy";
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, ct);
            (WebSocketMessageType type, byte[] echoed) = await ReceiveMessageAsync(socket, ct);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(text, Encoding.UTF8.GetString(echoed));
            await Task.Delay(TimeSpan.FromSeconds(0.5), ct);
        }

        byte[] large = new byte[200_000];
        TestData.Fill(large, 42);
        await socket.SendAsync(large, WebSocketMessageType.Binary, endOfMessage: true, ct);
        (WebSocketMessageType largeType, byte[] largeEcho) = await ReceiveMessageAsync(socket, ct);
        Assert.Equal(WebSocketMessageType.Binary, largeType);
        Assert.True(large.AsSpan().SequenceEqual(largeEcho), "the 200 kB binary message came back different");

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", ct);
        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal("bye", socket.CloseStatusDescription);
    }

    private static async Task<(WebSocketMessageType, byte[])> ReceiveMessageAsync(WebSocket socket, CancellationToken ct)
    {
        using var message = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer, ct);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"the echo did not come back through the proxy (received {message.Length} bytes of it)");
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new Xunit.Sdk.XunitException($"the WebSocket was closed ({result.CloseStatus} {result.CloseStatusDescription}) instead of echoing");
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }
}
