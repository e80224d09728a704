using Sluice.Cli.Commands;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>The <c>clients:</c> section through the real executable: <c>sluice check</c> lists it, and the running
/// proxy's /proxy.pac follows the file when it is rewritten.</summary>
public sealed class ProxyPacReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-pac-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Check_lists_what_the_pac_file_tells_clients()
    {
        string path = Path.Combine(_dir, "sluice.yaml");
        File.WriteAllText(path, "clients:\n  proxyUrl: https://proxy.corp.example:3129\n  excluded: [.corp.example, 10.0.0.0/8]\n");
        var output = new StringWriter();
        Assert.Equal(0, CheckCommand.Run(new FileInfo(path), output, new StringWriter()));
        Assert.Contains("clients (the PAC file at the admin endpoint's /proxy.pac): proxy https://proxy.corp.example:3129; also direct: .corp.example, 10.0.0.0/8", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_served_pac_file_changes_when_the_config_file_does()
    {
        int proxyPort = Ports.Free();
        int adminPort = Ports.Free();
        string config = Path.Combine(_dir, "sluice.yaml");
        string[] Config(params string[] excluded) =>
            LoopbackConfig.Lines(proxyPort, adminPort, allow: null, "default: deny", "clients:", $"  excluded: [{string.Join(", ", excluded)}]");
        (string, string)[] cases = [("https://a.example/", "a.example"), ("https://b.example/", "b.example")];

        await File.WriteAllLinesAsync(config, Config("a.example"));
        using SluiceProcess sluice = SluiceProcess.Start("run", "--config", config);
        await sluice.WaitForStderrAsync(l => l.StartsWith("admin on http://127.0.0.1:", StringComparison.Ordinal), "the admin line");
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        string before = await admin.GetStringAsync("/proxy.pac");

        await File.WriteAllLinesAsync(config, Config("b.example"));
        await sluice.WaitForStderrAsync(l => l.Contains("config reloaded", StringComparison.Ordinal), "the reload line");
        string after = await admin.GetStringAsync("/proxy.pac");

        string[][] answers = await PacRunner.EvaluateAsync([new PacQuestions(before, cases), new PacQuestions(after, cases)]);
        string proxy = $"PROXY 127.0.0.1:{proxyPort}";
        Assert.Equal([["DIRECT", proxy], [proxy, "DIRECT"]], answers);
    }
}
