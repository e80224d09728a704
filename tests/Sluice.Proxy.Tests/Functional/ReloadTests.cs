using System.Collections.Concurrent;
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
        BlockingCollection<(bool, string)> outcomes = Outcomes(reloader);

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

    private string ConfigPath => Path.Combine(_dir, "sluice.yaml");

    /// <summary>A complete file: loopback listener, Basic auth against alice's users file, one allow rule per host.</summary>
    private string Guarded(string[] hosts, string extra = "")
    {
        string users = Path.Combine(_dir, "users.htpasswd");
        if (!File.Exists(users))
        {
            File.WriteAllText(users, $"alice:{Sluice.Proxy.Auth.PasswordHashes.HashBcrypt("wonderland", 5)}\n");
        }

        var text = new StringBuilder($"""
            name: {TestProxy.Name}
            listeners: [{"{"} address: 127.0.0.1:0 {"}"}]
            addresses: {"{"} allow: [127.0.0.0/8] {"}"}
            admin: off
            auth:
              basic:
                usersFile: {users}
            {extra}
            default: deny

            """);
        text.Append(hosts.Length > 0 ? "rules:\n" : "");
        foreach (string host in hosts)
        {
            text.Append($"""
                  - name: to-{host.Replace('.', '-')}
                    action: allow
                    destinations: ["{host}"]

                """);
        }

        return text.ToString();
    }

    private static string Alice => "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("alice:wonderland")) + "\r\n";

    private async Task<(TestProxy Proxy, RawOrigin Echo, ConfigReloader Reloader, BlockingCollection<(bool, string)> Outcomes)> StartFromFileAsync(string text, TimeSpan? settle = null)
    {
        await File.WriteAllTextAsync(ConfigPath, text);
        RawOrigin echo = RawOrigin.Echo();
        TestProxy proxy = await TestProxy.StartAsync(_ => ConfigLoader.LoadFile(ConfigPath));
        proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
        var reloader = settle is { } pause
            ? new ConfigReloader(proxy.Server, ConfigPath, NullLoggerFactory.Instance, pause)
            : new ConfigReloader(proxy.Server, ConfigPath, NullLoggerFactory.Instance);
        return (proxy, echo, reloader, Outcomes(reloader));
    }

    /// <summary>Every reload the reloader attempts, in order, for <see cref="Next"/> to wait on.</summary>
    private static BlockingCollection<(bool, string)> Outcomes(ConfigReloader reloader)
    {
        var outcomes = new BlockingCollection<(bool, string)>();
        reloader.Reloaded += (applied, message) => outcomes.Add((applied, message));
        return outcomes;
    }

    /// <summary>
    /// Rewrites the config file with <paramref name="complete"/> in two writes, cut before the echo.test rule so the
    /// first half is a valid file that lacks it; <paramref name="between"/> runs after the first half is flushed.
    /// </summary>
    private async Task WriteInTwoHalvesAsync(string complete, Func<Task> between)
    {
        int cut = complete.IndexOf("  - name: to-echo-test", StringComparison.Ordinal);
        await using var stream = new FileStream(ConfigPath, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(complete[..cut]));
        await stream.FlushAsync();
        await between();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(complete[cut..]));
        await stream.FlushAsync();
    }

    private static double RefusedReloads(TestProxy proxy) => ((Sluice.Proxy.Admin.IAdminSource)proxy.Server).Metrics.Reloads.WithLabels("failure").Value;

    [Fact]
    public async Task A_truncated_file_is_refused_and_the_old_rules_and_authentication_stay()
    {
        (TestProxy proxy, RawOrigin echo, ConfigReloader reloader, var outcomes) = await StartFromFileAsync(Guarded(["echo.test"]));
        await using (proxy)
        await using (echo)
        using (reloader)
        {
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "echo.test", Alice));

            // What `: > sluice.yaml` does: the same file, now zero bytes.
            await using (new FileStream(ConfigPath, FileMode.Truncate, FileAccess.Write)) { }
            (bool applied, string message) = Next(outcomes);
            Assert.False(applied, message);
            Assert.Contains("config reload refused", message);
            Assert.Contains("the file is empty", message);

            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "echo.test", Alice));
            Assert.Equal("407", await ConnectStatusAsync(proxy, echo.Port, "echo.test"));
            Assert.Equal("403", await ConnectStatusAsync(proxy, echo.Port, "other.test", Alice));
            Assert.Equal(1, proxy.Server.ConfigGeneration);
            Assert.Equal(1, RefusedReloads(proxy));
            Assert.Single(proxy.Server.CurrentConfig.Rules);

            // Only comments and blank lines: the same.
            await File.WriteAllTextAsync(ConfigPath, "# sluice.yaml\n\n   \n");
            (applied, message) = Next(outcomes);
            Assert.False(applied, message);
            Assert.Contains("the file is empty", message);
            Assert.Equal("407", await ConnectStatusAsync(proxy, echo.Port, "echo.test"));
            Assert.Equal(2, RefusedReloads(proxy));
        }
    }

    [Fact]
    public async Task A_file_written_in_two_halves_with_a_pause_is_applied_only_once_complete()
    {
        // A settle much longer than the writer's pause, so a slow machine cannot make the pause look like the end.
        (TestProxy proxy, RawOrigin echo, ConfigReloader reloader, var outcomes) = await StartFromFileAsync(Guarded(["echo.test"]), settle: TimeSpan.FromSeconds(2));
        await using (proxy)
        await using (echo)
        using (reloader)
        {
            // The new file has two rules; cut after the first, its first half is a valid file that lacks the second.
            await WriteInTwoHalvesAsync(Guarded(["other.test", "echo.test"]), () => Task.Delay(700)); // a writer that stalls between its two writes

            (bool applied, string message) = Next(outcomes);
            Assert.True(applied, message);
            Assert.StartsWith("config reloaded: 2 rules", message);
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "echo.test", Alice));
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "other.test", Alice));
            Assert.Equal(0, RefusedReloads(proxy));
        }
    }

    [Fact]
    public async Task A_reload_asked_for_while_the_file_is_half_written_waits_for_the_complete_file()
    {
        (TestProxy proxy, RawOrigin echo, ConfigReloader reloader, var outcomes) = await StartFromFileAsync(Guarded(["echo.test"]), settle: TimeSpan.FromSeconds(2));
        await using (proxy)
        await using (echo)
        using (reloader)
        {
            Task sighup = Task.CompletedTask;
            await WriteInTwoHalvesAsync(Guarded(["other.test", "echo.test"]), async () =>
            {
                sighup = reloader.ReloadNowAsync(); // SIGHUP in the middle of the write
                await Task.Delay(200);
            });
            GC.KeepAlive(sighup);

            (bool applied, string message) = Next(outcomes);
            Assert.True(applied, message);
            Assert.StartsWith("config reloaded: 2 rules", message);
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "echo.test", Alice));
        }
    }

    [Fact]
    public async Task A_file_refused_for_a_missing_users_file_is_read_again_once_that_file_appears()
    {
        (TestProxy proxy, RawOrigin echo, ConfigReloader reloader, var outcomes) = await StartFromFileAsync(Guarded(["echo.test"]));
        await using (proxy)
        await using (echo)
        using (reloader)
        {
            string next = Path.Combine(_dir, "users-next.htpasswd");
            await File.WriteAllTextAsync(ConfigPath, Guarded(["echo.test", "other.test"]).Replace(Path.Combine(_dir, "users.htpasswd"), next, StringComparison.Ordinal));
            (bool applied, string message) = Next(outcomes);
            Assert.False(applied, message);

            // Only the users file is fixed; the config file itself is untouched.
            await File.WriteAllTextAsync(next, $"alice:{Sluice.Proxy.Auth.PasswordHashes.HashBcrypt("wonderland", 4)}\n");
            (applied, message) = Next(outcomes);
            Assert.True(applied, $"the unchanged config was not read again once its users file appeared: {message}");
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "other.test", Alice));
        }
    }

    [Fact]
    public async Task A_reload_that_drops_every_rule_or_listener_is_refused_unless_the_file_says_it_means_it()
    {
        (TestProxy proxy, RawOrigin echo, ConfigReloader reloader, var outcomes) = await StartFromFileAsync(Guarded(["echo.test"]));
        await using (proxy)
        await using (echo)
        using (reloader)
        {
            // Every rule gone (the rest of the file intact): refused, nothing changes.
            await File.WriteAllTextAsync(ConfigPath, Guarded([]));
            (bool applied, string message) = Next(outcomes);
            Assert.False(applied, message);
            Assert.Contains("config reload refused", message);
            Assert.Contains("no rules", message);
            Assert.Contains("reload.allowNoRules", message);
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "echo.test", Alice));
            Assert.Equal(1, RefusedReloads(proxy));

            // Every listener gone (the file falls back to the default listener): refused, nothing changes.
            await File.WriteAllTextAsync(ConfigPath, Guarded(["other.test"]).Replace("listeners: [{ address: 127.0.0.1:0 }]\n", "", StringComparison.Ordinal));
            (applied, message) = Next(outcomes);
            Assert.False(applied, message);
            Assert.Contains("none of the running listeners", message);
            Assert.Contains("restart", message);
            Assert.Equal("403", await ConnectStatusAsync(proxy, echo.Port, "other.test", Alice));
            Assert.Equal(2, RefusedReloads(proxy));
            Assert.Equal(1, proxy.Server.ConfigGeneration);

            // The documented switch: the file says it means to have no rules, and it is applied.
            await File.WriteAllTextAsync(ConfigPath, Guarded([], extra: "reload: { allowNoRules: true }"));
            (applied, message) = Next(outcomes);
            Assert.True(applied, message);
            Assert.StartsWith("config reloaded: 0 rules, default deny", message);
            Assert.Equal("403", await ConnectStatusAsync(proxy, echo.Port, "echo.test", Alice));
            Assert.Equal(2, proxy.Server.ConfigGeneration);
            Assert.Equal(2, RefusedReloads(proxy));
        }
    }

    [Fact]
    public async Task A_configmap_update_that_swaps_the_data_symlink_is_applied()
    {
        // The layout the kubelet writes: sluice.yaml -> ..data/sluice.yaml, ..data -> ..<timestamp>; an update writes
        // a new timestamped folder and renames a new ..data symlink over the old one, then removes the old folder.
        string first = Path.Combine(_dir, "..2026_01_01_00_00_00.1");
        Directory.CreateDirectory(first);
        await File.WriteAllTextAsync(Path.Combine(first, "sluice.yaml"), Guarded(["echo.test"]));
        File.CreateSymbolicLink(Path.Combine(_dir, "..data"), Path.GetFileName(first));
        File.CreateSymbolicLink(ConfigPath, Path.Combine("..data", "sluice.yaml"));
        RawOrigin echo = RawOrigin.Echo();
        await using TestProxy proxy = await TestProxy.StartAsync(_ => ConfigLoader.LoadFile(ConfigPath));
        await using (echo)
        {
            proxy.Resolver.Map("echo.test", IPAddress.Loopback).Map("other.test", IPAddress.Loopback);
            using var reloader = new ConfigReloader(proxy.Server, ConfigPath, NullLoggerFactory.Instance);
            BlockingCollection<(bool, string)> outcomes = Outcomes(reloader);
            Assert.Equal("403", await ConnectStatusAsync(proxy, echo.Port, "other.test", Alice));

            string second = Path.Combine(_dir, "..2026_01_01_00_05_00.2");
            Directory.CreateDirectory(second);
            await File.WriteAllTextAsync(Path.Combine(second, "sluice.yaml"), Guarded(["echo.test", "other.test"]));
            File.CreateSymbolicLink(Path.Combine(_dir, "..data_tmp"), Path.GetFileName(second));
            using (var rename = System.Diagnostics.Process.Start("mv", ["-T", Path.Combine(_dir, "..data_tmp"), Path.Combine(_dir, "..data")])) // rename(2), as the kubelet does
            {
                await rename.WaitForExitAsync();
                Assert.Equal(0, rename.ExitCode);
            }

            Directory.Delete(first, recursive: true);

            (bool applied, string message) = Next(outcomes);
            Assert.True(applied, message);
            Assert.Equal("200", await ConnectStatusAsync(proxy, echo.Port, "other.test", Alice));
        }
    }

    private static (bool, string) Next(BlockingCollection<(bool, string)> outcomes) =>
        outcomes.TryTake(out (bool, string) item, TimeSpan.FromSeconds(20))
            ? item
            : throw new Xunit.Sdk.XunitException("the config file changed but no reload was attempted within 20 s");

    private static async Task<string> ConnectStatusAsync(TestProxy proxy, int port, string host = "echo.test", string headers = "")
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n");
        return (await client.ReadHeadAsync()).Split(' ')[1];
    }

    private static async Task AssertEchoesAsync(RawClient tunnel, string when)
    {
        byte[] message = Encoding.ASCII.GetBytes($"ping {when}");
        await tunnel.SendAsync(message);
        Assert.Equal(message, await tunnel.ReadExactlyAsync(message.Length));
    }
}
