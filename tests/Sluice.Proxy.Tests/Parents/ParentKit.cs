using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>
/// What the tests with real parent proxies share: the child Sluice's upstream configuration as YAML, clients that
/// always go through the proxy (loopback destinations included), raw exchanges and tunnels, deterministic bulk bytes,
/// a short WebSocket conversation, /metrics reading and bounded polling.
/// </summary>
internal static class ParentKit
{
    /// <summary>The names the origins answer to, for Squid's hosts file and the child's resolver.</summary>
    public static IReadOnlyDictionary<string, string> Hosts(params string[] names) =>
        names.ToDictionary(n => n, _ => "127.0.0.1", StringComparer.Ordinal);

    /// <summary>
    /// A Squid whose logs keep query strings (the tests tell their requests apart by them), with a client request
    /// buffer larger than its 512 KB default: Squid 5.7 forwarding a large request body can fill that buffer, then
    /// read the client with no room left, take the 0 it gets for the end of the connection and drop the request
    /// (TCP_MISS_ABORTED, ERR_CLIENT_GONE). curl straight to Squid loses about one 64 MiB upload in three that way.
    /// 2 MB still lost every 64 MiB upload on an idle machine (the faster the sender, the sooner the buffer fills), so
    /// the buffer holds the largest body a test sends.
    /// </summary>
    public static Task<SquidParent> SquidAsync(IReadOnlyDictionary<string, string>? hosts = null, string name = "squid-parent", string? user = null, string? password = null,
        IEnumerable<string>? deny = null, IEnumerable<string>? extraConfig = null) =>
        SquidParent.StartAsync(hosts, user, password, deny, name, ["strip_query_terms off", "client_request_buffer_max_size 64 MB", .. extraConfig ?? []]);

