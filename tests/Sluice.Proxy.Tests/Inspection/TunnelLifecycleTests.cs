using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// An inspected tunnel over its life: a ClientHello that comes with the CONNECT, many tunnels at once, an origin that
/// is silent or gone, idleness and the proxy stopping.
/// </summary>
public sealed class TunnelLifecycleTests
{
    /// <summary>Reads through the proxy's CONNECT answer first (checking it is a 200), then is the TLS client's stream.</summary>
    private sealed class AfterConnectAnswer(Stream inner) : Stream
    {
        private bool _answered;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_answered)
            {
                var head = new StringBuilder();
                byte[] one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await inner.ReadAsync(one, cancellationToken) == 0)
                    {
                        throw new IOException($"closed inside the CONNECT answer: {head}");
                    }

                    head.Append((char)one[0]);
                }

                if (!head.ToString().StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
                {
                    throw new IOException($"the CONNECT was answered {head}");
                }

                _answered = true;
            }

            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_client_hello_sent_right_behind_the_connect_is_read_after_the_origin_handshake()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
        await raw.SendAsync($"CONNECT {kit.Authority} HTTP/1.1\r\nHost: {kit.Authority}\r\n\r\n");

        // No waiting for the 200: the ClientHello follows at once, as clients that optimise the round trip do.
        await using var tls = new SslStream(new AfterConnectAnswer(raw.Stream), leaveInnerStreamOpen: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = InspectionKit.OriginName,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == kit.Ca.Subject,
        }, timeout.Token);
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET /hello HTTP/1.1\r\nHost: {kit.Authority}\r\nConnection: close\r\n\r\n"), timeout.Token);
        using var response = new MemoryStream();
        await tls.CopyToAsync(response, timeout.Token);
        string text = Encoding.ASCII.GetString(response.ToArray());
        Assert.StartsWith("HTTP/1.1 200 ", text);
        Assert.EndsWith("hello from origin", text);
    }

    [Fact]
    public async Task Many_tunnels_at_once_are_each_served_and_shown_one_leaf()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());

        TunnelClient[] tunnels = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => kit.OpenAsync(proxy)));
        try
        {
            TunnelResponse[] responses = await Task.WhenAll(tunnels.Select(t => t.GetAsync("/hello")));
            Assert.All(responses, r => Assert.Equal("hello from origin", r.Text));
            Assert.Single(tunnels.Select(t => t.Presented!.Thumbprint).Distinct());
            Assert.Equal(16, kit.Origin.Connections);
        }
        finally
        {
            foreach (TunnelClient tunnel in tunnels)
            {
                await tunnel.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_origin_gone_between_requests_is_a_502_inside_a_tunnel_that_stays_open()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName);
        TlsOrigin origin = TlsOrigin.Start(certificate, async (tls, _) =>
        {
            await TlsOriginReadOneAsync(tls);
            await TlsOrigin.WriteAsync(tls, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        });
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);
        Assert.Equal("ok", (await tunnel.GetAsync("/")).Text);

        await origin.DisposeAsync(); // nothing listens on its port any more
        for (int i = 0; i < 2; i++)
        {
            TunnelResponse gone = await tunnel.GetAsync("/");
            Assert.Equal(502, gone.Status);
            Assert.StartsWith($"{TestProxy.Name}; error=connection_refused", gone.Field("Proxy-Status"));
        }
    }

    private static async Task TlsOriginReadOneAsync(SslStream tls)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await tls.ReadAsync(one) > 0)
        {
            head.Append((char)one[0]);
        }
    }

    [Fact]
    public async Task An_origin_that_never_answers_the_tls_handshake_is_502_within_the_connect_timeout()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        var hold = new TaskCompletionSource();
        await using RawOrigin silent = RawOrigin.Start(async (stream, socket) =>
        {
            byte[] buffer = new byte[4096];
            await stream.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false); // the ClientHello, left unanswered
            await hold.Task.WaitAsync(TimeSpan.FromSeconds(30));
        });
        await using TestProxy proxy = await kit.ProxyAsync(c => c with { Timeouts = c.Timeouts with { Connect = TimeSpan.FromSeconds(1) } }, InspectionKit.Inspect());
        try
        {
            await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{silent.Port}");
            Assert.StartsWith("HTTP/1.1 502 ", tunnel.ConnectHead);
            Assert.Contains("error=tls_protocol_error", tunnel.ConnectHead);
            Assert.Contains("no answer within 1s", tunnel.ConnectHead);
        }
        finally
        {
            hold.TrySetResult();
        }
    }

    [Fact]
    public async Task An_idle_tunnel_is_closed_after_the_idle_timeout_and_logged()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c with { Timeouts = c.Timeouts with { Idle = TimeSpan.FromSeconds(1) } }, InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);

        Assert.True(await tunnel.ClosedAsync(timeoutMs: 20_000), "the idle tunnel was not closed");
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" CONNECT "), "for the idle tunnel's CONNECT");
        Assert.Contains(" NONE_NONE/200 ", line);
    }

    [Fact]
    public async Task Stopping_the_proxy_ends_an_idle_inspected_tunnel_and_logs_its_connect()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using (proxy)
        {
            await using TunnelClient tunnel = await kit.OpenAsync(proxy);
            Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);

            Task stop = proxy.StopAsync();
            Assert.True(await tunnel.ClosedAsync(timeoutMs: 20_000), "the tunnel outlived the proxy's stop");
            await stop.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(proxy.AccessLog.Lines, l => l.Contains(" NONE_NONE/200 ") && l.Contains($" CONNECT {kit.Authority} "));
            Assert.Contains(proxy.AccessLog.Lines, l => l.Contains(" TCP_MISS/200 "));
        }
    }

    [Fact]
    public async Task An_expect_100_continue_upload_inside_gets_the_interim_answer_then_the_response()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        byte[] body = Encoding.ASCII.GetBytes("sent only after 100 Continue");
        await tunnel.SendAsync($"POST /echo HTTP/1.1\r\nHost: {kit.Authority}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nExpect: 100-continue\r\n\r\n");
        TunnelResponse interim = await tunnel.ReadResponseAsync();
        Assert.Equal(100, interim.Status);
        await tunnel.SendAsync(body);
        TunnelResponse echoed = await tunnel.ReadResponseAsync();
        Assert.Equal(200, echoed.Status);
        Assert.Equal("sent only after 100 Continue", echoed.Text);
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
    }

    [Fact]
    public async Task A_reload_that_keeps_the_ca_keeps_the_minted_leaves()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        string before;
        await using (TunnelClient first = await kit.OpenAsync(proxy))
        {
            before = first.Presented!.Thumbprint;
        }

        proxy.Server.Reload(proxy.Server.CurrentConfig with { Rules = [InspectionKit.Inspect("renamed")] });
        await using TunnelClient after = await kit.OpenAsync(proxy);
        Assert.Equal(before, after.Presented!.Thumbprint);
    }

    [Fact]
    public async Task A_refused_connect_to_an_inspected_host_answers_before_any_tls()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect(destination: "elsewhere.test")], AccessLogFormat.Squid);

        using RawClient raw = await RawClient.ConnectAsync(proxy.Endpoint);
        await raw.SendAsync($"CONNECT {kit.Authority} HTTP/1.1\r\nHost: {kit.Authority}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403 ", await raw.ReadHeadAsync());
        Assert.Equal(0, kit.Origin.Connections);
        raw.Socket.Shutdown(SocketShutdown.Send);
    }
}
