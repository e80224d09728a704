using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Policy.Config;
using Sluice.Proxy.Reload;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>Hot reload: a valid file applies to new requests, a broken one changes nothing, and no open tunnel is dropped.</summary>
public sealed class ReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-reload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Policy(string action) => $"""
        name: {TestProxy.Name}
        listeners: [{"{"} address: 127.0.0.1:0 {"}"}]
        addresses: {"{"} allow: [127.0.0.0/8] {"}"}
        admin: off
        rules:
          - name: tunnels
            action: {action}
            destinations: ["echo.test"]
        default: deny
        """;

    [Fact]
    public async Task A_reload_applies_to_new_requests_a_broken_file_is_refused_and_open_tunnels_keep_relaying()
    {
        string path = Path.Combine(_dir, "sluice.yaml");
        await File.WriteAllTextAsync(path, Policy("allow"));
        await using RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(_ => ConfigLoader.LoadFile(path));
        proxy.Resolver.Map("echo.test", IPAddress.Loopback);
        using var reloader = new ConfigReloader(proxy.Server, path, NullLoggerFactory.Instance);
        var outcomes = new System.Collections.Concurrent.BlockingCollection<(bool Applied, string Message)>();
        reloader.Reloaded += (applied, message) => outcomes.Add((applied, message));

        using RawClient tunnel = await RawClient.ConnectAsync(proxy.Endpoint);
        await tunnel.SendAsync($"CONNECT echo.test:{echo.Port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await tunnel.ReadHeadAsync());
        await AssertEchoesAsync(tunnel, "before");

        // A broken file: refused as a whole; the allow rule stays in force.
        await File.WriteAllTextAsync(path, Policy("perhaps"));
        (bool applied, string message) = Next(outcomes);
        Assert.False(applied);
        Assert.Contains("config reload refused", message);
        Assert.Contains("action", message);
        Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port));
        await AssertEchoesAsync(tunnel, "after a refused reload");

        // A valid file that denies: new tunnels are refused, the open one goes on.
        await File.WriteAllTextAsync(path, Policy("deny"));
        (applied, message) = Next(outcomes);
        Assert.True(applied, message);
        Assert.StartsWith("config reloaded: 1 rules", message);
        Assert.Equal("403", await ConnectStatusAsync(proxy, echo.Port));
        await AssertEchoesAsync(tunnel, "after the policy changed");

        // SIGHUP's path: reload on request even when the file did not change.
        await reloader.ReloadNowAsync();
        Assert.True(Next(outcomes).Item1);
    }

    private static (bool, string) Next(System.Collections.Concurrent.BlockingCollection<(bool, string)> outcomes) =>
        outcomes.TryTake(out (bool, string) item, TimeSpan.FromSeconds(20))
            ? item
            : throw new Xunit.Sdk.XunitException("the config file changed but no reload was attempted within 20 s");

    private static async Task<string> ConnectStatusAsync(TestProxy proxy, int port)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT echo.test:{port} HTTP/1.1\r\nHost: echo.test\r\n\r\n");
        return (await client.ReadHeadAsync()).Split(' ')[1];
    }

    private static async Task AssertEchoesAsync(RawClient tunnel, string when)
    {
        byte[] message = Encoding.ASCII.GetBytes($"ping {when}");
        await tunnel.SendAsync(message);
        Assert.Equal(message, await tunnel.ReadExactlyAsync(message.Length));
    }
}
