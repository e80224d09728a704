using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// Who is inside an inspected tunnel: the user the CONNECT authenticated, for every request inside, whatever those
/// requests carry themselves.
/// </summary>
public sealed class InspectionIdentityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-inspect-auth-").FullName;

    public InspectionIdentityTests()
    {
        UsersFile = Path.Combine(_dir, "users.htpasswd");
        File.WriteAllLines(UsersFile, [$"alice:{PasswordHashes.HashBcrypt("wonderland", 5)}", $"bob:{PasswordHashes.HashBcrypt("builder", 5)}"]);
    }

    private string UsersFile { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Task<TestProxy> StartAsync(InspectionKit kit) => kit.ProxyAsync(
        c => c with { Auth = new AuthConfig { Basic = new BasicAuthConfig { Realm = "egress", UsersFile = UsersFile }, Required = true } },
        InspectionKit.Inspect("alice-reads-hello", paths: ["/hello"], users: ["alice"]),
        InspectionKit.Inspect("bob-reads-headers", paths: ["/headers"], users: ["bob"]));

    private static string Basic(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    [Fact]
    public async Task Requests_inside_are_decided_with_the_user_of_the_connect()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await StartAsync(kit);

        using (HttpClient alice = kit.Client(proxy, credentials: new NetworkCredential("alice", "wonderland")))
        {
            Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync(kit.Url("/hello"))).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await alice.GetAsync(kit.Url("/headers"))).StatusCode);
        }

        using (HttpClient bob = kit.Client(proxy, credentials: new NetworkCredential("bob", "builder")))
        {
            HttpResponseMessage headers = await bob.GetAsync(kit.Url("/headers"));
            Assert.Equal(HttpStatusCode.OK, headers.StatusCode);
            Assert.DoesNotContain("Proxy-Authorization", await headers.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(HttpStatusCode.Forbidden, (await bob.GetAsync(kit.Url("/hello"))).StatusCode);
        }

        await proxy.StopAsync();
        string[] lines = [.. proxy.AccessLog.Lines];
        Assert.Contains(lines, l => l.Contains(" TCP_MISS/200 ") && l.Contains($"https://{kit.Authority}/hello alice "));
        Assert.Contains(lines, l => l.Contains(" TCP_DENIED/403 ") && l.Contains($"https://{kit.Authority}/headers alice "));
        Assert.Contains(lines, l => l.Contains(" TCP_MISS/200 ") && l.Contains($"https://{kit.Authority}/headers bob "));
        Assert.Contains(lines, l => l.Contains(" NONE_NONE/200 ") && l.Contains($" CONNECT {kit.Authority} alice "));
        Assert.DoesNotContain(lines, l => l.Contains("wonderland") || l.Contains("builder"));
    }

    [Fact]
    public async Task An_anonymous_tunnel_is_refused_with_403_inside_never_challenged_with_407()
    {
        // Inside a tunnel nobody can answer a 407: Proxy-Authorization belongs to the CONNECT (design: a refusal inside
        // is a 403 with Proxy-Status).
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await kit.ProxyAsync(
            c => c with { Auth = new AuthConfig { Basic = new BasicAuthConfig { Realm = "egress", UsersFile = UsersFile }, Required = false } },
            InspectionKit.Inspect("public", paths: ["/hello"]),
            InspectionKit.Inspect("alice-reads-headers", paths: ["/headers"], users: ["alice"]));
        await using TunnelClient tunnel = await kit.OpenAsync(proxy);

        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
        TunnelResponse refused = await tunnel.GetAsync("/headers");
        Assert.True(refused.Status == 403, refused.ToString());
        Assert.Null(refused.Field("Proxy-Authenticate"));
        Assert.Equal(200, (await tunnel.GetAsync("/hello")).Status);
    }

    [Fact]
    public async Task A_connect_without_credentials_is_challenged_and_one_with_wrong_ones_is_not_let_in()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await StartAsync(kit);

        await using (TunnelClient anonymous = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority))
        {
            Assert.StartsWith("HTTP/1.1 407 ", anonymous.ConnectHead);
            Assert.Contains("Proxy-Authenticate: Basic realm=\"egress\"", anonymous.ConnectHead);
        }

        await using (TunnelClient wrong = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority, $"Proxy-Authorization: Basic {Basic("alice", "looking-glass")}\r\n"))
        {
            Assert.StartsWith("HTTP/1.1 407 ", wrong.ConnectHead);
        }

        Assert.Equal(0, kit.Origin.Connections);
    }

    [Fact]
    public async Task Credentials_sent_inside_the_tunnel_change_nothing_and_never_reach_the_origin()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await StartAsync(kit);
        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority, $"Proxy-Authorization: Basic {Basic("alice", "wonderland")}\r\n");
        Assert.True(tunnel.Established, tunnel.ConnectHead);
        await tunnel.HandshakeAsync([kit.Ca]);

        // Bob's credentials inside alice's tunnel: still alice, who may not read /headers.
        TunnelResponse asBob = await tunnel.RequestAsync("GET", "/headers", $"Proxy-Authorization: Basic {Basic("bob", "builder")}\r\n");
        Assert.Equal(403, asBob.Status);
        TunnelResponse hello = await tunnel.RequestAsync("GET", "/hello", $"Proxy-Authorization: Basic {Basic("bob", "builder")}\r\n");
        Assert.Equal(200, hello.Status);
    }

    [Fact]
    public async Task The_origin_never_sees_the_proxy_credentials_of_the_connect()
    {
        await using InspectionKit kit = await InspectionKit.StartAsync();
        await using TestProxy proxy = await StartAsync(kit);
        await using TunnelClient tunnel = await TunnelClient.ConnectAsync(proxy.Endpoint, kit.Authority, $"Proxy-Authorization: Basic {Basic("bob", "builder")}\r\n");
        Assert.True(tunnel.Established, tunnel.ConnectHead);
        await tunnel.HandshakeAsync([kit.Ca]);

        TunnelResponse seen = await tunnel.RequestAsync("GET", "/headers", $"Proxy-Authorization: Basic {Basic("bob", "builder")}\r\nAuthorization: Bearer for-the-origin\r\n");
        Assert.Equal(200, seen.Status);
        Assert.DoesNotContain("Proxy-Authorization", seen.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Authorization: Bearer for-the-origin", seen.Text); // the origin's own credentials pass
    }
}
