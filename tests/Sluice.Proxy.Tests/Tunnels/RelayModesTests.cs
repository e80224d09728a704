using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Tunnels;

/// <summary>
/// Both ways a tunnel moves bytes, the kernel path (splice, on Linux) and the portable buffer copy, must be exact:
/// every byte in order in both directions at once, half-close honoured, counts in the access log true.
/// </summary>
public sealed class RelayModesTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sixteen_MiB_each_way_at_once_arrive_exact_and_half_close_is_passed_on(bool splice)
    {
        const int size = 16 * 1024 * 1024;
        Assert.True(!splice || !OperatingSystem.IsLinux() || Sluice.Proxy.Tunnels.SplicePipe.IsSupported, "splice(2) should be available on Linux");
        string? originSaw = null;
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            // Hash what the client sends while sending our own stream; after the client's FIN, finish and FIN back.
            Task send = Task.Run(async () =>
            {
                byte[] chunk = new byte[100_003]; // an odd size, so writes straddle every buffer and pipe boundary
                for (long sent = 0; sent < size;)
                {
                    int n = (int)Math.Min(chunk.Length, size - sent);
                    TestData.Fill(chunk.AsSpan(0, n), sent);
                    await stream.WriteAsync(chunk.AsMemory(0, n));
                    sent += n;
                }
            });
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[70_001];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }

            originSaw = Convert.ToHexString(hash.GetHashAndReset());
            await send;
            socket.Shutdown(SocketShutdown.Send);
        });
        await using TestProxy proxy = await TestProxy.StartAsync(splice: splice);
        proxy.Resolver.Map("bulk.test", IPAddress.Loopback);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT bulk.test:{origin.Port} HTTP/1.1\r\nHost: bulk.test\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head);

        Task upload = Task.Run(async () =>
        {
            byte[] chunk = new byte[65_537];
            for (long sent = 0; sent < size;)
            {
                int n = (int)Math.Min(chunk.Length, size - sent);
                TestData.Fill(chunk.AsSpan(0, n), sent);
                await client.Stream.WriteAsync(chunk.AsMemory(0, n));
                sent += n;
            }

            client.ShutdownSend(); // half-close: the origin still answers after this
        });

        using var received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[50_021];
        long total = 0;
        int got;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while ((got = await client.Stream.ReadAsync(buffer, deadline.Token)) > 0)
        {
            received.AppendData(buffer, 0, got);
            total += got;
        }

        await upload;
        Assert.Equal(size, total);
        Assert.Equal(TestData.Sha256(size), Convert.ToHexString(received.GetHashAndReset()));
        Assert.Equal(TestData.Sha256(size), originSaw);

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains("bulk.test"), "for the tunnel");
        long logged = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(size + "HTTP/1.1 200 Connection established\r\n\r\n".Length, logged); // bytes to the client, exactly
    }
}
