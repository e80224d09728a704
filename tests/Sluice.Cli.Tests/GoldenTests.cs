using Sluice.Cli.Commands;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// `sluice check` and `sluice explain` on the shipped examples, compared with reviewed output in Golden/.
/// Set SLUICE_UPDATE_GOLDEN=1 to rewrite the files after an intended change, then review the diff.
/// No test here resolves a name: targets are IP literals, use --resolve to loopback, or --no-resolve.
/// </summary>
public sealed class GoldenTests
{
    public static TheoryData<string> Examples => new() { "vendor-allowlist", "data-platform", "mesh-egress" };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Check_summarises_each_example(string example)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = CheckCommand.Run(new FileInfo(ExamplePath(example)), output, errors);
        Assert.Equal(0, exit);
        Assert.Equal("", errors.ToString());
        AssertGolden($"check-{example}", output.ToString().Replace(ExamplePath(example), $"examples/{example}.yaml", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("vendor-core-allowed", "vendor-allowlist", "https://auth.example-vendor.com/", "10.1.1.1", "--no-resolve", false, 0)]
    [InlineData("vendor-internal-denied", "vendor-allowlist", "http://db.default.svc.cluster.local/", "10.1.1.1", "--no-resolve", false, 1)]
    [InlineData("vendor-wrong-client", "vendor-allowlist", "auth.example-vendor.com:443", "192.0.2.7", "--no-resolve", false, 1)]
    [InlineData("vendor-guard-refuses-loopback", "vendor-allowlist", "https://auth.example-vendor.com/", "10.1.1.1", "auth.example-vendor.com=127.0.0.5", false, 1)]
    [InlineData("vendor-raw-ip-not-allowed", "vendor-allowlist", "127.0.0.1:443", "10.1.1.1", "", false, 1)]
    [InlineData("data-ftp-passive", "data-platform", "ftp.partner.example:50021", "127.0.0.1", "--no-resolve", false, 0)]
    [InlineData("data-ftp-forwarded-refused", "data-platform", "http://ftp.partner.example:21/", "127.0.0.1", "--no-resolve", false, 1)]
    [InlineData("mesh-metadata-json", "mesh-egress", "169.254.169.254:443", "10.96.0.9", "", true, 1)]
    public async Task Explain_shows_every_rule_tried_and_the_outcome(string name, string example, string target, string client, string resolve, bool json, int expectedExit)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(target, client, null, null,
            resolve.Contains('=') ? [resolve] : [], NoResolve: resolve == "--no-resolve");
        int exit = await ExplainCommand.RunAsync(new FileInfo(ExamplePath(example)), request, json, output, errors, CancellationToken.None);
        Assert.Equal("", errors.ToString());
        Assert.Equal(expectedExit, exit);
        AssertGolden($"explain-{name}", output.ToString());
    }

    private static string ExamplePath(string example) => Path.Combine(AppContext.BaseDirectory, "examples", $"{example}.yaml");

    private static void AssertGolden(string name, string actual) => GoldenFile.AssertMatches(name, actual);
}
