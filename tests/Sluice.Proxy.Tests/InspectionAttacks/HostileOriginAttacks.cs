using System.Net;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Tests.Inspection;

namespace Sluice.Proxy.Tests.InspectionAttacks;

/// <summary>Origins behind an inspected tunnel that lie about who they are or how their responses are framed.</summary>
public sealed class HostileOriginAttacks
{
    private const string Host = "hostile.test";

    internal static Rule InspectHost(string host, string[]? paths = null) => new()
    {
        Name = "inspect-" + host,
        Action = RuleAction.Allow,
        Destinations = [InspectionKit.Pattern(host)],
        Tls = TlsMode.Inspect,
        Paths = [.. (paths ?? []).Select(InspectionKit.PathEntry)],
    };

    private static async Task<TestProxy> ProxyFor(InspectionKit kit, string host = Host)
    {
        TestProxy proxy = await kit.ProxyAsync(InspectHost(host), InspectionKit.Inspect());
        proxy.Resolver.Map(host, IPAddress.Loopback);
        return proxy;
    }

    private static async Task<string> ConnectHeadAsync(TestProxy proxy, int port, string host = Host)
    {
        (string head, RawClient raw) = await InsideClient.ConnectAsync(proxy, $"{host}:{port}");
        raw.Dispose();
        return head;
    }

    [Fact]
    public async Task An_origin_certificate_for_another_name_answers_the_CONNECT_with_502()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        using X509Certificate2 leaf = certs.Leaf("CN=other.test", ["other.test"]);
        await using var origin = new TlsOrigin(OriginCerts.Context(leaf), TlsOrigin.Echo);
        await using TestProxy proxy = await ProxyFor(kit);

