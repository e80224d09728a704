using System.Diagnostics;
using System.Text.RegularExpressions;
using Sluice.Cli.Commands;
using Sluice.Client;
using Sluice.Client.Export;
using Xunit.Abstractions;

namespace Sluice.Cli.Tests.EnvMatrix;

/// <summary>
/// The runtime matrix: every case of <see cref="MatrixCases"/> exported by <c>sluice env</c> for each runtime's
/// format, the exact lines applied as that runtime applies them, and the real client sent to each destination inside
/// a namespace of the test's own (<see cref="MatrixLab"/>). Each (runtime, case, destination) must go where
/// Sluice's semantics (<see cref="NoProxyList"/>) say, or be named by a lint of that format whose
/// <see cref="ExportLint.Differs"/> claims that runtime for that entry. docs/client.md holds the outcome as a table.
/// </summary>
public sealed partial class EnvMatrixTests(ITestOutputHelper output) : IDisposable
{
    private const string ProxyUrl = "http://127.0.0.1:3128";

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-env-matrix-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Every_runtime_does_what_sluice_env_says()
    {
        IReadOnlyList<MatrixCase> cases = MatrixCases.All;
        IReadOnlyList<MatrixRuntime> runtimes = MatrixRuntimes.All;
        foreach (string program in runtimes.Select(r => r.Program).Distinct())
        {
            Assert.True(await ShAsync($"command -v {program}") is (0, _), $"{program} is not installed on this machine (not on PATH): the env matrix needs it (.ci/run installs it)");
        }

        Assert.True(File.Exists(MatrixRuntimes.DotnetClientPath), $"the .NET column's client is not built at {MatrixRuntimes.DotnetClientPath}");

        var lab = new MatrixLab(_dir);
        var exports = new Dictionary<(int Case, string Format), (string[] Lines, IReadOnlyList<ExportLint> Lints)>();
        for (int c = 0; c < cases.Count; c++)
        {
            foreach (string format in runtimes.Select(r => r.Format).Append("sh").Distinct())
            {
                exports[(c, format)] = Export(format, cases[c]);
                lab.WriteLines(c, format, exports[(c, format)].Lines);
            }
        }

        var stopwatch = Stopwatch.StartNew();
        (Dictionary<(string, int, int), MatrixOutcome> outcomes, Dictionary<string, string> outputs, string timing) = await lab.RunAsync(cases, runtimes);
        stopwatch.Stop();
        output.WriteLine($"matrix: {stopwatch.Elapsed.TotalSeconds:0.0} s ({timing})");

        var columns = new List<MatrixColumn>();
        foreach (MatrixRuntime runtime in runtimes)
        {
            (int _, string version) = await ShAsync(runtime.Version);
            columns.Add(new MatrixColumn(string.Format(System.Globalization.CultureInfo.InvariantCulture, runtime.Label, version.Trim()), runtime.Format, runtime.Client, (c, d) => outcomes[(runtime.Key, c, d)], outputs[runtime.Key]));
        }

        columns.Add(new MatrixColumn("Sluice.Client ProxyEnvironment (this build)", "sh", ClientRuntime.SluiceClient, (c, d) => SluiceClientOutcome(exports[(c, "sh")].Lines, cases[c].Destinations[d]), ""));

        var failures = new List<string>();
        var unobserved = new List<string>();
        var results = new List<MatrixResult>();
        foreach (MatrixColumn column in columns)
        {
            for (int c = 0; c < cases.Count; c++)
            {
                IReadOnlyList<ExportLint> lints = exports[(c, column.Format)].Lints;
                var differing = new List<(string Destination, MatrixOutcome Expected, MatrixOutcome Observed)>();
                for (int d = 0; d < cases[c].Destinations.Count; d++)
                {
                    MatrixOutcome expected = Expected(cases[c], cases[c].Destinations[d]);
                    MatrixOutcome observed = column.Outcome(c, d);
                    if (observed != expected)
                    {
                        differing.Add((cases[c].Destinations[d], expected, observed));
                    }
                }

                ExportLint[] explaining = [.. lints.Where(l => l.Differs.Contains(column.Client) && cases[c].Explains(l.Subject))];
                if (differing.Count == 0)
                {
                    // A claim about this very entry that the client did not bear out here: worth a look (the case's
                    // destinations may just not exercise it), so it is reported, not failed.
                    unobserved.AddRange(explaining.Where(l => l.Subject != cases[c].DestinationLint && !ExportLintSubjects.EveryDestination.Contains(l.Subject))
                        .Select(l => $"{column.Label}, case {cases[c].Id}: {l}"));
                }

                if (differing.Count > 0 && explaining.Length == 0)
                {
                    failures.Add($"{column.Label}, case {cases[c].Id} [--no-proxy {cases[c].Entries}], --format {column.Format}: "
                        + string.Join("; ", differing.Select(x => $"{x.Destination}: expected {x.Expected}, observed {x.Observed}"))
                        + $"; no lint names it (lints: {(lints.Count == 0 ? "none" : string.Join(" | ", lints))})");
                }

                results.Add(new MatrixResult(column, cases[c], differing.Select(x => $"{x.Destination} {Describe(x.Observed)}").ToArray(), differing.Count > 0 ? explaining : []));
            }
        }

        output.WriteLine($"claims not borne out by this run's destinations ({unobserved.Count}):\n" + string.Join("\n", unobserved));
        Assert.True(failures.Count == 0, $"{failures.Count} (runtime, case) pairs differ from the semantics without a lint naming them (matrix ran in {stopwatch.Elapsed.TotalSeconds:0.0} s):\n"
            + string.Join("\n", failures) + "\n\nclient output:\n" + string.Join("\n", outputs.Select(o => $"--- {o.Key}\n{o.Value}")));
        MatrixDoc.Check(columns, cases, results);
    }

