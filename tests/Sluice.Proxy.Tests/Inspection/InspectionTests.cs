using System.Net;
using System.Security.Cryptography.X509Certificates;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>Inspected tunnels through the real proxy, with HttpClient as the client and Kestrel over TLS as the origin.</summary>
public sealed class InspectionTests
{
    [Fact]
    public async Task Paths_decide_inside_one_inspected_tunnel_and_the_tunnel_stays_usable()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(InspectionKit.Inspect(paths: ["/hello", "/status"]));
        X509Certificate2? shown = null;
        using HttpClient client = kit.Client(proxy, c => shown = c);

        HttpResponseMessage allowed = await client.GetAsync(kit.Url("/hello"));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("hello from origin", await allowed.Content.ReadAsStringAsync());

        HttpResponseMessage denied = await client.GetAsync(kit.Url("/headers"));
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Contains("error=http_request_denied", denied.Headers.GetValues("Proxy-Status").Single());

        HttpResponseMessage again = await client.GetAsync(kit.Url("/status/204"));
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        Assert.Equal(1, kit.Origin.Connections); // one tunnel, one origin connection, three requests

        Assert.NotNull(shown);
        Assert.Equal(kit.Ca.Subject, shown!.Issuer); // the client saw a minted leaf, not the origin's certificate
        Assert.True(shown.MatchesHostname(InspectionKit.OriginName));

        await proxy.StopAsync();
        string[] lines = proxy.AccessLog.Lines.ToArray();
        Assert.Contains(lines, l => l.Contains($"TCP_MISS/200") && l.Contains($"GET https://{InspectionKit.OriginName}:{kit.Origin.Port}/hello"));
        Assert.Contains(lines, l => l.Contains("TCP_DENIED/403") && l.Contains("/headers"));
        Assert.Contains(lines, l => l.Contains("NONE_NONE/200") && l.Contains($"CONNECT {InspectionKit.OriginName}:{kit.Origin.Port}"));
    }
}
