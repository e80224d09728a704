using System.Diagnostics;
using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>Basic proxy authentication as real clients meet it: the 407 challenge, credentials, users and groups in rules.</summary>
public sealed class ProxyAuthTests : IDisposable
{
    // "Hello world!" under SHA-512-crypt (a vector of the specification), beside bcrypt users.
    private const string ShaCryptUser = "carol:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-auth-").FullName;

    public ProxyAuthTests()
    {
        UsersFile = Path.Combine(_dir, "users.htpasswd");
        GroupsFile = Path.Combine(_dir, "groups");
        File.WriteAllLines(UsersFile, [$"alice:{PasswordHashes.HashBcrypt("wonderland", 5)}", $"bob:{PasswordHashes.HashBcrypt("builder", 5)}", ShaCryptUser]);
        File.WriteAllText(GroupsFile, "etl: bob\n");
    }

    private string UsersFile { get; }

    private string GroupsFile { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Task<TestProxy> StartAsync(bool required = true, string rules = "default: allow") => TestProxy.StartAsync(c =>
    {
        SluiceConfig parsed = ConfigLoader.Parse(rules, "rules.yaml");
        return c with
        {
            Auth = new AuthConfig { Basic = new BasicAuthConfig { Realm = "egress", UsersFile = UsersFile, GroupsFile = GroupsFile }, Required = required },
            Rules = parsed.Rules,
            Default = parsed.Default,
        };
    });

    private static HttpClient Client(TestProxy proxy, string? user, string? password)
    {
        var proxySettings = new WebProxy(proxy.Uri) { Credentials = user is null ? null : new NetworkCredential(user, password) };
        return new HttpClient(new SocketsHttpHandler { Proxy = proxySettings }) { Timeout = TimeSpan.FromSeconds(30) };
    }

    [Fact]
    public async Task Get_and_connect_without_credentials_get_407_with_a_basic_challenge()
    {
        await using TestProxy proxy = await StartAsync();
        foreach (string request in new[] { "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n", "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test\r\n\r\n" })
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync(request);
            string head = await client.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 407 Proxy Authentication Required", head);
            Assert.Contains("Proxy-Authenticate: Basic realm=\"egress\", charset=\"UTF-8\"", head);
            Assert.Contains("error=http_request_denied", head);
        }

        Assert.Equal(0, proxy.Resolver.Lookups);
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_DENIED/407") && l.Contains("CONNECT origin.test:443"), "for the challenged CONNECT");
    }

    [Fact]
    public async Task HttpClient_sends_credentials_after_the_challenge_and_the_user_is_logged_for_get_and_connect()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestOrigin secure = await TestOrigin.StartAsync(tls: true);
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("secure.test", IPAddress.Loopback);

        using HttpClient alice = Client(proxy, "alice", "wonderland");
        Assert.Equal("hello from origin", await alice.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_MISS/200") && l.Contains(" alice HIER_DIRECT/"), "with alice in the user column");

        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) { Credentials = new NetworkCredential("carol", "Hello world!") } };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == secure.Certificate!.GetCertHashString();
        using (var carol = new HttpClient(handler))
        {
            Assert.Equal("hello from origin", await carol.GetStringAsync($"https://secure.test:{secure.Port}/hello")); // SHA-crypt user, CONNECT
        }

        // A tunnel is logged when it ends: disposing the client closed it.
        await proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_TUNNEL/200") && l.Contains(" carol HIER_DIRECT/"), "with carol on the tunnel line");
    }

    [Fact]
    public async Task A_wrong_password_or_unknown_user_is_407_and_the_password_never_reaches_the_log_or_the_origin()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        using (HttpClient wrong = Client(proxy, "alice", "looking-glass"))
        {
            Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, (await wrong.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);
        }

        using (HttpClient nobody = Client(proxy, "mallory", "x"))
        {
            Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, (await nobody.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);
        }

        using HttpClient alice = Client(proxy, "alice", "wonderland");
        string seen = await alice.GetStringAsync($"http://origin.test:{origin.Port}/headers");
        Assert.DoesNotContain("Proxy-Authorization", seen, StringComparison.OrdinalIgnoreCase);
        await proxy.AccessLog.WaitForAsync(l => l.Contains("/headers"), "for the authenticated request");
        Assert.DoesNotContain(proxy.AccessLog.Lines, l => l.Contains("wonderland") || l.Contains("looking-glass"));
    }

    [Fact]
    public async Task Groups_and_users_in_rules_decide_and_anonymous_clients_are_served_by_rules_without_users_when_not_required()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync(required: false, rules: """
            rules:
              - name: etl-anywhere
                action: allow
                destinations: ["*"]
                groups: [etl]
              - name: public-hello
                action: allow
                destinations: ["open.test"]
            default: deny
            """);
        proxy.Resolver.Map("origin.test", IPAddress.Loopback).Map("open.test", IPAddress.Loopback);

        using HttpClient bob = Client(proxy, "bob", "builder");
        Assert.Equal(HttpStatusCode.OK, (await bob.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);
        using HttpClient alice = Client(proxy, "alice", "wonderland");
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);

        using HttpClient anonymous = Client(proxy, null, null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"http://open.test:{origin.Port}/hello")).StatusCode);
        // Refused anonymously, but a group rule could allow it: challenged (407), not refused (403), so clients that
        // send credentials only after a challenge get the chance.
        Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, (await anonymous.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);
    }

    [Fact]
    public async Task A_user_added_to_the_file_works_without_a_restart()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        using HttpClient dave = Client(proxy, "dave", "newcomer");
        Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, (await dave.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode);

        File.AppendAllLines(UsersFile, [$"dave:{PasswordHashes.HashBcrypt("newcomer", 5)}"]);
        File.SetLastWriteTimeUtc(UsersFile, DateTime.UtcNow.AddSeconds(5));
        HttpStatusCode status = HttpStatusCode.ProxyAuthenticationRequired;
        for (int attempt = 0; attempt < 50 && status != HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(200);
            using HttpClient again = Client(proxy, "dave", "newcomer");
            status = (await again.GetAsync($"http://origin.test:{origin.Port}/hello")).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task A_users_file_on_a_hung_mount_holds_no_request()
    {
        await using TestProxy proxy = await StartAsync();
        Assert.Equal("502", await StatusWithAsync(proxy, "alice", "wonderland"));

        // A FIFO in the file's place stands in for a hung network mount: reading it blocks until a writer comes.
        File.Delete(UsersFile);
        using (var make = System.Diagnostics.Process.Start("mkfifo", [UsersFile]))
        {
            await make.WaitForExitAsync();
        }

        try
        {
            await Task.Delay(1500); // past the once-a-second check: the next request starts one, which will hang
            string[] statuses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => StatusWithAsync(proxy, "alice", "wonderland")));
            Assert.All(statuses, s => Assert.Equal("502", s)); // served with the users known before, none waiting
        }
        finally
        {
            // Release the reader (bounded: no reader, no wait), so the proxy can stop.
            using var release = System.Diagnostics.Process.Start("timeout", ["5", "sh", "-c", $"echo 'alice:x' > '{UsersFile}'"]);
            await release.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Repeated_failures_from_one_address_are_refused_for_a_while_with_429()
    {
        await using TestProxy proxy = await StartAsync();
        string bad = Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:guess"));
        string last = "";
        for (int i = 0; i <= FailureThrottle.MaxFailuresPerUser; i++)
        {
            using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
            await client.SendAsync($"GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nProxy-Authorization: Basic {bad}\r\n\r\n");
            last = await client.ReadHeadAsync();
        }

        Assert.StartsWith("HTTP/1.1 429 Too Many Requests", last);
        Assert.Contains("Retry-After: ", last);

        // Even the right password waits: the address is refused without checking.
        string good = Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:wonderland"));
        using RawClient after = await RawClient.ConnectAsync(proxy.Endpoint);
        await after.SendAsync($"GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nProxy-Authorization: Basic {good}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 429", await after.ReadHeadAsync());
    }

    private static async Task<string> StatusWithAsync(TestProxy proxy, string user, string password)
    {
        string credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\nProxy-Authorization: Basic {credentials}\r\n\r\n");
        return (await client.ReadHeadAsync()).Split(' ')[1]; // an unknown name: 502 once authenticated, 407/429 before
    }

    [Fact]
    public async Task Another_valid_account_from_the_same_address_does_not_reset_the_count_of_guesses()
    {
        await using TestProxy proxy = await StartAsync();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal("407", await StatusWithAsync(proxy, "alice", $"guess-{round}-{i}"));
            }

            Assert.Equal("502", await StatusWithAsync(proxy, "bob", "builder")); // bob's success is bob's alone
        }

        Assert.Equal("407", await StatusWithAsync(proxy, "alice", "guess-10")); // the 10th failure, bob's successes between
        Assert.Equal("429", await StatusWithAsync(proxy, "alice", "guess-11")); // and now refused
        Assert.Equal("502", await StatusWithAsync(proxy, "bob", "builder")); // bob, from the same address, still served
    }

    [Fact]
    public async Task A_burst_of_parallel_guesses_cannot_outrun_the_limit()
    {
        await using TestProxy proxy = await StartAsync();
        string[] statuses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => StatusWithAsync(proxy, "alice", $"parallel-{i}")));
        Assert.True(statuses.Count(s => s == "429") >= 40 - FailureThrottle.MaxFailuresPerUser, string.Join(",", statuses));
    }

    private static async Task<string> GetStatusAsync(TestProxy proxy, int port, string user, string password)
    {
        string credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://origin.test:{port}/hello HTTP/1.1\r\nHost: origin.test:{port}\r\nProxy-Authorization: Basic {credentials}\r\nConnection: close\r\n\r\n");
        return (await client.ReadHeadAsync(timeoutMs: 120_000)).Split(' ')[1];
    }

    [Fact]
    public async Task A_burst_of_right_passwords_on_a_cold_cache_is_all_served_and_wrong_passwords_are_still_throttled()
    {
        // A production-strength hash, so the first verification is still running while the rest of the burst arrives.
        File.AppendAllLines(UsersFile, [$"erin:{PasswordHashes.HashBcrypt("many-at-once", 12)}"]);
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);

        async Task BurstAsync(string when)
        {
            string[] statuses = await Task.WhenAll(Enumerable.Range(0, 150).Select(_ => GetStatusAsync(proxy, origin.Port, "erin", "many-at-once")));
            Assert.True(statuses.All(s => s == "200"), $"{when}: {string.Join(",", statuses.GroupBy(s => s).Select(g => $"{g.Count()} x {g.Key}"))}");
        }

        await BurstAsync("a cold cache at start");

        // A changed users file: erin's hash is new, so nothing about her can be remembered. Frank tells when it is in use.
        File.WriteAllLines(UsersFile, File.ReadAllLines(UsersFile).Where(l => !l.StartsWith("erin:", StringComparison.Ordinal))
            .Append($"erin:{PasswordHashes.HashBcrypt("many-at-once", 12)}").Append($"frank:{PasswordHashes.HashBcrypt("signal", 4)}"));
        File.SetLastWriteTimeUtc(UsersFile, DateTime.UtcNow.AddSeconds(5));
        string frank = "407";
        for (int attempt = 0; attempt < 50 && frank != "200"; attempt++)
        {
            await Task.Delay(200);
            frank = await GetStatusAsync(proxy, origin.Port, "frank", "signal");
        }

        Assert.True(frank == "200", "the changed users file was not picked up");
        await BurstAsync("a cold cache after the users file changed");

        // Only failures count: the wrong password is refused after exactly the configured number of them.
        for (int i = 0; i < FailureThrottle.MaxFailuresPerUser; i++)
        {
            Assert.Equal("407", await GetStatusAsync(proxy, origin.Port, "erin", $"wrong-{i}"));
        }

        Assert.Equal("429", await GetStatusAsync(proxy, origin.Port, "erin", "wrong-again"));
    }

    [Fact]
    public async Task A_user_who_already_signed_in_is_served_while_guesses_at_their_name_are_refused()
    {
        await using TestProxy proxy = await StartAsync();
        Assert.Equal("502", await StatusWithAsync(proxy, "alice", "wonderland"));
        for (int i = 0; i < FailureThrottle.MaxFailuresPerUser + 2; i++)
        {
            await StatusWithAsync(proxy, "alice", $"attacker-{i}");
        }

        Assert.Equal("429", await StatusWithAsync(proxy, "alice", "yet-another-guess"));
        Assert.Equal("502", await StatusWithAsync(proxy, "alice", "wonderland")); // remembered: no verification needed
    }

    [Fact]
    public async Task A_password_with_a_nul_byte_is_refused_even_where_libcrypt_would_stop_at_it()
    {
        await using TestProxy proxy = await StartAsync();
        Assert.Equal("502", await StatusWithAsync(proxy, "carol", "Hello world!"));
        Assert.Equal("407", await StatusWithAsync(proxy, "carol", "Hello world!\0anything"));
    }

    [Theory]
    [InlineData("$2y$")]
    [InlineData("$2y$0")]
    [InlineData("$6$salt$tooshort")]
    public async Task A_malformed_hash_refuses_to_start_instead_of_failing_at_every_login(string hash)
    {
        File.AppendAllLines(UsersFile, [$"mallformed:{hash}"]);
        StartupException error = await Assert.ThrowsAsync<StartupException>(() => StartAsync());
        Assert.Equal(StartupFailure.UsersFile, error.Kind);
        Assert.Contains("user 'mallformed' has a malformed", error.Message);
    }

    [Fact]
    public async Task A_plain_text_entry_refuses_to_start_with_a_clear_error()
    {
        File.AppendAllLines(UsersFile, ["eve:hunter2"]);
        StartupException error = await Assert.ThrowsAsync<StartupException>(() => StartAsync());
        Assert.Equal(StartupFailure.UsersFile, error.Kind);
        Assert.Contains("user 'eve' has a plain-text password", error.Message);
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [Fact]
    public async Task Curl_authenticates_with_proxy_user()
    {
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await StartAsync();
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);
        var info = new ProcessStartInfo("curl", ["-q", "-sS", "-x", $"http://127.0.0.1:{proxy.Endpoint.Port}", "--proxy-user", "bob:builder", $"http://origin.test:{origin.Port}/hello"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string variable in new[] { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy" })
        {
            info.Environment.Remove(variable);
        }

        using var curl = Process.Start(info)!;
        string output = await curl.StandardOutput.ReadToEndAsync();
        string errors = await curl.StandardError.ReadToEndAsync();
        await curl.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.True(curl.ExitCode == 0, errors);
        Assert.Equal("hello from origin", output);
    }
}
