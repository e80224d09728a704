using System.Diagnostics;
using System.Text.Json;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>A PAC file and the (url, host) pairs to ask it about, as a browser calls <c>FindProxyForURL(url, host)</c>.</summary>
public sealed record PacQuestions(string Script, IReadOnlyList<(string Url, string Host)> Cases);

/// <summary>
/// Evaluates PAC files in Node, all of them in one process. Each script runs in a context of its own that holds
/// nothing but the ECMAScript built-ins: no PAC helper (dnsResolve, isInNet, shExpMatch...) is defined, so a script
/// that called one would fail here, as it would in a strict engine.
/// </summary>
public static class PacRunner
{
    private const string Harness = """
        const vm = require("vm");
        let input = "";
        process.stdin.setEncoding("utf8");
        process.stdin.on("data", c => input += c);
        process.stdin.on("end", () => {
          const answers = JSON.parse(input).map(q => {
            const context = vm.createContext({});
            vm.runInContext(q.script, context);
            return q.cases.map(c => String(context.FindProxyForURL(c[0], c[1])));
          });
          process.stdout.write(JSON.stringify(answers));
        });
        """;

    /// <summary>The answer of each script to each of its cases, in order.</summary>
    public static async Task<string[][]> EvaluateAsync(IReadOnlyList<PacQuestions> questions)
    {
        var start = new ProcessStartInfo("node", ["-e", Harness])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        Task<string> stdout = node.StandardOutput.ReadToEndAsync();
        Task<string> stderr = node.StandardError.ReadToEndAsync();
        object[] payload = [.. questions.Select(q => new { script = q.Script, cases = q.Cases.Select(c => new[] { c.Url, c.Host }).ToArray() })];
        await node.StandardInput.WriteAsync(JsonSerializer.Serialize(payload));
        node.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await node.WaitForExitAsync(timeout.Token);
        string output = await stdout;
        if (node.ExitCode != 0)
        {
            throw new InvalidOperationException($"node failed to evaluate the PAC files (exit {node.ExitCode}): {await stderr}");
        }

        return JsonSerializer.Deserialize<string[][]>(output) ?? throw new InvalidOperationException("node wrote no answers");
    }
}
