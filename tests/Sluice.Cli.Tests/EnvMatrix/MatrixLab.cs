using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Sluice.Cli.Tests.EnvMatrix;

public enum MatrixOutcome
{
    Direct,
    Proxied,

    /// <summary>Neither listener saw the request: the client refused or failed before sending it.</summary>
    Failed,
}

/// <summary>
/// Runs every runtime of the matrix inside one network and mount namespace made for the run (<c>unshare -n -m</c>):
/// only loopback, with each destination address added to it, the names in a hosts file bound over /etc/hosts there
/// (never the machine's), a resolver that answers nothing, and the listeners of listeners.py. Nothing leaves the
/// namespace. Each (runtime, case, destination) request carries a path token, so where it went is read from what
/// the listeners recorded.
/// </summary>
internal sealed class MatrixLab(string dir)
{
    public const int ProxyPort = 3128;

    private static readonly string[] InheritedProxyVariables =
    [
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "NODE_USE_ENV_PROXY", "REQUEST_METHOD", "APT_CONFIG",
        "GIT_CONFIG_GLOBAL", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "npm_config_proxy", "npm_config_https_proxy", "npm_config_noproxy",
    ];

    public string Directory { get; } = dir;

    public static string Url(string runtime, int @case, int destination, string hostPort) => $"http://{hostPort}{Token(runtime, @case, destination)}";

    private static string Token(string runtime, int @case, int destination) => $"/r/{runtime}/c{@case}/d{destination}/";

