using System.Diagnostics;

namespace Sluice.Cli.Tests;

/// <summary>The real <c>sluice</c> executable (the built sluice.dll) as a child process, its output captured line by line.</summary>
public sealed class SluiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private SluiceProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Add(_stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Add(_stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    /// <summary>The child's standard input (e.g. a password for --password-stdin).</summary>
    public StreamWriter Stdin => _process.StandardInput;

    public IReadOnlyList<string> Stdout => Snapshot(_stdout);

    public IReadOnlyList<string> Stderr => Snapshot(_stderr);

    public static SluiceProcess Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add(CliAssembly());
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new SluiceProcess(Process.Start(info)!);
    }

    /// <summary>Starts sluice with these environment variables set (over the test's own).</summary>
    public static SluiceProcess StartWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(CliAssembly());
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new SluiceProcess(Process.Start(info)!);
    }

    /// <summary>Starts sluice with this open-file limit (soft and hard, as <c>ulimit -n</c> in a shell sets it).</summary>
    public static SluiceProcess StartWithOpenFileLimit(int limit, params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("ulimit -n \"$0\" && exec dotnet \"$@\"");
        info.ArgumentList.Add(limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add(CliAssembly());
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new SluiceProcess(Process.Start(info)!);
    }

    /// <summary>
    /// Starts sluice as the unprivileged user 65534 (nobody) when the tests run as root, so that file permissions
    /// apply to it as they do to a service account; as any other user, as that user. Null when root cannot drop
    /// privileges here (no setpriv).
    /// </summary>
    public static SluiceProcess? StartUnprivileged(params string[] args)
    {
        if (Environment.UserName != "root")
        {
            return Start(args);
        }

        if (!File.Exists("/usr/bin/setpriv"))
        {
            return null;
        }

        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.Environment["HOME"] = Path.GetTempPath();
        info.Environment["DOTNET_CLI_HOME"] = Path.GetTempPath();
        foreach (string arg in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", CliAssembly(), .. args])
        {
            info.ArgumentList.Add(arg);
        }

        return new SluiceProcess(Process.Start(info)!);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// The CLI as its own build laid it out (src/Sluice.Cli/bin/CONFIG/TFM/sluice.dll), not the copy in this test's
    /// output: the test project runs on the ASP.NET Core framework, so its folder lacks assemblies the CLI ships with.
    /// </summary>
    private static string CliAssembly()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = output.Name;
        string configuration = output.Parent!.Name;
        DirectoryInfo? root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Sluice.slnx")))
        {
            root = root.Parent;
        }

        string dll = Path.Combine(root?.FullName ?? throw new InvalidOperationException("the repository root (Sluice.slnx) was not found above the test output"),
            "src", "Sluice.Cli", "bin", configuration, framework, "sluice.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"the CLI is not built at {dll}");
    }

    /// <summary>Runs to completion and returns the exit code.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using SluiceProcess p = Start(args);
        int exit = await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exit, string.Join("\n", p.Stdout), string.Join("\n", p.Stderr));
    }

    public async Task<string> WaitForStderrAsync(Func<string, bool> match, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (Stderr.FirstOrDefault(match) is { } line)
            {
                return line;
            }

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException($"sluice never printed {what} on standard error; it printed:\n{string.Join("\n", Stderr)}");
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"sluice did not exit within {timeout.TotalSeconds} s; stderr:\n{string.Join("\n", Stderr)}");
        }

        _process.WaitForExit(); // drain the redirected output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static void Add(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Add(line);
        }
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines)
        {
            return lines.ToList();
        }
    }
}