    /// <summary>
    /// The upstreams:, rules:, route: and default: of <paramref name="yaml"/> put into the test proxy's config (its
    /// listener, address guard and name stay); with the admin endpoint on port 0 when <paramref name="admin"/>.
    /// </summary>
    public static Func<SluiceConfig, SluiceConfig> Config(string yaml, bool admin = false, string? source = null) => c =>
    {
        SluiceConfig parsed = ConfigLoader.Parse(yaml, source ?? Path.Combine(Path.GetTempPath(), "sluice-parents.yaml"));
        return c with
        {
            Upstreams = parsed.Upstreams,
            Route = parsed.Route,
            Rules = parsed.Rules.IsDefaultOrEmpty ? c.Rules : parsed.Rules,
            Default = parsed.Rules.IsDefaultOrEmpty ? c.Default : parsed.Default,
            Admin = admin ? new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } : c.Admin,
        };
    };

    /// <summary>
    /// One upstream "corp" over <paramref name="proxies"/>; with <paramref name="viaRule"/> a rule sends every name
    /// through it (FIRSTUP_PARENT...), else route.default does (DEFAULT_PARENT).
    /// </summary>
    public static string Corp(IEnumerable<string> proxies, string? balance = null, string? more = null, bool viaRule = true)
    {
        var y = new StringBuilder();
        y.AppendLine("upstreams:");
        y.AppendLine("  - name: corp");
        y.AppendLine(CultureInfo.InvariantCulture, $"    proxies: [{string.Join(", ", proxies.Select(p => $"\"{p}\""))}]");
        if (balance is not null)
        {
            y.AppendLine(CultureInfo.InvariantCulture, $"    balance: {balance}");
        }

        if (more is not null)
        {
            foreach (string line in more.Split('\n'))
            {
                y.AppendLine("    " + line.TrimEnd('\r'));
            }
        }

        if (viaRule)
        {
            y.AppendLine("rules:");
            y.AppendLine("  - { name: out, action: allow, destinations: [\"*\", \"127.0.0.0/8\"], via: corp }");
            y.AppendLine("default: deny");
        }
        else
        {
            y.AppendLine("route: { default: corp }");
        }

        return y.ToString();
    }

    public static Task<TestProxy> ChildAsync(string yaml, bool admin = false, AccessLogFormat format = AccessLogFormat.Squid, string? source = null) =>
        ChildAsync(Config(yaml, admin, source), format);

    public static async Task<TestProxy> ChildAsync(Func<SluiceConfig, SluiceConfig> configure, AccessLogFormat format = AccessLogFormat.Squid)
    {
        TestProxy child = await TestProxy.StartAsync(configure, format: format);
        child.Resolver.Map("origin.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback).Map("ws.test", IPAddress.Loopback);
        return child;
    }

    /// <summary>An HttpClient through <paramref name="proxy"/> for every destination; trusting only <paramref name="origin"/>'s certificate for https.</summary>
    public static HttpClient Client(TestProxy proxy, X509Certificate2? origin = null, Action<SocketsHttpHandler>? configure = null)
    {
        var handler = new SocketsHttpHandler { Proxy = new AlwaysProxy(proxy.Uri), UseProxy = true };
        if (origin is not null)
        {
            string trusted = origin.GetCertHashString();
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == trusted,
            };
        }

        configure?.Invoke(handler);
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>Sends <paramref name="request"/> on a fresh connection; reads to the end with "Connection: close", else the head.</summary>
    public static async Task<string> ExchangeAsync(IPEndPoint proxy, string request)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy);
        await client.SendAsync(request);
        if (request.Contains("Connection: close", StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.Latin1.GetString(await client.ReadToEndAsync(timeoutMs: 20_000));
        }

        return await client.ReadHeadAsync(timeoutMs: 20_000);
    }

    /// <summary>CONNECT <paramref name="authority"/> through <paramref name="proxy"/>: the head of the answer, and the client when it is a 200.</summary>
    public static async Task<(string Head, RawClient? Tunnel)> ConnectAsync(IPEndPoint proxy, string authority, string? extraFields = null)
    {
        RawClient client = await RawClient.ConnectAsync(proxy);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{extraFields}\r\n");
        string head = await client.ReadHeadAsync(timeoutMs: 20_000);
        if (head.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
        {
            return (head, client);
        }

        client.Dispose();
        return (head, null);
    }

    /// <summary>CONNECT, then GET /hello with Connection: close inside the tunnel; returns what the origin answered.</summary>
    public static async Task<string> TunnelGetAsync(IPEndPoint proxy, string authority, string? extraFields = null)
    {
        (string head, RawClient? tunnel) = await ConnectAsync(proxy, authority, extraFields);
        if (tunnel is null)
        {
            throw new Xunit.Sdk.XunitException($"CONNECT {authority} was refused:\n{head}");
        }

        using (tunnel)
        {
            await tunnel.SendAsync($"GET /hello HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
            return Encoding.Latin1.GetString(await tunnel.ReadToEndAsync(timeoutMs: 20_000));
        }
    }

    /// <summary>The value of the header field <paramref name="name"/> in a raw response head, or null.</summary>
    public static string? Field(string head, string name)
    {
        foreach (string line in head.Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    public static async Task SendDeterministicAsync(Stream stream, long size, long offset, CancellationToken ct)
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

    public static async Task<(long Length, string Hash)> HashToEndAsync(Stream stream, CancellationToken ct)
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

    /// <summary>Reads exactly <paramref name="size"/> bytes (fewer if the stream ends first) and hashes them.</summary>
    public static async Task<(long Length, string Hash)> HashExactlyAsync(Stream stream, long size, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while (total < size && (n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - total)), ct)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (total, Convert.ToHexString(hash.GetHashAndReset()));
    }

    /// <summary>The SHA-256 of <paramref name="size"/> bytes of <see cref="TestData"/> starting at <paramref name="offset"/>.</summary>
    public static string DeterministicHash(long size, long offset)
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

    /// <summary>A few text and binary round trips and a clean close, on a socket whose peer echoes (TestOrigin's /ws).</summary>
    public static async Task ConverseAsync(WebSocket socket, CancellationToken ct)
    {
        for (int i = 0; i < 3; i++)
        {
            string text = $"message {i} through the parent";
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, ct);
            (WebSocketMessageType type, byte[] echoed) = await ReceiveMessageAsync(socket, ct);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(text, Encoding.UTF8.GetString(echoed));
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
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, ct);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    public static async Task<string> ScrapeAsync(TestProxy proxy)
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://{proxy.Server.AdminEndpoint}") };
        return await admin.GetStringAsync("/metrics");
    }

    /// <summary>The value of one series ("name{labels}") in a Prometheus text page, or null when it is not there.</summary>
    public static double? Value(string metrics, string series)
    {
        Match m = Regex.Match(metrics, "^" + Regex.Escape(series) + @" ([0-9.eE+-]+)$", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds, or fails saying what did not happen.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(10);
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
            {
                throw new Xunit.Sdk.XunitException($"{what} did not happen within {limit.TotalSeconds:0} s");
            }

            await Task.Delay(50);
        }
    }

    public static Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        EventuallyAsync(() => Task.FromResult(condition()), what, timeout);

    /// <summary>Fails when <paramref name="task"/> does not end within <paramref name="limit"/>, saying what did not happen.</summary>
    public static async Task<T> Within<T>(Task<T> task, TimeSpan limit, string what)
    {
        await Within((Task)task, limit, what);
        return await task;
    }

    public static async Task Within(Task task, TimeSpan limit, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(limit)) != task)
        {
            throw new Xunit.Sdk.XunitException($"{what} within {limit.TotalSeconds:0} s");
        }

        await task;
    }

    /// <summary>Sends everything through the proxy, loopback destinations included (WebProxy would bypass them).</summary>
    public sealed class AlwaysProxy(Uri proxy) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }

        public Uri GetProxy(Uri destination) => proxy;

        public bool IsBypassed(Uri host) => false;
    }

    /// <summary>A request body of <paramref name="size"/> deterministic bytes, generated as it is sent (with a Content-Length).</summary>
    public sealed class DeterministicContent(long size) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SendDeterministicAsync(stream, size, 0, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            SendDeterministicAsync(stream, size, 0, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return true;
        }
    }
}
