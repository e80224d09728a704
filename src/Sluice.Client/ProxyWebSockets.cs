using System.Net.WebSockets;

namespace Sluice.Client;

/// <summary>WebSockets through the same proxy settings as HTTP.</summary>
public static class ProxyWebSockets
{
    /// <summary>Connects <paramref name="uri"/> (ws:// or wss://) through the proxy, or directly when excluded.</summary>
    public static async Task<ClientWebSocket> ConnectAsync(Uri uri, ProxySettings? settings, Action<ClientWebSocketOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        try
        {
            // The HttpClient overload lets the WebSocket use the same handler, with its proxy-leg TLS and bypass list.
            using var invoker = new HttpMessageInvoker(ProxyHandlerFactory.Create(settings));
            await socket.ConnectAsync(uri, invoker, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