    /// <summary>Writes <c>FORMAT.lines</c> for one case (the exact stdout of <c>sluice env</c>).</summary>
    public void WriteLines(int @case, string format, IEnumerable<string> lines)
    {
        string folder = CaseFolder(@case);
        System.IO.Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, $"{format}.lines"), string.Join("\n", lines) + "\n");
    }

    /// <summary>Runs the runtimes over the cases; the outcome of each (runtime key, case, destination), and each runtime's stderr.</summary>
    public async Task<(Dictionary<(string Runtime, int Case, int Destination), MatrixOutcome> Outcomes, Dictionary<string, string> Errors, string Timing)> RunAsync(IReadOnlyList<MatrixCase> cases, IReadOnlyList<MatrixRuntime> runtimes)
    {
        string clients = Path.Combine(AppContext.BaseDirectory, "EnvMatrix", "clients");
        string seen = Path.Combine(Directory, "seen.log");
        var script = new StringBuilder();
        script.AppendLine("set -u");
        script.AppendLine(CultureInfo.InvariantCulture, $"unset {string.Join(' ', InheritedProxyVariables)}");
        script.AppendLine(CultureInfo.InvariantCulture, $"export LAB={Sh(Directory)} CLIENTS={Sh(clients)} GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false");
        // The interpreter itself, not a version manager's shim, which costs a shell per start.
        script.AppendLine("PY=$(python3 -c 'import sys; print(sys.executable)')");
        script.AppendLine("ip link set lo up");
        foreach (string address in Addresses(cases))
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"ip addr add {address}/{(address.Contains(':') ? 128 : 32)} dev lo");
        }

        File.WriteAllText(Path.Combine(Directory, "hosts"), HostsFile());
        File.WriteAllText(Path.Combine(Directory, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
        script.AppendLine("mount --bind \"$LAB/hosts\" /etc/hosts");
        script.AppendLine("mount --bind \"$LAB/resolv.conf\" /etc/resolv.conf");
        script.AppendLine(CultureInfo.InvariantCulture, $"\"$PY\" \"$CLIENTS/listeners.py\" {Sh(seen)} {ProxyPort} {MatrixCases.Port} {MatrixCases.OtherPort} &");
        script.AppendLine("listeners=$!");
        script.AppendLine(CultureInfo.InvariantCulture, $"i=0; until grep -q '^ready' {Sh(seen)} 2>/dev/null; do i=$((i+1)); [ $i -gt 200 ] && {{ echo 'the listeners did not start' >&2; exit 3; }}; sleep 0.05; done");
        // One column after the other: side by side on a small machine, the clients' process starts contend and a
        // slow start can exceed a client's timeout.
        foreach (MatrixRuntime runtime in runtimes)
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"start=$(date +%s%N)");
            for (int c = 0; c < cases.Count; c++)
            {
                int @case = c;
                if (runtime.Command(key => string.Join(' ', cases[@case].Destinations.Select((d, i) => Sh(Url(key, @case, i, d))))) is { } command)
                {
                    script.AppendLine(CultureInfo.InvariantCulture, $"( cd {Sh(CaseFolder(c))} && mkdir -p home-{runtime.Key} && export HOME=\"$PWD/home-{runtime.Key}\" && {command} ) >>\"$LAB/{runtime.Key}.out\" 2>&1");
                }
            }

            if (runtime.Finish is { } finish)
            {
                script.AppendLine(CultureInfo.InvariantCulture, $"( {finish} ) >>\"$LAB/{runtime.Key}.out\" 2>&1");
            }

            script.AppendLine(CultureInfo.InvariantCulture, $"echo {runtime.Key} $start $(date +%s%N) >> \"$LAB/timing\"");
        }

        script.AppendLine("kill $listeners");
        File.WriteAllText(Path.Combine(Directory, "lab.sh"), script.ToString());
        (int exit, string errors) = await RunNamespaceAsync(Path.Combine(Directory, "lab.sh"));
        Assert.True(exit is 0 or 143, $"the matrix namespace failed ({exit}): {errors}");

        string[] log = File.ReadAllLines(seen);
        var outcomes = new Dictionary<(string, int, int), MatrixOutcome>();
        foreach (MatrixRuntime runtime in runtimes)
        {
            for (int c = 0; c < cases.Count; c++)
            {
                for (int d = 0; d < cases[c].Destinations.Count; d++)
                {
                    string token = Token(runtime.Key, c, d);
                    bool proxied = log.Any(l => l.StartsWith("proxy ", StringComparison.Ordinal) && l.Contains(token, StringComparison.Ordinal));
                    bool direct = log.Any(l => l.StartsWith("direct ", StringComparison.Ordinal) && l.Contains(token, StringComparison.Ordinal));
                    Assert.False(proxied && direct, $"{runtime.Label}, case {cases[c].Id}, {cases[c].Destinations[d]}: reached both the proxy and the destination");
                    outcomes[(runtime.Key, c, d)] = proxied ? MatrixOutcome.Proxied : direct ? MatrixOutcome.Direct : MatrixOutcome.Failed;
                }
            }
        }

        var outputs = runtimes.Select(r => r.Key).Distinct().ToDictionary(k => k, k => File.Exists(Path.Combine(Directory, $"{k}.out")) ? File.ReadAllText(Path.Combine(Directory, $"{k}.out")) : "");
        return (outcomes, outputs, Timing());
    }

    /// <summary>Seconds each runtime's column took, for the test's output (never asserted).</summary>
    private string Timing() => string.Join(", ", File.ReadAllLines(Path.Combine(Directory, "timing"))
        .Select(l => l.Split(' '))
        .Select(m => $"{m[0]} {(long.Parse(m[2], CultureInfo.InvariantCulture) - long.Parse(m[1], CultureInfo.InvariantCulture)) / 1e9:0.0} s"));

    private string CaseFolder(int @case) => Path.Combine(Directory, $"c{@case}");

    /// <summary>Every address a destination or a name is at, to be put on the namespace's loopback.</summary>
    private static IEnumerable<string> Addresses(IReadOnlyList<MatrixCase> cases) =>
        cases.SelectMany(c => c.Destinations)
            .Select(d => new Uri($"http://{d}/").Host.Trim('[', ']'))
            .Where(h => System.Net.IPAddress.TryParse(h, out System.Net.IPAddress? a) && !System.Net.IPAddress.IsLoopback(a))
            .Concat(MatrixCases.Names.Select(n => n.Address))
            .Distinct();

    private static string HostsFile() =>
        "127.0.0.1 localhost\n::1 localhost\n" + string.Concat(MatrixCases.Names.Select(n => $"{n.Address} {n.Name} {n.Name}.\n"));

    private static string Sh(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private async Task<(int Exit, string Errors)> RunNamespaceAsync(string script)
    {
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Directory };
        foreach (string arg in (string[])["-n", "-m", "--propagation", "private", "sh", script])
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the matrix did not finish within 4 minutes; stderr: {await errors}");
        }

        return (process.ExitCode, await output + await errors);
    }
}
