using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// An inspecting rule with <c>via:</c>: the origin TLS goes through the parent's CONNECT, and so does every origin
/// connection the tunnel opens again.
/// </summary>
public sealed class InspectionThroughParentTests
{
    /// <summary>A parent proxy that answers CONNECT host:port by relaying to 127.0.0.1:port, recording each target.</summary>
    private sealed class RelayingParent : IAsyncDisposable
    {
        private readonly RawOrigin _listener;

        public RelayingParent() => _listener = RawOrigin.Start(ServeAsync);

        public int Port => _listener.Port;

        public ConcurrentQueue<string> Connects { get; } = new();

        private async Task ServeAsync(NetworkStream client, Socket socket)
        {
            var head = new StringBuilder();
            byte[] one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await client.ReadAsync(one) == 0)
                {
                    return;
                }

                head.Append((char)one[0]);
            }

            string target = head.ToString().Split(' ')[1];
            Connects.Enqueue(target);
            int port = int.Parse(target[(target.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            using var upstream = new TcpClient();
            await upstream.ConnectAsync(IPAddress.Loopback, port);
            NetworkStream origin = upstream.GetStream();
            await client.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray());
            Task up = RelayAsync(client, origin, upstream.Client);
            Task down = RelayAsync(origin, client, socket);
            await Task.WhenAll(up, down);
        }

        private static async Task RelayAsync(Stream from, Stream to, Socket toSocket)
        {
            try
            {
                await from.CopyToAsync(to);
                toSocket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
            }
        }

        public ValueTask DisposeAsync() => _listener.DisposeAsync();
    }

    private static Func<SluiceConfig, SluiceConfig> Through(RelayingParent parent) => c => c with
    {
        Upstreams = [new UpstreamConfig { Name = "corp", Proxies = [new ParentProxyAddress("http", new HostPort("parent.test", null, parent.Port))] }],
    };

    private static Rule InspectVia(string[]? paths = null) => InspectionKit.Inspect(paths: paths) with { Via = "corp" };

    [Fact]
    public async Task An_inspected_tunnel_via_a_parent_reaches_the_origin_through_the_parents_connect()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using RelayingParent parent = new();
        await using TestProxy proxy = await kit.ProxyAsync(Through(parent), InspectVia(paths: ["/hello"]));
        proxy.Resolver.Map("parent.test", IPAddress.Loopback);
        await using (TunnelClient tunnel = await kit.OpenAsync(proxy))
        {
            Assert.Equal(kit.Ca.Subject, tunnel.Presented!.Issuer);
            Assert.Equal("hello from origin", (await tunnel.GetAsync("/hello")).Text);
            Assert.Equal(403, (await tunnel.GetAsync("/headers")).Status);
        }

        Assert.Equal([kit.Authority], parent.Connects.ToArray());
        await proxy.StopAsync();
        string[] lines = [.. proxy.AccessLog.Lines];
        Assert.Contains(lines, l => l.Contains(" TCP_MISS/200 ") && l.Contains($"https://{kit.Authority}/hello") && l.Contains("parent.test"));
        Assert.Contains(lines, l => l.Contains(" NONE_NONE/200 ") && l.Contains($" CONNECT {kit.Authority} ") && l.Contains("parent.test"));
    }

    [Fact]
    public async Task An_origin_connection_opened_again_goes_through_the_parent_again()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        TlsOrigin? closing = null;
        closing = TlsOrigin.Start(certificate, async (tls, number) =>
        {
            if (await closing!.ReadRequestAsync(tls) is not null)
            {
                await TlsOrigin.WriteAsync(tls, $"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{number}");
            }
        });
        await using TlsOrigin origin = closing;
        await using RelayingParent parent = new();
        await using TestProxy proxy = await kit.ProxyAsync(Through(parent), InspectVia());
        proxy.Resolver.Map("parent.test", IPAddress.Loopback);
        string authority = $"{InspectionKit.OriginName}:{origin.Port}";
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, authority, kit.Ca);

        Assert.Equal("1", (await tunnel.GetAsync("/")).Text);
        Assert.Equal("2", (await tunnel.GetAsync("/")).Text);
        Assert.Equal([authority, authority], parent.Connects.ToArray());
    }
}