    /// <summary>Sluice's documented semantics for a destination.</summary>
    private static MatrixOutcome Expected(MatrixCase @case, string destination)
    {
        var uri = new Uri($"http://{destination}/");
        return NoProxyList.Parse(@case.Entries).Bypasses(uri.IdnHost, uri.Port) ? MatrixOutcome.Direct : MatrixOutcome.Proxied;
    }

    /// <summary>Sluice.Client's own reading of the sh lines (ProxyEnvironment, as an application using the library does).</summary>
    private static MatrixOutcome SluiceClientOutcome(string[] shLines, string destination)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in shLines)
        {
            Match m = ExportLine().Match(line);
            Assert.True(m.Success, $"not an export line: {line}");
            variables[m.Groups[1].Value] = m.Groups[2].Value.Replace("'\\''", "'", StringComparison.Ordinal);
        }

        ProxySettings? settings = ProxyEnvironment.ForHttp(name => variables.GetValueOrDefault(name));
        return settings is null || settings.Excluded.Bypasses(new Uri($"http://{destination}/")) ? MatrixOutcome.Direct : MatrixOutcome.Proxied;
    }

    private static string Describe(MatrixOutcome outcome) => outcome switch
    {
        MatrixOutcome.Direct => "direct",
        MatrixOutcome.Proxied => "proxied",
        _ => "failed",
    };

    /// <summary>The exact stdout of <c>sluice env</c> and the lints it printed (each checked to be on its stderr).</summary>
    private static (string[] Lines, IReadOnlyList<ExportLint> Lints) Export(string format, MatrixCase @case)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = EnvCommand.Run(new EnvCommand.EnvRequest(format, ProxyUrl, NoProxy: [@case.Entries]), output, errors);
        Assert.True(exit == 0, $"sluice env --format {format} --no-proxy '{@case.Entries}' failed: {errors}");
        ProxySettings settings = ProxySettings.FromUrl(ProxyUrl) with { Excluded = NoProxyList.Parse(@case.Entries) };
        IReadOnlyList<ExportLint> lints = ProxyExporters.Find(format)!.Export(new ExportRequest(settings)).Lints;
        foreach (ExportLint lint in lints)
        {
            Assert.Contains($"sluice env: {format}: {lint}", errors.ToString(), StringComparison.Ordinal);
        }

        return (output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray(), lints);
    }

    private static async Task<(int Exit, string Output)> ShAsync(string command)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output);
    }

    [GeneratedRegex("^export ([A-Za-z_]+)='(.*)'$")]
    private static partial Regex ExportLine();
}

/// <summary>One column of the table: a client with the version found, its format, and its outcome per (case, destination).</summary>
internal sealed record MatrixColumn(string Label, string Format, ClientRuntime Client, Func<int, int, MatrixOutcome> Outcome, string Output);

/// <summary>One (column, case) cell: the destinations that differ from the semantics, and the lints that name them.</summary>
internal sealed record MatrixResult(MatrixColumn Column, MatrixCase Case, IReadOnlyList<string> Differing, IReadOnlyList<ExportLint> Lints);
