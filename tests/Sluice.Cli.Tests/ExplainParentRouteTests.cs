using System.Text;
using System.Text.Json;
using Sluice.Cli.Commands;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// <c>sluice explain</c> for requests that leave through parent proxies: the route with its order and how it was chosen,
/// what the address guard did with the name (checked here, sent up by name, left to the parent), as text and JSON,
/// compared with reviewed output in Golden/. No name is looked up in real DNS and no parent is connected to.
/// </summary>
public sealed class ExplainParentRouteTests : IDisposable
{
    private const string PasswordVariable = "SLUICE_TEST_EXPLAIN_CORP_PASSWORD";

    private const string Config = """
        name: sluice-golden
        listeners: [{ address: 127.0.0.1:3128 }]
        addresses:
          allow: [127.0.0.0/8]
        upstreams:
          - name: corp
            proxies: ["http://proxy-a.corp:3128", "https://proxy-b.corp:3129"]
            credentials: { user: alice, passwordEnv: SLUICE_TEST_EXPLAIN_CORP_PASSWORD }
          - name: trusting
            proxies: ["http://proxy-c.corp:3128"]
            checkDestinations: parent
        rules:
          - { name: saas, action: allow, destinations: [".example-saas.com"], via: corp }
          - { name: mirror, action: allow, destinations: [mirror.example.org], via: direct }
          - { name: inside, action: allow, destinations: [".inside.test"], via: trusting }
          - { name: web, action: allow, destinations: [".example.net"] }
        route: { default: corp }
        default: deny
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-explain-parents-").FullName;

    private readonly FileInfo _config;

    public ExplainParentRouteTests()
    {
        _config = new FileInfo(Path.Combine(_dir, "sluice.yaml"));
        File.WriteAllText(_config.FullName, Config);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("explain-parent-via-rule", "app.example-saas.com:443", "app.example-saas.com=127.0.0.1", false, 0)]
    [InlineData("explain-parent-via-rule-json", "app.example-saas.com:443", "app.example-saas.com=127.0.0.1", true, 0)]
    [InlineData("explain-parent-route-default", "http://www.example.net/", "www.example.net=127.0.0.1", false, 0)]
    [InlineData("explain-parent-split-horizon", "https://intranet.example-saas.com/", "", false, 0)]
    [InlineData("explain-parent-split-horizon-json", "https://intranet.example-saas.com/", "", true, 0)]
    [InlineData("explain-parent-checked-by-parent", "wiki.inside.test:443", "", false, 0)]
    [InlineData("explain-parent-one-address-refused", "half.example-saas.com:443", "half.example-saas.com=10.0.0.5,half.example-saas.com=127.0.0.1", false, 1)]
    [InlineData("explain-parent-via-direct", "mirror.example.org:443", "mirror.example.org=127.0.0.1", false, 0)]
    public async Task Explain_shows_the_route_through_parents_and_what_the_guard_did(string name, string target, string resolve, bool json, int expectedExit)
    {
        (int exit, string output, string errors) = await ExplainAsync(target, resolve, json);
        Assert.Equal("", errors);
        Assert.Equal(expectedExit, exit);
        GoldenFile.AssertMatches(name, output);
    }

    [Fact]
    public async Task The_route_is_in_the_json_with_parents_in_order_and_who_resolves()
    {
        (_, string output, _) = await ExplainAsync("wiki.inside.test:443", "", json: true);
        using JsonDocument document = JsonDocument.Parse(output);
        JsonElement root = document.RootElement;
        Assert.Equal("parent", root.GetProperty("route").GetString());
        Assert.Equal("trusting", root.GetProperty("upstream").GetString());
        Assert.Equal(["proxy-c.corp:3128"], root.GetProperty("parents").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("parent", root.GetProperty("checkDestinations").GetString());
        Assert.Equal("parent", root.GetProperty("resolvedBy").GetString());
        Assert.Equal("rule", root.GetProperty("routeChosenBy").GetString());
        Assert.Empty(root.GetProperty("addresses").EnumerateArray());
    }

    [Fact]
    public async Task Explain_never_prints_an_upstream_credential_nor_needs_it()
    {
        const string secret = "Tr0ub4dor-upstream-Zq9";
        string[] forbidden =
        [
            secret,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)),
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"alice:{secret}")),
        ];
        string? before = Environment.GetEnvironmentVariable(PasswordVariable);
        try
        {
            foreach (string? value in new[] { secret, null })
            {
                Environment.SetEnvironmentVariable(PasswordVariable, value);
                foreach (string target in new[] { "app.example-saas.com:443", "http://www.example.net/x", "https://intranet.example-saas.com/", "half.example-saas.com:443" })
                {
                    foreach (bool json in new[] { false, true })
                    {
                        (int exit, string output, string errors) = await ExplainAsync(target, "app.example-saas.com=127.0.0.1,www.example.net=127.0.0.1,half.example-saas.com=10.0.0.5", json);
                        Assert.True(exit is 0 or 1, $"explain failed: {errors}");
                        Assert.Contains("corp", output, StringComparison.Ordinal);
                        Assert.All(forbidden, f => Assert.DoesNotContain(f, output + errors, StringComparison.Ordinal));
                    }
                }
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(PasswordVariable, before);
        }
    }

    private async Task<(int Exit, string Output, string Errors)> ExplainAsync(string target, string resolve, bool json)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(target, "127.0.0.1", null, null, resolve.Length == 0 ? [] : resolve.Split(','), NoResolve: false);
        // Names not given with --resolve do not exist: the split-horizon case, without asking real DNS.
        int exit = await ExplainCommand.RunAsync(_config, request, json, output, errors, new MapResolver(), CancellationToken.None);
        return (exit, output.ToString(), errors.ToString());
    }
}
