using System.Net;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// An origin that writes a response's head and body in two writes (Squid does) leaves a readiness event behind when
/// the proxy reads both at once; the pooled connection's idle watch wakes up on it with nothing to read and must keep
/// the connection, not close it: keep-alive to such an origin is one connection for many requests.
/// </summary>
public sealed class PoolKeepsSplitResponsesTests
{
    [Fact]
    public async Task Responses_written_in_two_writes_keep_one_upstream_connection()
    {
        int connections = 0;
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Interlocked.Increment(ref connections);
            socket.NoDelay = true;
            byte[] head = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nContent-Type: text/plain\r\n\r\n");
            byte[] body = new byte[1024];
            Array.Fill(body, (byte)'x');
            byte[] buffer = new byte[16 * 1024];
            var received = new StringBuilder();
            while (true)
            {
                int n;
                try
                {
                    n = await stream.ReadAsync(buffer);
                }
                catch (IOException)
                {
                    return;
                }

                if (n == 0)
                {
                    return;
                }

                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
                while (received.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal) is int end and >= 0)
                {
                    received.Remove(0, end + 4);
                    await stream.WriteAsync(head);
                    await stream.WriteAsync(body);
                }
            }
        });
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("split.test", IPAddress.Loopback);
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        for (int i = 0; i < 200; i++)
        {
            await client.SendAsync($"GET http://split.test:{origin.Port}/{i} HTTP/1.1\r\nHost: split.test:{origin.Port}\r\n\r\n");
            Outcome outcome = await Outcome.ReadAsync(client.Stream);
            Assert.Equal(200, outcome.Status);
            Assert.Equal(1024, outcome.Body.Length);
        }

        Assert.Equal(1, Volatile.Read(ref connections));
    }
}