        string head = await ConnectHeadAsync(proxy, origin.Port);
        Assert.StartsWith("HTTP/1.1 502", head);
        Assert.Contains("tls_certificate_error", head);
        Assert.Empty(origin.Heads);
    }

    [Fact]
    public async Task An_origin_certificate_with_only_a_common_name_and_no_SAN_is_refused()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        using X509Certificate2 leaf = certs.Leaf($"CN={Host}", []);
        await using var origin = new TlsOrigin(OriginCerts.Context(leaf), TlsOrigin.Echo);
        await using TestProxy proxy = await ProxyFor(kit);

        string head = await ConnectHeadAsync(proxy, origin.Port);
        Assert.StartsWith("HTTP/1.1 502", head);
        Assert.Contains("tls_certificate_error", head);
    }

    [Fact]
    public async Task An_origin_chain_missing_its_intermediate_is_refused()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        using X509Certificate2 intermediate = certs.Intermediate("CN=Hostile Intermediate");
        using X509Certificate2 leaf = certs.Leaf($"CN={Host}", [Host], issuer: intermediate);
        await using var origin = new TlsOrigin(OriginCerts.Context(leaf), TlsOrigin.Echo); // the intermediate is not sent
        await using TestProxy proxy = await ProxyFor(kit);

        string head = await ConnectHeadAsync(proxy, origin.Port);
        Assert.StartsWith("HTTP/1.1 502", head);
        Assert.Contains("tls_certificate_error", head);

        // and with the intermediate sent, the same leaf is fine (the refusal was for the missing link)
        await using var whole = new TlsOrigin(OriginCerts.Context(leaf, intermediate), TlsOrigin.Echo);
        (string ok, RawClient raw) = await InsideClient.ConnectAsync(proxy, $"{Host}:{whole.Port}");
        raw.Dispose();
        Assert.StartsWith("HTTP/1.1 200", ok);
    }

    [Fact]
    public async Task An_origin_certificate_only_for_client_authentication_is_refused()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        using X509Certificate2 leaf = certs.Leaf($"CN={Host}", [Host], serverAuth: false);
        await using var origin = new TlsOrigin(OriginCerts.Context(leaf), TlsOrigin.Echo);
        await using TestProxy proxy = await ProxyFor(kit);

        string head = await ConnectHeadAsync(proxy, origin.Port);
        Assert.StartsWith("HTTP/1.1 502", head);
    }

    [Fact]
    public async Task An_origin_that_resets_mid_handshake_answers_the_CONNECT_with_502_and_the_proxy_goes_on()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using var origin = RawOrigin.Start(async (stream, socket) =>
        {
            byte[] buffer = new byte[100];
            await stream.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false); // part of the ClientHello
            socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            socket.Close();
        });
        await using TestProxy proxy = await ProxyFor(kit);

        string head = await ConnectHeadAsync(proxy, origin.Port);
        Assert.StartsWith("HTTP/1.1 502", head);
        Assert.Contains("tls_protocol_error", head);

        using HttpClient client = kit.Client(proxy);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(kit.Url("/hello"))).StatusCode);
    }

    /// <summary>Opens an inspected tunnel to a TLS origin that serves with <paramref name="serve"/>, sends one GET.</summary>
    private static async Task<(InsideClient Inside, TlsOrigin Origin, TestProxy Proxy)> OneRequestAsync(InspectionKit kit, OriginCerts certs, Func<TlsOrigin.Exchange, Task> serve, string request = "GET /x HTTP/1.1\r\nHost: {authority}\r\n\r\n")
    {
        X509Certificate2 leaf = certs.Leaf($"CN={Host}", [Host]);
        var origin = new TlsOrigin(OriginCerts.Context(leaf), serve);
        TestProxy proxy = await ProxyFor(kit);
        string authority = $"{Host}:{origin.Port}";
        InsideClient inside = await InsideClient.OpenAsync(proxy, authority, kit.Ca);
        await inside.SendAsync(request.Replace("{authority}", authority));
        return (inside, origin, proxy);
    }

    [Theory]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")] // an h2 preface instead of a response
    [InlineData("\0\0\x12\x04\0\0\0\0\0")] // an h2 SETTINGS frame
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\nContent-Length: 0\r\n\r\n")]
    public async Task A_response_the_proxy_cannot_frame_safely_is_a_502_and_nothing_of_it_is_relayed(string answer)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        (InsideClient inside, TlsOrigin origin, TestProxy proxy) = await OneRequestAsync(kit, certs, async x =>
        {
            await x.ReadHeadAsync();
            await x.WriteAsync(answer);
            x.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send); // an unfinished head ends here, not at the idle timeout
            await x.ReadHeadAsync(); // keep the connection until the proxy drops it
        });
        await using (proxy)
        await using (origin)
        using (inside)
        {
            string? head = await inside.ReadHeadAsync();
            Assert.NotNull(head);
            if (head!.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
            {
                // CL+TE read as chunked (RFC 9112 §6.3) is acceptable only if the body is the chunked one and nothing else follows
                (string rest, _, _) = await inside.ReadToEndAsync(3000);
                Assert.DoesNotContain("HTTP/1.1", rest);
                return;
            }

            Assert.StartsWith("HTTP/1.1 502", head);
            Assert.DoesNotContain("raw bytes", head);
        }
    }

    [Fact]
    public async Task A_huge_response_head_is_a_502_not_a_relay()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        (InsideClient inside, TlsOrigin origin, TestProxy proxy) = await OneRequestAsync(kit, certs, async x =>
        {
            await x.ReadHeadAsync();
            await x.WriteAsync("HTTP/1.1 200 OK\r\n");
            for (int i = 0; i < 200; i++)
            {
                await x.WriteAsync($"X-Filler-{i}: {new string('a', 1000)}\r\n");
            }

            await x.WriteAsync("Content-Length: 0\r\n\r\n");
        });
        await using (proxy)
        await using (origin)
        using (inside)
        {
            string? head = await inside.ReadHeadAsync();
            Assert.NotNull(head);
            Assert.StartsWith("HTTP/1.1 502", head);
        }
    }

    [Fact]
    public async Task An_origin_that_closes_after_the_head_leaves_the_client_an_error_not_a_clean_end()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        (InsideClient inside, TlsOrigin origin, TestProxy proxy) = await OneRequestAsync(kit, certs, async x =>
        {
            await x.ReadHeadAsync();
            await x.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this");
            x.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        });
        await using (proxy)
        await using (origin)
        using (inside)
        {
            string? head = await inside.ReadHeadAsync();
            Assert.NotNull(head);
            Assert.StartsWith("HTTP/1.1 200", head);
            (string body, bool clean, bool timedOut) = await inside.ReadToEndAsync();
            Assert.False(timedOut);
            Assert.True(body.Length < 1000);
            Assert.False(clean, "a truncated body ended with a clean TLS close");
        }
    }

    [Fact]
    public async Task A_chunked_body_cut_short_reaches_an_HTTP10_client_as_an_error_not_a_clean_end()
    {
        // An HTTP/1.0 client reads the body until the connection ends: only an unclean end tells it the body is short.
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        (InsideClient inside, TlsOrigin origin, TestProxy proxy) = await OneRequestAsync(kit, certs, async x =>
        {
            await x.ReadHeadAsync();
            await x.WriteAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n100\r\npart");
            x.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        }, "GET /x HTTP/1.0\r\nHost: {authority}\r\n\r\n");
        await using (proxy)
        await using (origin)
        using (inside)
        {
            string? head = await inside.ReadHeadAsync();
            Assert.NotNull(head);
            Assert.StartsWith("HTTP/1.1 200", head);
            (string body, bool clean, bool timedOut) = await inside.ReadToEndAsync();
            Assert.False(timedOut);
            Assert.StartsWith("hello", body);
            Assert.False(clean, "a truncated body ended with a clean TLS close");
        }
    }

    [Fact]
    public async Task Bytes_an_origin_sends_after_its_response_never_answer_the_next_request_in_the_tunnel()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using var certs = new OriginCerts(kit.Origins);
        TlsOrigin? originRef = null;
        (InsideClient inside, TlsOrigin origin, TestProxy proxy) = await OneRequestAsync(kit, certs, async x =>
        {
            string? first = await x.ReadHeadAsync();
            if (x.Connection == 1)
            {
                await x.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                await Task.Delay(300); // after the proxy has relayed the response and kept the connection
                await x.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Smuggled: yes\r\n\r\nsmuggled");
                originRef!.Signal.TrySetResult();
            }
            else if (first is not null)
            {
                await x.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"); // a new connection: its first request
            }

            while (await x.ReadHeadAsync() is { } head)
            {
                await x.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh");
            }
        });
        originRef = origin;
        await using (proxy)
        await using (origin)
        using (inside)
        {
            (string? head, string body) = await inside.ReadResponseAsync();
            Assert.StartsWith("HTTP/1.1 200", head);
            Assert.Equal("ok", body);
            await origin.Signal.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await Task.Delay(200); // the late bytes are in the proxy's socket buffer

            await inside.SendAsync($"GET /second HTTP/1.1\r\nHost: {Host}:{origin.Port}\r\n\r\n");
            (string? second, string secondBody) = await inside.ReadResponseAsync();
            Assert.NotNull(second);
            Assert.DoesNotContain("X-Smuggled", second);
            Assert.Equal("fresh", secondBody); // from a new origin connection: the one that spoke out of turn was dropped
        }
    }
}
