using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>`sluice run` as a user runs it: a real process, a config file, signals.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Help_explains_every_option_of_run()
    {
        (int exit, string stdout, _) = await SluiceProcess.RunAsync("run", "--help");
        Assert.Equal(0, exit);
        foreach (string option in new[] { "--config", "--verbose" })
        {
            Assert.Contains(option, stdout);
        }

        (exit, stdout, _) = await SluiceProcess.RunAsync("--help");
        Assert.Equal(0, exit);
        Assert.Contains("run", stdout);
    }

    [Fact]
    public async Task Run_prints_one_line_per_listener_serves_and_stops_cleanly_on_sigterm()
    {
        int v4 = Ports.Free(IPAddress.Loopback);
        int v6 = Ports.Free(IPAddress.IPv6Loopback);
        string config = Path.Combine(_dir, "sluice.yaml");
        await File.WriteAllTextAsync(config, $"""
            listeners:
              - address: 127.0.0.1:{v4}
              - address: "[::1]:{v6}"
            log: {"{"} access: stdout, format: squid {"}"}
            admin: off
            """);

        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l == $"listening on http://127.0.0.1:{v4}", "the IPv4 ready line");
        await sluice.WaitForStderrAsync(l => l == $"listening on http://[::1]:{v6}", "the IPv6 ready line");

        // An origin-form request is answered by the proxy itself: proof it serves, with no upstream at all.
        using (var client = new TcpClient(AddressFamily.InterNetworkV6))
        {
            await client.ConnectAsync(IPAddress.IPv6Loopback, v6);
            NetworkStream stream = client.GetStream();
            await stream.WriteAsync("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            string response = await new StreamReader(stream).ReadToEndAsync();
            Assert.StartsWith("HTTP/1.1 400 Bad Request", response);
            Assert.Contains("forward proxy", response);
        }

        sluice.Signal("TERM");
        Assert.Equal(0, await sluice.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(sluice.Stderr, l => l.StartsWith("stopped after", StringComparison.Ordinal));
        Assert.Contains(sluice.Stdout, l => l.Contains("NONE_NONE/400", StringComparison.Ordinal) && l.Contains(" GET ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("run", "--config")]
    [InlineData("explain")]
    [InlineData("no-such-command")]
    public async Task Usage_errors_exit_2_with_a_pointer_to_help(params string[] args)
    {
        (int exit, _, string stderr) = await SluiceProcess.RunAsync(args);
        Assert.Equal(2, exit);
        Assert.Contains("sluice --help", stderr);
    }

    [Fact]
    public async Task A_bad_config_is_refused_with_file_line_and_column()
    {
        string config = Path.Combine(_dir, "bad.yaml");
        await File.WriteAllTextAsync(config, "listeners:\n  - address: 127.0.0.1:3128\ntimeouts:\n  conect: 5s\n");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("run", "--config", config);
        Assert.Equal(2, exit);
        Assert.Contains($"{config}:4:3: unknown key 'conect' in timeouts", stderr);
    }

    [Theory]
    [InlineData("", "a truncated file")]
    [InlineData("# sluice.yaml\n\n", "only a comment")]
    public async Task An_empty_config_file_is_refused_at_start(string text, string why)
    {
        string config = Path.Combine(_dir, "empty.yaml");
        await File.WriteAllTextAsync(config, text);
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("run", "--config", config);
        Assert.True(exit == 2, $"{why}: exit {exit}: {stderr}");
        Assert.Contains($"sluice: {config}: the file is empty", stderr);
        Assert.Contains("write {} for a configuration of all defaults", stderr);
    }

    [Fact]
    public async Task A_listener_port_in_use_is_one_line_naming_the_listener_and_a_startup_exit_code()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        int port = ((IPEndPoint)busy.LocalEndpoint).Port;
        string config = Path.Combine(_dir, "busy.yaml");
        await File.WriteAllTextAsync(config, $"listeners:\n  - address: 127.0.0.1:{port}\nadmin: off\n");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("run", "--config", config);
        Assert.Equal(3, exit);
        string line = Assert.Single(NonEmptyLines(stderr));
        Assert.StartsWith($"sluice: cannot bind the listener 127.0.0.1:{port}: ", line);
    }

    [Fact]
    public async Task An_admin_port_in_use_is_one_line_naming_the_admin_endpoint_without_kestrels_stack_trace()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        int port = ((IPEndPoint)busy.LocalEndpoint).Port;
        string config = Path.Combine(_dir, "busy-admin.yaml");
        await File.WriteAllTextAsync(config, $"listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:{port}\n");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("run", "--config", config);
        Assert.Equal(3, exit);
        string line = Assert.Single(NonEmptyLines(stderr));
        Assert.StartsWith($"sluice: cannot bind the admin endpoint 127.0.0.1:{port}: ", line);
        Assert.True(line.Length < 200, $"one short line, not a stack trace: {line}");
    }

    [Fact]
    public async Task An_access_log_file_that_cannot_be_opened_is_one_line_naming_it_and_a_startup_exit_code_not_a_bug()
    {
        string log = Path.Combine(_dir, "no-such-folder", "access.log");
        string config = Path.Combine(_dir, "bad-log.yaml");
        await File.WriteAllTextAsync(config, $"listeners:\n  - address: 127.0.0.1:0\nadmin: off\nlog:\n  access: {log}\n");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("run", "--config", config);
        Assert.True(exit == 3, $"exit {exit}: {stderr}");
        string line = Assert.Single(NonEmptyLines(stderr));
        Assert.StartsWith($"sluice: cannot open the access log {log}: ", line);
    }

    [Fact]
    public async Task A_tls_key_the_process_may_not_read_is_one_line_naming_the_listener_and_a_startup_exit_code_not_a_bug()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        using X509Certificate2 certificate = Proxy.Tests.Infrastructure.TestCertificates.SelfSigned("proxy.test");
        string cert = Path.Combine(_dir, "proxy.crt");
        string key = Path.Combine(_dir, "proxy.key");
        await File.WriteAllTextAsync(cert, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(key, UnixFileMode.None); // as a key owned by another account, mode 0600, is to the service
        string config = Path.Combine(_dir, "tls.yaml");
        await File.WriteAllTextAsync(config, $"listeners:\n  - address: 127.0.0.1:0\n    tls:\n      certificate: {cert}\n      key: {key}\nadmin: off\nlog:\n  access: off\n");
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(cert, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using SluiceProcess? sluice = SluiceProcess.StartUnprivileged("run", "--config", config);
        if (sluice is null)
        {
            return; // root without a way to drop privileges: every file is readable
        }

        int exit = await sluice.WaitForExitAsync(TimeSpan.FromSeconds(60));
        string stderr = string.Join("\n", sluice.Stderr);
        Assert.True(exit == 3, $"exit {exit}: {stderr}");
        string line = Assert.Single(NonEmptyLines(stderr));
        Assert.StartsWith("sluice: the TLS listener 127.0.0.1:0: ", line);
        Assert.Contains(key, line);
    }

    [Fact]
    public void A_startup_failure_is_the_operators_to_fix_and_any_other_exception_is_reported_as_a_bug()
    {
        var output = new StringWriter();
        int exit = Commands.RunCommand.ReportStartFailure(new Proxy.StartupException(Proxy.StartupFailure.UsersFile, "/etc/sluice/users:3: user 'eve' is listed twice"), output);
        Assert.Equal(3, exit);
        Assert.Equal("sluice: /etc/sluice/users:3: user 'eve' is listed twice", output.ToString().TrimEnd());

        output = new StringWriter();
        InvalidOperationException bug;
        try
        {
            throw new InvalidOperationException("Sequence contains no elements");
        }
        catch (InvalidOperationException e)
        {
            bug = e;
        }

        exit = Commands.RunCommand.ReportStartFailure(bug, output);
        Assert.Equal(70, exit);
        Assert.StartsWith("sluice: internal error while starting (a bug in sluice, not in the configuration", output.ToString());
        Assert.Contains("System.InvalidOperationException: Sequence contains no elements", output.ToString());
        Assert.Contains("   at ", output.ToString()); // the stack trace, for the bug report
    }

    private static string[] NonEmptyLines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

}
