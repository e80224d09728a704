using System.Net;
using System.Text.Json;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// <c>sluice doctor --from-policy FILE --parents</c>: the expectations name the route, and each parent proxy of the
/// policy's upstreams is connected to with the upstream's credentials and ca, and asked for a tunnel to a target the
/// policy sends through it. The parents are in-process Sluices on loopback, one requiring Basic authentication.
/// </summary>
public sealed class DoctorParentsTests : IDisposable
{
    private const string UnsetVariable = "SLUICE_TEST_DOCTOR_UNSET_PASSWORD";

    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private string File(string name, string text)
    {
        string path = Path.Combine(_pki.Directory, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private async Task<TestProxy> ParentAsync(bool tls = false)
    {
        string users = File($"users-{Guid.NewGuid():N}", $"etl:{PasswordHashes.HashBcrypt("parent-pass-Zq9", 4)}\n");
        (string certificate, string key, _) = _pki.Server();
        TestProxy parent = await TestProxy.StartAsync(c => c with
        {
            Name = "parent-sluice",
            Auth = new AuthConfig { Basic = new BasicAuthConfig { Realm = "corp", UsersFile = users } },
            Listeners = tls
                ? [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = certificate, Key = key } }]
                : c.Listeners,
        });
        parent.Resolver.Map("localhost", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
        return parent;
    }

    private static string Line(string output, string start) =>
        output.Split('\n').Single(l => l.StartsWith(start, StringComparison.Ordinal)).TrimEnd();

    [Fact]
    public async Task Each_parent_is_reported_reachable_refused_407_tls_error_or_not_checked()
    {
        await using var origin = PkiOrigin.Start(_pki);
        await using TestProxy parent = await ParentAsync();
        await using TestProxy tlsParent = await ParentAsync(tls: true);
        await using TestProxy proxy = await TestProxy.StartAsync(); // the proxy doctor checks the targets through
        proxy.Resolver.Map("localhost", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
        int closed = Ports.Free();
        string password = File("corp-password", "parent-pass-Zq9\n");
        string wrong = File("wrong-password", "not-the-password\n");
        string policy = File("sluice.yaml", $$"""
            addresses: { allow: [127.0.0.0/8] }
            upstreams:
              - name: corp
                proxies: ["http://127.0.0.1:{{parent.Endpoint.Port}}", "http://127.0.0.1:{{closed}}"]
                credentials: { user: etl, passwordFile: {{password}} }
              - name: wrong
                proxies: ["http://127.0.0.1:{{parent.Endpoint.Port}}"]
                credentials: { user: etl, passwordFile: {{wrong}} }
              - name: secure
                proxies: ["https://127.0.0.1:{{tlsParent.Endpoint.Port}}"]
                credentials: { user: etl, passwordFile: {{password}} }
                ca: {{_pki.CaPath}}
              - name: untrusted
                proxies: ["https://127.0.0.1:{{tlsParent.Endpoint.Port}}"]
                credentials: { user: etl, passwordFile: {{password}} }
              - name: anonymous
                proxies: ["http://127.0.0.1:{{parent.Endpoint.Port}}"]
              - name: unused
                proxies: ["http://127.0.0.1:{{parent.Endpoint.Port}}"]
            rules:
              - { name: corp-way, action: allow, destinations: ["localhost:{{origin.Port}}"], via: corp }
              - { name: wrong-way, action: allow, destinations: ["other.test:{{origin.Port}}"], via: wrong }
              - { name: secure-way, action: allow, destinations: ["secure.localhost:{{origin.Port}}"], via: secure }
              - { name: untrusted-way, action: allow, destinations: ["plain.localhost:{{origin.Port}}"], via: untrusted }
              - { name: anonymous-way, action: allow, destinations: ["anonymous.localhost:{{origin.Port}}"], via: anonymous }
            """);
        proxy.Resolver.Map("secure.localhost", IPAddress.Loopback).Map("plain.localhost", IPAddress.Loopback).Map("anonymous.localhost", IPAddress.Loopback);
        tlsParent.Resolver.Map("secure.localhost", IPAddress.Loopback);

        (int exit, string output, string errors) = await DoctorCommandTests.Doctor(new([]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, FromPolicy = policy, Parents = true, Timeout = 5 });

        Assert.Equal(1, exit);
        Assert.Contains($"expects localhost:{origin.Port}: 200 (rule corp-way allows CONNECT localhost:{origin.Port}; via corp: 127.0.0.1:{parent.Endpoint.Port}, then 127.0.0.1:{closed} (failover))", errors, StringComparison.Ordinal);
        Assert.Equal($"corp 127.0.0.1:{parent.Endpoint.Port} (CONNECT localhost:{origin.Port}): reachable: CONNECT answered 200 Connection established, credentials accepted",
            Line(output, $"corp 127.0.0.1:{parent.Endpoint.Port}"));
        Assert.StartsWith($"corp 127.0.0.1:{closed} (CONNECT localhost:{origin.Port}): refused: cannot connect to the proxy 127.0.0.1:{closed}: connection refused", Line(output, $"corp 127.0.0.1:{closed}"));
        Assert.StartsWith($"wrong 127.0.0.1:{parent.Endpoint.Port} (CONNECT other.test:{origin.Port}): 407: the proxy refused the credentials of etl (407, realm \"corp\")", Line(output, "wrong "));
        Assert.Contains("hint: the parent refused upstream wrong's credentials", output);
        Assert.Equal($"secure 127.0.0.1:{tlsParent.Endpoint.Port} (CONNECT secure.localhost:{origin.Port}): reachable: CONNECT answered 200 Connection established, credentials accepted",
            Line(output, "secure "));
        Assert.StartsWith($"untrusted 127.0.0.1:{tlsParent.Endpoint.Port} (CONNECT plain.localhost:{origin.Port}): TLS error: the proxy's certificate, issued by Sluice Test CA, chains neither", Line(output, "untrusted "));
        Assert.Contains("hint: check upstream untrusted's ca", output);
        Assert.StartsWith($"anonymous 127.0.0.1:{parent.Endpoint.Port} (CONNECT anonymous.localhost:{origin.Port}): 407: the proxy requires authentication", Line(output, "anonymous "));
        Assert.Contains("hint: the parent asks for credentials: give upstream anonymous credentials:", output);
        Assert.Equal($"unused 127.0.0.1:{parent.Endpoint.Port}: not checked: no target of this run goes through upstream unused", Line(output, "unused "));
        Assert.Contains("7 parents: 3 passed, 4 failed", output);
        Assert.DoesNotContain("Zq9", output + errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_has_a_result_per_parent_and_a_secret_not_here_fails_without_connecting()
    {
        await using var origin = PkiOrigin.Start(_pki);
        await using TestProxy parent = await ParentAsync();
        await using TestProxy proxy = await TestProxy.StartAsync();
        proxy.Resolver.Map("localhost", IPAddress.Loopback);
        string password = File("corp-password", "parent-pass-Zq9\n");
        string policy = File("sluice.yaml", $$"""
            addresses: { allow: [127.0.0.0/8] }
            upstreams:
              - name: corp
                proxies: ["http://127.0.0.1:{{parent.Endpoint.Port}}"]
                credentials: { user: etl, passwordFile: {{password}} }
              - name: elsewhere
                proxies: ["http://127.0.0.1:{{parent.Endpoint.Port}}"]
                credentials: { user: etl, passwordEnv: {{UnsetVariable}} }
            rules:
              - { name: local, action: allow, destinations: ["localhost:{{origin.Port}}"] }
            route: { default: corp }
            """);
        Environment.SetEnvironmentVariable(UnsetVariable, null);

        (int exit, string output, _) = await DoctorCommandTests.Doctor(new([]) { Proxy = proxy.Uri.ToString(), Ca = _pki.CaPath, FromPolicy = policy, Parents = true, Json = true });

        Assert.Equal(1, exit);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.False(json.RootElement.GetProperty("passed").GetBoolean());
        Assert.Contains(json.RootElement.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("chosen by route.default", StringComparison.Ordinal));
        JsonElement[] parents = [.. json.RootElement.GetProperty("parents").EnumerateArray()];
        Assert.Equal(2, parents.Length);
        Assert.Equal("corp", parents[0].GetProperty("upstream").GetString());
        Assert.Equal($"127.0.0.1:{parent.Endpoint.Port}", parents[0].GetProperty("parent").GetString());
        Assert.Equal($"localhost:{origin.Port}", parents[0].GetProperty("target").GetString());
        Assert.Equal("reachable", parents[0].GetProperty("outcome").GetString());
        Assert.True(parents[0].GetProperty("passed").GetBoolean());
        Assert.Equal("accepted", parents[0].GetProperty("probe").GetProperty("auth").GetString());
        Assert.Equal("none", parents[0].GetProperty("probe").GetProperty("proxyFault").GetString());
        Assert.Equal("not checked", parents[1].GetProperty("outcome").GetString());
        Assert.False(parents[1].GetProperty("passed").GetBoolean());
        Assert.Contains($"the environment variable {UnsetVariable} is not set", parents[1].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.False(parents[1].TryGetProperty("probe", out _));
        await parent.AccessLog.WaitForAsync(l => l.Contains($"localhost:{origin.Port}", StringComparison.Ordinal), "the parent's tunnel line");
        Assert.Single(parent.AccessLog.Lines, l => l.Contains($"localhost:{origin.Port}", StringComparison.Ordinal)); // elsewhere's parent was not asked
    }
}
