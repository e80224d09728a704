using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Forwarding;

/// <summary>
/// Both ways a forwarded body counted by Content-Length (a request's or a response's) or ended by the origin's close moves, splice(2)
/// between plain sockets (on Linux) and the buffer copy, must give the same result: every byte, never one beyond
/// the body, counts in the access log true, a truncated body cuts the client's connection, the origin's connection
/// pooled only when nothing followed the body.
/// </summary>
public sealed class ForwardedBodyModesTests
{
    private const int Size = 16 * 1024 * 1024;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_16_MiB_body_arrives_exact_and_the_origin_connection_serves_the_next_request(bool splice)
    {
        Assert.True(!splice || !OperatingSystem.IsLinux() || Sluice.Proxy.Tunnels.SplicePipe.IsSupported, "splice(2) should be available on Linux");
        int connections = 0;
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Interlocked.Increment(ref connections);
            while (await StreamHeads.ReadHeadAsync(stream) is { } request)
            {
                long size = request.Contains("/small", StringComparison.Ordinal) ? 5 : Size;
                await WriteBodyAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n", size);
            }
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(Get(origin, "/big"));
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Equal(TestData.Sha256(Size), await HashAsync(client.Stream, Size));

        await client.SendAsync(Get(origin, "/small"));
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        Assert.Equal(TestData.Sha256(5), await HashAsync(client.Stream, 5));
        Assert.Equal(1, Volatile.Read(ref connections)); // the origin's connection went back to the pool and was taken again

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("/big", StringComparison.Ordinal), "the big response's line");
        Assert.Contains("TCP_MISS/200", line);
        Assert.Equal(head.Length + Size, LoggedBytes(line)); // head and body to the client, exactly
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Bytes_an_origin_sends_after_the_body_never_reach_the_client_and_its_connection_is_not_reused(bool splice)
    {
        int connections = 0;
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Interlocked.Increment(ref connections);
            while (await StreamHeads.ReadHeadAsync(stream) is { } _)
            {
                // The body and a forged second response in one stream of writes, the forgery straddling pipe-sized reads.
                await WriteBodyAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 100_000);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"u8.ToArray());
            }
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        for (int round = 0; round < 2; round++)
        {
            await client.SendAsync(Get(origin, $"/round{round}"));
            Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
            Assert.Equal(TestData.Sha256(100_000), await HashAsync(client.Stream, 100_000));
        }

        Assert.Equal(0, client.Socket.Available); // nothing beyond the two bodies, the forged answers included
        Assert.Equal(2, Volatile.Read(ref connections)); // the first origin connection had bytes left over: closed, not pooled
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_body_the_origin_cuts_short_cuts_the_client_connection_and_is_logged_with_what_was_passed_on(bool splice)
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await WriteBodyAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {Size}\r\n\r\n", Size / 2);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(Get(origin, "/cut"));
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 200", head);
        byte[] rest = await client.ReadToEndAsync(30_000); // the end comes as a reset: never a clean end of a body cut short

