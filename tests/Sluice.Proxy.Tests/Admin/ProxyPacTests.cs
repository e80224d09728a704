using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// <c>/proxy.pac</c> as a browser fetches it from the running proxy: over a real socket, without credentials even when
/// the admin endpoint has a token, evaluated in Node, and changed by a reload.
/// </summary>
public sealed class ProxyPacTests : IAsyncLifetime
{
    private const string Token = "a-token-of-16-chars-or-more";
    private TestProxy _proxy = null!;
    private HttpClient _admin = null!;

    private static readonly (string Url, string Host)[] Cases =
    [
        ("http://10.0.5.9:5432/", "10.0.5.9"),
        ("http://10.0.5.9:8080/", "10.0.5.9"),
        ("https://db.corp.example/", "db.corp.example"),
        ("https://corp.example/", "corp.example"),
        ("http://api.svc.cluster.local/", "api.svc.cluster.local"),
        ("https://example.com/", "example.com"),
    ];

    public async Task InitializeAsync()
    {
        _proxy = await TestProxy.StartAsync(c => With(c, """
            bypass:
              - { name: postgres, cidrs: [10.0.5.0/24], ports: [5432] }
            clients:
              excluded: [corp.example]
            """) with { Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Token = Token } });
        _admin = new HttpClient { BaseAddress = new Uri($"http://{_proxy.Server.AdminEndpoint}") };
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _proxy.DisposeAsync();
    }

    // The file's bypass: and clients: on the test's proxy (loopback listener on port 0, admin on port 0).
    private static SluiceConfig With(SluiceConfig running, string yaml)
    {
        SluiceConfig file = ConfigLoader.Parse(yaml, "sluice.yaml");
        return running with { Bypass = file.Bypass, Clients = file.Clients, Source = file.Source };
    }

    private async Task<string[]> AnswersAsync()
    {
        using HttpResponseMessage response = await _admin.GetAsync("/proxy.pac");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ns-proxy-autoconfig", response.Content.Headers.ContentType?.ToString());
        string[][] answers = await PacRunner.EvaluateAsync([new PacQuestions(await response.Content.ReadAsStringAsync(), Cases)]);
        return answers[0];
    }

    [Fact]
    public async Task A_browser_gets_the_pac_file_without_the_token_and_it_follows_a_reload()
    {
        string proxy = $"PROXY {_proxy.Endpoint}";
        Assert.Equal(["DIRECT", proxy, "DIRECT", "DIRECT", proxy, proxy], await AnswersAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await _admin.GetAsync("/api/stats")).StatusCode); // the rest still needs the token

        _proxy.Server.Reload(With(_proxy.Server.CurrentConfig, """
            bypass:
              - { name: postgres, cidrs: [10.0.5.0/24], ports: ["5432-8080"] }
            clients:
              proxyUrl: https://proxy.corp.example:3129
              excluded: ["*.corp.example", ".svc.cluster.local"]
            """));

        Assert.Equal(["DIRECT", "DIRECT", "DIRECT", "HTTPS proxy.corp.example:3129", "DIRECT", "HTTPS proxy.corp.example:3129"], await AnswersAsync());
        Assert.Contains($"// Configuration: sluice.yaml, generation {_proxy.Server.ConfigGeneration}; proxy: clients.proxyUrl.", await _admin.GetStringAsync("/proxy.pac"), StringComparison.Ordinal);
    }
}
