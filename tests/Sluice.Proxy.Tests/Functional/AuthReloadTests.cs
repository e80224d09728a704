using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>These tests read process-wide counters and hook every hash computation, so nothing runs beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AuthHooksCollection
{
    public const string Name = "process-wide auth hooks";
}

/// <summary>Reloads that change <c>auth.basic</c>: nothing leaks, nothing learnt is forgotten, nothing slow runs in the reload.</summary>
[Collection(AuthHooksCollection.Name)]
public sealed class AuthReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-auth-reload-").FullName;

    public AuthReloadTests()
    {
        // Cost 4, the cheapest bcrypt: these tests are about reloads, not hashing.
        UsersFile = Path.Combine(_dir, "users.htpasswd");
        File.WriteAllLines(UsersFile, [$"alice:{PasswordHashes.HashBcrypt("wonderland", 4)}", $"bob:{PasswordHashes.HashBcrypt("builder", 4)}"]);
        File.WriteAllText(Path.Combine(_dir, "groups-a"), "etl: bob\n");
        File.WriteAllText(Path.Combine(_dir, "groups-b"), "etl: alice bob\n");
    }

    private string UsersFile { get; }

    public void Dispose()
    {
        PasswordHashes.BeforeComputing = null;
        Directory.Delete(_dir, recursive: true);
    }

    private BasicAuthConfig Basic(string realm, string groups = "groups-a", string? users = null) =>
        new() { Realm = realm, UsersFile = users ?? UsersFile, GroupsFile = Path.Combine(_dir, groups) };

    private Task<TestProxy> StartAsync() =>
        TestProxy.StartAsync(c => c with { Auth = new AuthConfig { Basic = Basic("egress") } });

    private static void Reload(TestProxy proxy, BasicAuthConfig basic) =>
        proxy.Server.Reload(proxy.Server.CurrentConfig with { Auth = new AuthConfig { Basic = basic } });

    private static async Task<string> HeadWithAsync(TestProxy proxy, string? user, string password)
    {
        string authorization = user is null ? "" : $"Proxy-Authorization: Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"))}\r\n";
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"GET http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\n{authorization}\r\n");
        return await client.ReadHeadAsync(timeoutMs: 60_000); // an unknown name: 502 once authenticated, 407/429 before
    }

    private static async Task<string> StatusWithAsync(TestProxy proxy, string user, string password) =>
        (await HeadWithAsync(proxy, user, password)).Split(' ')[1];

    [Fact]
    public async Task A_thousand_reloads_changing_auth_basic_leave_one_authenticator_keep_what_was_learnt_and_memory_flat()
    {
        int before = BasicAuthenticator.Live;
        await using TestProxy proxy = await StartAsync();
        Assert.Equal("502", await StatusWithAsync(proxy, "alice", "wonderland")); // remembered from now on
        for (int i = 0; i < FailureThrottle.MaxFailuresPerUser; i++)
        {
            Assert.Equal("407", await StatusWithAsync(proxy, "alice", $"guess-{i}"));
        }

        Assert.Equal("429", await StatusWithAsync(proxy, "alice", "one-more-guess"));
        long memory = GC.GetTotalMemory(forceFullCollection: true);

        for (int i = 0; i < 1_000; i++)
        {
            Reload(proxy, Basic($"realm-{i}", i % 2 == 0 ? "groups-b" : "groups-a")); // the realm every time, the groups file every other
        }

        long grown = GC.GetTotalMemory(forceFullCollection: true) - memory;
        string challenge = await HeadWithAsync(proxy, null, "");
        string guess = await StatusWithAsync(proxy, "alice", "guess-after-the-reloads");
        string remembered = await StatusWithAsync(proxy, "alice", "wonderland");
        int live = BasicAuthenticator.Live - before;
        Assert.Multiple(
            () => Assert.Contains("Proxy-Authenticate: Basic realm=\"realm-999\"", challenge),
            () => Assert.True(guess == "429", $"the failure count did not survive the reloads: a further guess got {guess}"),
            () => Assert.True(remembered == "502", $"the remembered success did not survive the reloads: alice got {remembered} while her name is throttled"),
            () => Assert.True(live == 1, $"{live} authenticators (each with a timer) are alive after 1,000 reloads, not 1"),
            () => Assert.True(grown < 32 * 1024 * 1024, $"the heap grew by {grown / 1024} KiB over 1,000 reloads"));

        await proxy.StopAsync();
        await proxy.DisposeAsync();
        Assert.True(BasicAuthenticator.Live == before, $"{BasicAuthenticator.Live - before} authenticators are alive after the server was disposed");
    }

    [Fact]
    public async Task A_reload_changing_auth_basic_completes_while_a_verification_is_in_progress()
    {
        string otherUsers = Path.Combine(_dir, "other.htpasswd");
        File.Copy(UsersFile, otherUsers);
        await using TestProxy proxy = await StartAsync();
        using var verifying = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim(false);
        PasswordHashes.BeforeComputing = () =>
        {
            verifying.Release();
            release.Wait(TimeSpan.FromMinutes(5)); // released by the test, whatever happens
        };

        try
        {
            Task<string> login = StatusWithAsync(proxy, "alice", "wonderland");
            Assert.True(await verifying.WaitAsync(TimeSpan.FromSeconds(60)), "the verification of alice's password never started");

            // While that verification is held: a new realm and groups file, then another users file. Neither reload
            // may hash or verify anything, so both finish while the verification is still waiting.
            Task reloads = Task.Run(() =>
            {
                Reload(proxy, Basic("realm-during", "groups-b"));
                Reload(proxy, Basic("realm-during", "groups-b", otherUsers));
            });
            Task first = await Task.WhenAny(reloads, Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(first == reloads, "the reloads did not complete while a password verification was in progress");
            await reloads;
            Assert.False(login.IsCompleted, "the held verification finished before it was released");

            Assert.Contains("Proxy-Authenticate: Basic realm=\"realm-during\"", await HeadWithAsync(proxy, null, ""));
            release.Set();
            Assert.Equal("502", await login); // the connection that started before the reloads still authenticates
        }
        finally
        {
            PasswordHashes.BeforeComputing = null;
            release.Set();
        }

        Assert.Equal("502", await StatusWithAsync(proxy, "bob", "builder")); // and the users of the new file do too
    }
}
