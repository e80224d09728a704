using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The origin's certificate is checked before the CONNECT is answered: a bad one is a 502 that says what is wrong,
/// never a 200 with a minted certificate papering over it.
/// </summary>
public sealed class OriginCertificateTests
{
    public enum Problem
    {
        Expired,
        NotYetValid,
        WrongName,
        UntrustedIssuer,
        ClientAuthOnly,
    }

    private static X509Certificate2 CertificateWith(Problem problem, InspectionKit kit, X509Certificate2 foreign) => problem switch
    {
        Problem.Expired => InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName, notBefore: DateTimeOffset.UtcNow.AddHours(-20), notAfter: DateTimeOffset.UtcNow.AddHours(-1)),
        Problem.NotYetValid => InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName, notBefore: DateTimeOffset.UtcNow.AddHours(2), notAfter: DateTimeOffset.UtcNow.AddDays(3)),
        Problem.WrongName => InspectionKit.Issue(kit.Origins.Ca, "elsewhere.test"),
        Problem.UntrustedIssuer => InspectionKit.Issue(foreign, InspectionKit.OriginName),
        Problem.ClientAuthOnly => InspectionKit.Issue(kit.Origins.Ca, InspectionKit.OriginName, usage: "1.3.6.1.5.5.7.3.2"),
        _ => throw new ArgumentOutOfRangeException(nameof(problem)),
    };

    [Theory]
    [InlineData(Problem.Expired, "expired on")]
    [InlineData(Problem.NotYetValid, "is not valid before")]
    [InlineData(Problem.WrongName, "is for elsewhere.test, not secure.test")]
    [InlineData(Problem.UntrustedIssuer, "issued by CN=Nobody's CA, which is not trusted")]
    [InlineData(Problem.ClientAuthOnly, "is not for server authentication")]
    public async Task A_bad_origin_certificate_answers_the_connect_with_502_naming_the_problem(Problem problem, string named)
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 foreign = InspectionKit.ForeignCa("Nobody's CA");
        using X509Certificate2 certificate = CertificateWith(problem, kit, foreign);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(c => c, [InspectionKit.Inspect()], AccessLogFormat.Json);
        string authority = $"{InspectionKit.OriginName}:{origin.Port}";

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 502 ", head);
        string status = head.Split("\r\n").Single(l => l.StartsWith("Proxy-Status: ", StringComparison.Ordinal));
        Assert.StartsWith($"Proxy-Status: {TestProxy.Name}; error=tls_certificate_error; details=\"", status);
        Assert.Contains(named, status);
        Assert.Contains("Connection: close", head);
        byte[] rest = await client.ReadToEndAsync();
        Assert.DoesNotContain("200 Connection established", System.Text.Encoding.Latin1.GetString(rest)); // no 200 after it either
        Assert.Empty(origin.Requests);

        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("\"CONNECT\""), "for the refused CONNECT");
        Assert.Contains("\"status\":502", line);
        Assert.Contains("\"proxyStatus\":\"tls_certificate_error\"", line);
        Assert.Contains(named.Replace("'", "\\u0027", StringComparison.Ordinal), line);
    }

    [Fact]
    public async Task An_origin_speaking_plain_http_on_the_tls_port_is_502_tls_protocol_error()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using RawOrigin plain = RawOrigin.Start(async (stream, socket) =>
        {
            byte[] buffer = new byte[4096];
            _ = await stream.ReadAsync(buffer); // the ClientHello, read as if it were a request
            await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
        });
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        string authority = $"{InspectionKit.OriginName}:{plain.Port}";

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 502 ", head);
        Assert.Contains($"Proxy-Status: {TestProxy.Name}; error=tls_protocol_error; details=\"the TLS handshake with {authority} failed", head);
    }

    [Fact]
    public async Task An_origin_that_closes_during_the_handshake_is_502_tls_protocol_error()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using RawOrigin rude = RawOrigin.Start(async (stream, socket) =>
        {
            byte[] buffer = new byte[4096];
            _ = await stream.ReadAsync(buffer);
            socket.Shutdown(SocketShutdown.Both);
        });
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        string authority = $"{InspectionKit.OriginName}:{rude.Port}";

        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 502 ", head);
        Assert.Contains("error=tls_protocol_error", head);
    }

    [Fact]
    public async Task An_origin_signed_by_an_intermediate_of_upstream_ca_is_accepted()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using TestPki intermediate = kit.Origins.Intermediate("Test Origins Issuing CA");
        using X509Certificate2 leaf = InspectionKit.Issue(intermediate.Ca, InspectionKit.OriginName);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(leaf, chain: [X509CertificateLoader.LoadCertificate(intermediate.Ca.RawData)]);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        await using TunnelClient tunnel = await TunnelClient.OpenAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}", kit.Ca);

        TunnelResponse response = await tunnel.GetAsync("/");
        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.Text);
    }

    [Fact]
    public async Task Upstream_ca_is_in_addition_to_the_system_roots_not_instead_of_the_name_check()
    {
        // A certificate from the trusted upstreamCa for another name is still refused: trust is not identity.
        await using InspectionKit kit = await InspectionKit.StartAsync();
        using X509Certificate2 certificate = InspectionKit.Issue(kit.Origins.Ca, "elsewhere.test", IPAddress.Loopback);
        await using TlsOrigin origin = TlsOrigin.KeepAlive(certificate);
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect());
        TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, $"{InspectionKit.OriginName}:{origin.Port}");
        await using (tunnel)
        {
            Assert.StartsWith("HTTP/1.1 502 ", tunnel.ConnectHead);
            Assert.Contains("is for elsewhere.test, 127.0.0.1, not secure.test", tunnel.ConnectHead);
        }
    }
}
