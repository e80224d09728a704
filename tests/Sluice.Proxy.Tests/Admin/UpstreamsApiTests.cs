using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// <c>/api/upstreams</c>: every upstream in the configuration's order with its parents' health, as the status page
/// shows it, and never a credential.
/// </summary>
public sealed class UpstreamsApiTests
{
    private const string Token = "upstreams-api-token-0123456789";

    /// <summary>A proxy whose <c>route.default</c> is the upstream <c>corp</c> with these parents, plus an unused <c>spare</c>.</summary>
    private static Task<TestProxy> StartAsync(IPEndPoint[] corp, string? credentials = null, string? token = null) => TestProxy.StartAsync(c =>
    {
        SluiceConfig parsed = ConfigLoader.Parse($$"""
            upstreams:
              - name: corp
                proxies: [{{string.Join(", ", corp.Select(p => $"\"http://{p}\""))}}]
                {{(credentials is null ? "" : $"credentials: {credentials}")}}
              - name: spare
                proxies: ["https://spare.test:3129"]
                balance: round-robin
                checkDestinations: parent
            route: { default: corp }
            """, "upstreams.yaml");
        return c with
        {
            Upstreams = parsed.Upstreams,
            Route = parsed.Route,
            Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Token = token },
        };
    });

    private static HttpClient AdminOf(TestProxy proxy, string? token = null)
    {
        var admin = new HttpClient { BaseAddress = new Uri($"http://{proxy.Server.AdminEndpoint}") };
        if (token is not null)
        {
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return admin;
    }

    private static HttpClient ClientOf(TestProxy proxy) =>
        new(new HttpClientHandler { Proxy = new WebProxy(proxy.Uri), UseProxy = true });

    /// <summary>Three requests through the proxy: the closed port fails each time, so it is marked down.</summary>
    private static async Task ThreeRequestsAsync(TestProxy proxy, TestOrigin origin)
    {
        using HttpClient client = ClientOf(proxy);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("hello from origin", await client.GetStringAsync($"http://origin.test:{origin.Port}/hello?{i}"));
        }
    }

    [Fact]
    public async Task A_parent_on_a_closed_port_is_down_with_its_error_and_the_working_one_is_up()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy parent = await TestProxy.StartAsync(c => c with { Name = "parent-sluice" });
        parent.Resolver.Map("origin.test", IPAddress.Loopback);
        var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using TestProxy proxy = await StartAsync([gone, parent.Endpoint]);
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);

        await ThreeRequestsAsync(proxy, origin);

        using HttpClient admin = AdminOf(proxy);
        using HttpResponseMessage response = await admin.GetAsync("/api/upstreams");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonElement upstreams = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(["corp", "spare"], upstreams.EnumerateArray().Select(u => u.GetProperty("name").GetString()));
        JsonElement corp = upstreams[0];
        Assert.Equal("failover", corp.GetProperty("balance").GetString());
        Assert.Equal("local", corp.GetProperty("checkDestinations").GetString());
        Assert.False(corp.GetProperty("credentials").GetBoolean());
        JsonElement[] parents = [.. corp.GetProperty("parents").EnumerateArray()];
        Assert.Equal(2, parents.Length);

        JsonElement down = parents[0];
        Assert.Equal($"http://{gone}", down.GetProperty("proxy").GetString());
        Assert.Equal(gone.ToString(), down.GetProperty("endpoint").GetString());
        Assert.False(down.GetProperty("up").GetBoolean());
        Assert.Equal(3, down.GetProperty("consecutiveFailures").GetInt32());
        DateTimeOffset since = down.GetProperty("downSince").GetDateTimeOffset();
        Assert.True(down.GetProperty("nextProbe").GetDateTimeOffset() > since, "the next probe comes after the parent went down");
        Assert.True(down.GetProperty("nextProbeInSeconds").GetDouble() >= 0);
        Assert.Contains("refused the connection", down.GetProperty("lastError").GetString());

        JsonElement up = parents[1];
        Assert.Equal($"http://{parent.Endpoint}", up.GetProperty("proxy").GetString());
        Assert.Equal(parent.Endpoint.ToString(), up.GetProperty("endpoint").GetString());
        Assert.True(up.GetProperty("up").GetBoolean());
        Assert.Equal(0, up.GetProperty("consecutiveFailures").GetInt32());
        foreach (string unset in new[] { "downSince", "nextProbe", "nextProbeInSeconds", "lastError" })
        {
            Assert.Equal(JsonValueKind.Null, up.GetProperty(unset).ValueKind);
        }

        // The second upstream, which no request used: its settings, and its parent up.
        JsonElement spare = upstreams[1];
        Assert.Equal("round-robin", spare.GetProperty("balance").GetString());
        Assert.Equal("parent", spare.GetProperty("checkDestinations").GetString());
        JsonElement idle = Assert.Single(spare.GetProperty("parents").EnumerateArray());
        Assert.Equal("https://spare.test:3129", idle.GetProperty("proxy").GetString());
        Assert.Equal("spare.test:3129", idle.GetProperty("endpoint").GetString());
        Assert.True(idle.GetProperty("up").GetBoolean());
    }

    [Fact]
    public async Task No_upstreams_is_an_empty_array()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with { Admin = new AdminConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) } });
        using HttpClient admin = AdminOf(proxy);

        Assert.Equal("[]", await admin.GetStringAsync("/api/upstreams"));
    }

    [Fact]
    public async Task The_parents_credentials_appear_nowhere_on_the_admin_endpoint_and_it_needs_the_token()
    {
        string variable = $"SLUICE_TEST_PARENT_PASSWORD_{Guid.NewGuid():N}";
        string secret = $"parent-secret-{Guid.NewGuid():N}";
        const string user = "corp-proxy-user";
        Environment.SetEnvironmentVariable(variable, secret);
        try
        {
            await using TestOrigin origin = await TestOrigin.StartAsync();
            await using TestProxy parent = await TestProxy.StartAsync(c => c with { Name = "parent-sluice" });
            parent.Resolver.Map("origin.test", IPAddress.Loopback);
            var gone = new IPEndPoint(IPAddress.Loopback, Ports.Free());
            await using TestProxy proxy = await StartAsync([gone, parent.Endpoint], $"{{ user: {user}, passwordEnv: {variable} }}", Token);
            proxy.Resolver.Map("origin.test", IPAddress.Loopback);
            await ThreeRequestsAsync(proxy, origin);

            using (HttpClient anonymous = AdminOf(proxy))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/upstreams")).StatusCode);
            }

            using HttpClient admin = AdminOf(proxy, Token);
            JsonElement corp = JsonDocument.Parse(await admin.GetStringAsync("/api/upstreams")).RootElement[0];
            Assert.True(corp.GetProperty("credentials").GetBoolean());
            Assert.False(corp.GetProperty("parents")[0].GetProperty("up").GetBoolean()); // the error is there to be shown

            string basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}"));
            foreach (string path in new[] { "/api/upstreams", "/api/stats", "/api/connections", "/metrics", "/", "/index.html", "/app.js", "/style.css" })
            {
                using HttpResponseMessage response = await admin.GetAsync(path);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                string body = await response.Content.ReadAsStringAsync();
                string headers = response.Headers.ToString() + response.Content.Headers;
                foreach (string hidden in new[] { secret, user, basic, variable })
                {
                    Assert.DoesNotContain(hidden, body, StringComparison.Ordinal);
                    Assert.DoesNotContain(hidden, headers, StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
