using System.Diagnostics;
using System.Net;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// One run of a parent proxy's real binary (Squid, tinyproxy) in the foreground: its output captured, readiness waited
/// for, and stopped by killing its process tree. Also the small file and port helpers the parent fixtures share.
/// </summary>
internal sealed class ParentProcess
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ParentProcess(Process process) => _process = process;

    public bool HasExited => _process.HasExited;

    public int Id => _process.Id;

    /// <summary>What the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The first of <paramref name="candidates"/> that exists, or a failure naming the Debian package to install.</summary>
    public static string RequireBinary(string package, params string[] candidates)
    {
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new Xunit.Sdk.XunitException(
            $"{package} is not installed (looked for {string.Join(", ", candidates)}). The parent-proxy tests run the real {package}: " +
            $"install it with `apt-get install -y {package}` (.ci/run installs it).");
    }

    public static ParentProcess Start(string fileName, IEnumerable<string> arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        var parent = new ParentProcess(process);
        process.OutputDataReceived += (_, e) => parent.Append(e.Data);
        process.ErrorDataReceived += (_, e) => parent.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return parent;
    }

    /// <summary>
    /// Waits until <paramref name="ready"/> (the daemon's own log saying it listens) is true. No probe connection is
    /// made: it would show up in the daemon's logs as a transaction of its own. Throws <see cref="PortTakenException"/> when <paramref name="portTaken"/> says the bind failed, and a
    /// test failure with <paramref name="diagnostics"/> when the process exits or the timeout passes.
    /// </summary>
    public async Task WaitUntilReadyAsync(int port, Func<bool> ready, Func<bool> portTaken, TimeSpan timeout, Func<string> diagnostics)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (portTaken())
            {
                await StopAsync();
                throw new PortTakenException(port);
            }

            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // drains the output
                if (portTaken())
                {
                    throw new PortTakenException(port);
                }

                throw new Xunit.Sdk.XunitException($"{_process.StartInfo.FileName} exited ({_process.ExitCode}) before serving on 127.0.0.1:{port}.\n{diagnostics()}");
            }

            if (ready())
            {
                return;
            }

            if (clock.Elapsed > timeout)
            {
                await StopAsync();
                throw new Xunit.Sdk.XunitException($"{_process.StartInfo.FileName} did not serve on 127.0.0.1:{port} within {timeout.TotalSeconds:0} s.\n{diagnostics()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills the process and everything it started (helpers), and waits for it to be gone.</summary>
    public async Task StopAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{_process.StartInfo.FileName} (pid {_process.Id}) did not exit within 10 s of being killed.");
        }

        _process.Dispose();
    }

    /// <summary>
    /// A fresh temporary directory that a daemon dropping privileges (Squid run as root becomes user proxy) can still
    /// read and write.
    /// </summary>
    public static string CreateDirectory(string prefix)
    {
        string path = Directory.CreateTempSubdirectory(prefix).FullName;
        if (OperatingSystem.IsWindows())
        {
            return path;
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        return path;
    }

    /// <summary>Writes a file every user can read (the daemon's helpers may run as another user).</summary>
    public static void WriteReadable(string path, string text)
    {
        File.WriteAllText(path, text);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp directory left behind is not a test failure
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The text of a file the daemon is still writing, from byte <paramref name="offset"/>; empty when it is missing.</summary>
    public static string ReadShared(string path, long offset = 0)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (offset >= stream.Length)
            {
                return "";
            }

            stream.Seek(offset, SeekOrigin.Begin);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
        catch (DirectoryNotFoundException)
        {
            return "";
        }
    }

    public static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>The complete lines of a file the daemon is still writing (a partly written last line is left out).</summary>
    public static IReadOnlyList<string> ReadLines(string path)
    {
        string text = ReadShared(path);
        int end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
    }

    /// <summary>Polls <paramref name="read"/> until an item matches, or fails listing what there was.</summary>
    public static async Task<T> WaitForAsync<T>(Func<IReadOnlyList<T>> read, Func<T, bool> match, TimeSpan? timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(10);
        while (true)
        {
            IReadOnlyList<T> items = read();
            foreach (T item in items)
            {
                if (match(item))
                {
                    return item;
                }
            }

            if (clock.Elapsed > limit)
            {
                throw new Xunit.Sdk.XunitException($"no matching {what} within {limit.TotalSeconds:0} s; there were:\n{string.Join("\n", items)}");
            }

            await Task.Delay(50);
        }
    }

    public static string BasicAuthorization(NetworkCredential credentials) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}"));

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}

/// <summary>The daemon could not bind the port it was given (someone took it after <see cref="Ports.Free"/>): try another.</summary>
internal sealed class PortTakenException(int port) : Exception($"127.0.0.1:{port} was already in use");
