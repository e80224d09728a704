using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Parents.ParentKit;

namespace Sluice.Proxy.Tests.Parents;

/// <summary>One Squid that requires Basic authentication (alice / wonderland), shared by the tests of a class.</summary>
public sealed class AuthSquidWithOrigin : IAsyncLifetime
{
    public const string User = "alice";
    public const string Password = "wonderland";

    public TestOrigin Origin { get; private set; } = null!;

    public SquidParent Squid { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await TestOrigin.StartAsync();
        Squid = await SquidAsync(hosts: Hosts("origin.test"), name: "squid-auth.test", user: User, password: Password);
    }

    public async Task DisposeAsync()
    {
        await Squid.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

/// <summary>
/// Sluice's own credentials for a Squid that asks for them: read from a file or the environment, sent for forwarded
/// requests and CONNECT, never the client's; wrong ones are a 502 that names Squid, never a 407 to the client; a
/// reload re-reads the file, and one it cannot read is refused while the old credentials go on serving.
/// </summary>
public sealed class SquidAuthParentTests(AuthSquidWithOrigin fixture) : IClassFixture<AuthSquidWithOrigin>, IDisposable
{
    private readonly TestOrigin _origin = fixture.Origin;
    private readonly SquidParent _squid = fixture.Squid;
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-parent-auth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ConfigSource => Path.Combine(_dir, "sluice.yaml");

    private string PasswordFile(string password)
    {
        string path = Path.Combine(_dir, "corp-password");
        File.WriteAllText(path, password + "\n");
        return path;
    }

    private Task<TestProxy> ChildAsync(string credentials) =>
        ParentKit.ChildAsync(Corp([_squid.Url], more: $"credentials: {credentials}"), source: ConfigSource);

    private string Get(string marker) =>
        $"GET http://origin.test:{_origin.Port}/hello?{marker} HTTP/1.1\r\nHost: origin.test:{_origin.Port}\r\nConnection: close\r\n\r\n";

    [Fact]
    public async Task Credentials_from_a_password_file_serve_get_and_connect_and_squid_sees_them_never_the_clients()
    {
        string file = PasswordFile(AuthSquidWithOrigin.Password);
        await using TestProxy child = await ChildAsync($"{{ user: {AuthSquidWithOrigin.User}, passwordFile: {file} }}");
        const string clientCredentials = "Basic bWFsbG9yeTpndWVzcw=="; // mallory:guess, for Sluice (which has no auth) and no one else

        string reply = await ExchangeAsync(child.Endpoint, Get("file-get").Replace("Connection: close", $"Proxy-Authorization: {clientCredentials}\r\nConnection: close", StringComparison.Ordinal));
        string tunnelled = await TunnelGetAsync(child.Endpoint, $"origin.test:{_origin.Port}", $"Proxy-Authorization: {clientCredentials}\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", reply);
        Assert.EndsWith("hello from origin", reply);
        Assert.EndsWith("hello from origin", tunnelled);
        ParentRequest get = await _squid.WaitForRequestAsync(r => r.Target == $"http://origin.test:{_origin.Port}/hello?file-get");
        Assert.Equal(AuthSquidWithOrigin.User, get.User);
        Assert.Equal(_squid.ProxyAuthorization, get.Header("Proxy-Authorization"));
        ParentRequest connect = await _squid.WaitForRequestAsync(r => r.Method == "CONNECT" && r.Target == $"origin.test:{_origin.Port}");
        Assert.Equal(AuthSquidWithOrigin.User, connect.User);
        Assert.DoesNotContain(_squid.ReceivedRequests(), r => r.Header("Proxy-Authorization") == clientCredentials);
        string line = await _squid.WaitForAccessLogAsync(l => l.Contains("/hello?file-get", StringComparison.Ordinal));
        Assert.Contains($" {AuthSquidWithOrigin.User} HIER_DIRECT/", line);
    }

    [Fact]
    public async Task A_wrong_password_is_a_502_naming_squid_with_received_status_407_and_never_a_407()
    {
        await using TestProxy child = await ChildAsync($"{{ user: {AuthSquidWithOrigin.User}, passwordFile: {PasswordFile("not-the-password")} }}");
        string expected = $"{TestProxy.Name}; error=proxy_configuration_error; next-hop=\"{_squid.Endpoint}\"; received-status=407; details=";

        string forwarded = await ExchangeAsync(child.Endpoint, Get("wrong"));
        (string connect, RawClient? tunnel) = await ConnectAsync(child.Endpoint, $"origin.test:{_origin.Port}");

        Assert.Null(tunnel);
        foreach (string answer in new[] { forwarded, connect })
        {
            Assert.StartsWith("HTTP/1.1 502 ", answer);
            Assert.StartsWith(expected, Field(answer, "Proxy-Status"));
            Assert.Contains("refused the credentials of upstream corp (407)", Field(answer, "Proxy-Status"));
            Assert.Null(Field(answer, "Proxy-Authenticate")); // the client is not asked for anything: the fault is ours
            Assert.DoesNotContain("not-the-password", answer);
        }

        string line = await child.AccessLog.WaitForAsync(l => l.Contains("/hello?wrong"), "Sluice's line");
        Assert.Contains("/502 ", line);
    }

    [Fact]
    public async Task Without_credentials_squids_407_is_a_502_saying_the_upstream_needs_them()
    {
        await using TestProxy child = await ParentKit.ChildAsync(Corp([_squid.Url]));

        string forwarded = await ExchangeAsync(child.Endpoint, Get("none"));
        (string connect, _) = await ConnectAsync(child.Endpoint, $"origin.test:{_origin.Port}");

        foreach (string answer in new[] { forwarded, connect })
        {
            Assert.StartsWith("HTTP/1.1 502 ", answer);
            string status = Field(answer, "Proxy-Status")!;
            Assert.StartsWith($"{TestProxy.Name}; error=proxy_configuration_error; next-hop=\"{_squid.Endpoint}\"; received-status=407", status);
            Assert.Contains("asks for credentials (407); give upstream corp credentials", status);
            Assert.Null(Field(answer, "Proxy-Authenticate"));
        }
    }

    [Fact]
    public async Task Credentials_from_the_environment_serve_requests()
    {
        string suffix = Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();
        string userVariable = $"SLUICE_TEST_PARENT_USER_{suffix}";
        string passwordVariable = $"SLUICE_TEST_PARENT_PASSWORD_{suffix}";
        Environment.SetEnvironmentVariable(userVariable, AuthSquidWithOrigin.User);
        Environment.SetEnvironmentVariable(passwordVariable, "an-old-password");
        try
        {
            await using TestProxy child = await ChildAsync($"{{ userEnv: {userVariable}, passwordEnv: {passwordVariable} }}");
            Assert.StartsWith("HTTP/1.1 502 ", await ExchangeAsync(child.Endpoint, Get("env-old")));

            // The variable is read again when the configuration is applied.
            Environment.SetEnvironmentVariable(passwordVariable, AuthSquidWithOrigin.Password);
            child.Server.Reload(child.Server.CurrentConfig);
            string reply = await ExchangeAsync(child.Endpoint, Get("env"));
            string tunnelled = await TunnelGetAsync(child.Endpoint, $"origin.test:{_origin.Port}");

            Assert.StartsWith("HTTP/1.1 200 ", reply);
            Assert.EndsWith("hello from origin", tunnelled);
            Assert.Equal(AuthSquidWithOrigin.User, (await _squid.WaitForRequestAsync(r => r.Target == $"http://origin.test:{_origin.Port}/hello?env")).User);
        }
        finally
        {
            Environment.SetEnvironmentVariable(userVariable, null);
            Environment.SetEnvironmentVariable(passwordVariable, null);
        }
    }

    [Fact]
    public async Task A_reload_rereads_the_password_file_and_one_that_cannot_be_read_is_refused_while_the_old_serves()
    {
        string file = PasswordFile("rotated-away");
        await using TestProxy child = await ChildAsync($"{{ user: {AuthSquidWithOrigin.User}, passwordFile: {file} }}");
        using HttpClient client = Client(child);
        string url = $"http://origin.test:{_origin.Port}/hello";
        Assert.Equal(HttpStatusCode.BadGateway, (await client.GetAsync($"{url}?before")).StatusCode);

        // The Secret is rotated: the file changes, the configuration does not.
        PasswordFile(AuthSquidWithOrigin.Password);
        child.Server.Reload(child.Server.CurrentConfig);

        using (HttpResponseMessage after = await client.GetAsync($"{url}?after"))
        {
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        }

        Assert.EndsWith("hello from origin", await TunnelGetAsync(child.Endpoint, $"origin.test:{_origin.Port}"));

        // The file goes away: the reload is refused, naming where the configuration says to read it.
        File.Delete(file);
        ConfigException refused = Assert.Throws<ConfigException>(() => child.Server.Reload(child.Server.CurrentConfig));
        Assert.StartsWith($"{ConfigSource}:4:", refused.Message);
        Assert.Contains("upstreams[0].credentials.passwordFile", refused.Message);
        Assert.Contains(file, refused.Message);
        Assert.DoesNotContain(AuthSquidWithOrigin.Password, refused.Message);

        using HttpResponseMessage still = await client.GetAsync($"{url}?still");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.Equal(AuthSquidWithOrigin.User, (await _squid.WaitForRequestAsync(r => r.Target == $"{url}?still")).User);
    }
}