        Assert.True(rest.Length <= Size / 2, $"{rest.Length} bytes after the head");
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("/cut", StringComparison.Ordinal), "the cut response's line");
        Assert.Equal(head.Length + (Size / 2), LoggedBytes(line)); // every byte the origin sent was passed on before the cut
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_body_ended_by_the_origins_close_reaches_an_http_1_0_client_whole_and_then_the_close(bool splice)
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await WriteBodyAsync(stream, "HTTP/1.0 200 OK\r\n\r\n", Size);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://origin.test:{origin.Port}/whole HTTP/1.0\r\nHost: origin.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        Assert.Equal(TestData.Sha256(Size), await HashAsync(client.Stream, Size));
        Assert.Empty(await client.ReadToEndAsync(30_000));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_client_that_leaves_in_the_middle_of_a_body_is_logged_and_leaves_nothing_open(bool splice)
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await WriteBodyAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {Size}\r\n\r\n", Size);
        });
        await using TestProxy proxy = await Start(splice);

        using (RawClient client = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await client.SendAsync(Get(origin, "/left"));
            Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
            await client.ReadExactlyAsync(1024 * 1024);
            client.Socket.LingerState = new LingerOption(true, 0); // leave with a reset, unread bytes and all
        }

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("/left", StringComparison.Ordinal), "the line of the response the client left");
        Assert.Contains("TCP_MISS/200", line);
        await Parents.ParentKit.EventuallyAsync(() => proxy.OpenConnections == 0, "the client's connection closing in the proxy");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_16_MiB_upload_arrives_exact_and_the_request_written_right_behind_it_is_read_as_the_next_one(bool splice)
    {
        int connections = 0;
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Interlocked.Increment(ref connections);
            while (await StreamHeads.ReadHeadAsync(stream) is { } request)
            {
                received.Enqueue($"{request.Split(' ')[1]} {await HashAsync(stream, StreamHeads.ContentLength(request))}");
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
            }
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        // The next request leaves in the body's last write: a body taken beyond its length would swallow it.
        await WriteBodyAsync(client.Stream, Post(origin, "/up", Size), Size, after: Get(origin, "/next"));
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        Assert.Equal("ok"u8.ToArray(), await client.ReadExactlyAsync(2));
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync());
        Assert.Equal("ok"u8.ToArray(), await client.ReadExactlyAsync(2));

        Assert.Equal([$"/up {TestData.Sha256(Size)}", $"/next {TestData.Sha256(0)}"], received);
        Assert.Equal(1, Volatile.Read(ref connections)); // the origin's connection served both
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_origin_that_answers_early_and_keeps_its_connection_gets_the_whole_upload_and_the_connections_go_on(bool splice)
    {
        // nginx's `return 204` for a POST does this: the answer goes out at once, the body is read and discarded after.
        int connections = 0;
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            Interlocked.Increment(ref connections);
            while (await StreamHeads.ReadHeadAsync(stream) is { } request)
            {
                await stream.WriteAsync(request.StartsWith("POST", StringComparison.Ordinal)
                    ? "HTTP/1.1 204 No Content\r\n\r\n"u8.ToArray()
                    : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
                received.Enqueue($"{request.Split(' ')[1]} {await HashAsync(stream, StreamHeads.ContentLength(request))}");
            }
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        Task uploading = WriteBodyAsync(client.Stream, Post(origin, "/early", Size), Size);
        Assert.StartsWith("HTTP/1.1 204", await client.ReadHeadAsync(30_000));
        await uploading.WaitAsync(TimeSpan.FromSeconds(60)); // the proxy took the whole body: no broken pipe

        await client.SendAsync(Get(origin, "/after"));
        Assert.StartsWith("HTTP/1.1 200", await client.ReadHeadAsync(30_000));
        Assert.Equal("ok"u8.ToArray(), await client.ReadExactlyAsync(2));
        Assert.Equal([$"/early {TestData.Sha256(Size)}", $"/after {TestData.Sha256(0)}"], received);
        Assert.Equal(1, Volatile.Read(ref connections));
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("/early", StringComparison.Ordinal), "the early answer's line");
        Assert.Contains("TCP_MISS/204", line);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_origin_that_answers_early_and_then_reads_nothing_has_the_upload_cut_at_the_idle_timeout(bool splice)
    {
        var clientDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var originSaw = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await stream.WriteAsync("HTTP/1.1 204 No Content\r\n\r\n"u8.ToArray());
            await clientDone.Task; // reads nothing more until the proxy has given up on the client
            originSaw.TrySetResult(await CountToEndAsync(stream)); // ends only if the proxy closed this connection too
        });
        await using TestProxy proxy = await Start(splice, idle: TimeSpan.FromSeconds(1));

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        Task uploading = WriteBodyAsync(client.Stream, Post(origin, "/stuck-upload", Size), Size);
        Assert.StartsWith("HTTP/1.1 204", await client.ReadHeadAsync(30_000));
        await client.ReadToEndAsync(30_000); // the body cannot all be passed on: the client's connection ends
        await Assert.ThrowsAnyAsync<Exception>(() => uploading.WaitAsync(TimeSpan.FromSeconds(30)));
        clientDone.SetResult();
        Assert.True(await originSaw.Task.WaitAsync(TimeSpan.FromSeconds(30)) < Size, "the origin got the whole body");
        await Parents.ParentKit.EventuallyAsync(() => proxy.OpenConnections == 0, "the client's connection closing in the proxy");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_upload_the_client_cuts_short_is_answered_400_and_the_origin_never_gets_a_body_passed_as_whole(bool splice)
    {
        var originSaw = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            originSaw.TrySetResult(await CountToEndAsync(stream));
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await WriteBodyAsync(client.Stream, Post(origin, "/cut-upload", Size), Size / 2);
        client.ShutdownSend();

        string head = await client.ReadHeadAsync(30_000);
        Assert.StartsWith("HTTP/1.1 400", head);
        Assert.Contains("error=http_request_error", head);
        long atOrigin = await originSaw.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(atOrigin <= Size / 2, $"the origin got {atOrigin} body bytes of the {Size / 2} sent");
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("/cut-upload", StringComparison.Ordinal), "the cut upload's line");
        Assert.Contains("/400 ", line);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_origin_that_answers_before_the_upload_is_done_is_relayed_and_the_client_connection_closed_after_it(bool splice)
    {
        await using RawOrigin origin = RawOrigin.Start(async (stream, socket) =>
        {
            await StreamHeads.ReadHeadAsync(stream);
            await stream.WriteAsync("HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbig!"u8.ToArray());
            await CountToEndAsync(stream); // reads on, so the proxy sees its answer before any reset
        });
        await using TestProxy proxy = await Start(splice);

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        Task uploading = WriteBodyAsync(client.Stream, Post(origin, "/too-big", Size), Size);
        Assert.StartsWith("HTTP/1.1 413", await client.ReadHeadAsync(30_000));
        Assert.Equal("big!"u8.ToArray(), await client.ReadExactlyAsync(4));
        await client.ReadToEndAsync(30_000); // the rest of the body was never read: the connection cannot carry another request
        await Assert.ThrowsAnyAsync<Exception>(() => uploading.WaitAsync(TimeSpan.FromSeconds(30)));
        await Parents.ParentKit.EventuallyAsync(() => proxy.OpenConnections == 0, "the client's connection closing in the proxy");
    }

    private static Task<TestProxy> Start(bool splice, TimeSpan? idle = null)
    {
        var resolver = new MapResolver();
        resolver.Map("origin.test", IPAddress.Loopback);
        return TestProxy.StartAsync(c => idle is { } limit ? c with { Timeouts = c.Timeouts with { Idle = limit } } : c, resolver, splice: splice);
    }

    private static string Get(RawOrigin origin, string path) =>
        $"GET http://origin.test:{origin.Port}{path} HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\n\r\n";

    private static string Post(RawOrigin origin, string path, long length) =>
        $"POST http://origin.test:{origin.Port}{path} HTTP/1.1\r\nHost: origin.test:{origin.Port}\r\nContent-Length: {length}\r\n\r\n";

    /// <summary>Body bytes until the peer closes or resets.</summary>
    private static async Task<long> CountToEndAsync(NetworkStream stream)
    {
        byte[] buffer = new byte[65_536];
        long count = 0;
        try
        {
            for (int n; (n = await stream.ReadAsync(buffer)) > 0;)
            {
                count += n;
            }
        }
        catch (IOException)
        {
            // reset: the end all the same
        }

        return count;
    }

    private static long LoggedBytes(string squidLine) =>
        long.Parse(squidLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4], CultureInfo.InvariantCulture);

    /// <summary>Writes the head and then the body, the body's first bytes in the head's write and the rest in odd-sized
    /// writes that straddle every buffer; <paramref name="after"/> goes in the last write.</summary>
    private static async Task WriteBodyAsync(NetworkStream stream, string head, long size, string after = "")
    {
        byte[] headBytes = Encoding.Latin1.GetBytes(head);
        byte[] chunk = new byte[headBytes.Length + 100_003];
        headBytes.CopyTo(chunk, 0);
        int first = (int)Math.Min(1000, size);
        TestData.Fill(chunk.AsSpan(headBytes.Length, first), 0);
        await stream.WriteAsync(chunk.AsMemory(0, headBytes.Length + first));
        byte[] afterBytes = Encoding.Latin1.GetBytes(after);
        for (long sent = first; sent < size;)
        {
            int n = (int)Math.Min(100_003, size - sent);
            TestData.Fill(chunk.AsSpan(0, n), sent);
            sent += n;
            ReadOnlyMemory<byte> write = sent < size || afterBytes.Length == 0 ? chunk.AsMemory(0, n) : (byte[])[.. chunk.AsSpan(0, n), .. afterBytes];
            await stream.WriteAsync(write);
        }
    }

    private static async Task<string> HashAsync(NetworkStream stream, long count)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        byte[] buffer = new byte[50_021];
        for (long left = count; left > 0;)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), deadline.Token);
            if (n == 0)
            {
                throw new Xunit.Sdk.XunitException($"the connection closed {count - left} bytes into a body of {count}");
            }

            hash.AppendData(buffer, 0, n);
            left -= n;
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
