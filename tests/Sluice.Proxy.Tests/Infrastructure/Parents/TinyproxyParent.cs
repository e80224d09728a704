using System.Globalization;
using System.Net;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// Debian's real tinyproxy as a parent (upstream) HTTP proxy on 127.0.0.1:&lt;free port&gt;, in the foreground, from a
/// temporary directory holding its config, pid file and log. It resolves names with the system resolver, so tests
/// send it IP literals (127.0.0.1) only. CONNECT is allowed to every port (no ConnectPort line).
/// </summary>
public sealed class TinyproxyParent : IAsyncDisposable
{
    public const string Binary = "/usr/bin/tinyproxy";

    private const string RequestMarker = "]: Request (file descriptor ";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _binary;
    private readonly IReadOnlyList<string> _extraConfig;
    private ParentProcess? _process;
    private long _logOffset;

    private TinyproxyParent(string binary, string directory, string name, NetworkCredential? credentials, IReadOnlyList<string> extraConfig)
    {
        _binary = binary;
        WorkDirectory = directory;
        Name = name;
        Credentials = credentials;
        _extraConfig = extraConfig;
    }

    public int Port { get; private set; }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    /// <summary>http://127.0.0.1:port, no trailing slash.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public Uri Uri => new(Url);

    /// <summary>tinyproxy's ViaProxyName: its Via field reads "1.1 NAME (tinyproxy/1.11.1)".</summary>
    public string Name { get; }

    /// <summary>The user and password tinyproxy requires (BasicAuth), or null when it requires none.</summary>
    public NetworkCredential? Credentials { get; }

    /// <summary>A Proxy-Authorization value with <see cref="Credentials"/>, or null.</summary>
    public string? ProxyAuthorization => Credentials is null ? null : ParentProcess.BasicAuthorization(Credentials);

    public string WorkDirectory { get; }

    public string ConfigPath => Path.Combine(WorkDirectory, "tinyproxy.conf");

    public bool IsRunning => _process is { HasExited: false };

    private string LogPath => Path.Combine(WorkDirectory, "tinyproxy.log");

    /// <param name="user">With <paramref name="password"/>: require Basic proxy authentication (tinyproxy's BasicAuth).</param>
    /// <param name="name">The ViaProxyName.</param>
    /// <param name="extraConfig">More tinyproxy.conf lines (e.g. "ConnectPort 443" to restrict CONNECT, "DisableViaHeader Yes").</param>
    public static async Task<TinyproxyParent> StartAsync(string? user = null, string? password = null, string name = "tinyproxy-parent", IEnumerable<string>? extraConfig = null)
    {
        if ((user is null) != (password is null))
        {
            throw new ArgumentException("give both a user and a password, or neither");
        }

        string binary = ParentProcess.RequireBinary("tinyproxy", Binary, "/usr/sbin/tinyproxy");
        string directory = ParentProcess.CreateDirectory("sluice-tinyproxy-");
        var parent = new TinyproxyParent(binary, directory, name, user is null ? null : new NetworkCredential(user, password), [.. extraConfig ?? []]);
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                parent.Port = Ports.Free();
                ParentProcess.WriteReadable(parent.ConfigPath, parent.Config());
                try
                {
                    await parent.LaunchAsync();
                    return parent;
                }
                catch (PortTakenException) when (attempt < 3)
                {
                    // someone took the free port before tinyproxy bound it: another one
                }
            }
        }
        catch
        {
            await parent.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills tinyproxy; the port then refuses connections. The log stays readable.</summary>
    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        await _process.StopAsync();
        _process = null;
    }

    /// <summary>Starts tinyproxy again on the same port with the same configuration (stopping it first if it runs).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await LaunchAsync();
    }

    /// <summary>tinyproxy's log (all runs), one entry a line: "LEVEL   date time [pid]: message".</summary>
    public IReadOnlyList<string> LogLines() => ParentProcess.ReadLines(LogPath);

    /// <summary>The request lines tinyproxy received ("GET http://127.0.0.1:5000/hello HTTP/1.1", "CONNECT 127.0.0.1:5000 HTTP/1.1"), logged as they arrive.</summary>
    public IReadOnlyList<string> RequestLines() =>
        [.. LogLines().Select(l => (Line: l, At: l.IndexOf(RequestMarker, StringComparison.Ordinal)))
            .Where(x => x.At >= 0)
            .Select(x => x.Line[(x.Line.IndexOf("): ", x.At, StringComparison.Ordinal) + 3)..])];

    public Task<string> WaitForRequestLineAsync(Func<string, bool> match, TimeSpan? timeout = null) =>
        ParentProcess.WaitForAsync(RequestLines, match, timeout, "request line received by tinyproxy");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            ParentProcess.DeleteDirectory(WorkDirectory);
        }
    }

    private async Task LaunchAsync()
    {
        File.Delete(Path.Combine(WorkDirectory, "tinyproxy.pid"));
        _logOffset = ParentProcess.Length(LogPath);
        ParentProcess process = ParentProcess.Start(_binary, ["-d", "-c", ConfigPath], WorkDirectory);
        _process = process;
        try
        {
            await process.WaitUntilReadyAsync(
                Port,
                ready: () => ParentProcess.ReadShared(LogPath, _logOffset).Contains("Accepting connections", StringComparison.Ordinal),
                portTaken: () => process.Output.Contains("Could not create listening sockets", StringComparison.Ordinal),
                StartTimeout,
                () => $"output:\n{process.Output}\ntinyproxy.log:\n{ParentProcess.ReadShared(LogPath, _logOffset)}\ntinyproxy.conf:\n{File.ReadAllText(ConfigPath)}");
        }
        catch
        {
            _process = null;
            throw;
        }
    }

    private string Config()
    {
        var c = new StringBuilder();
        c.AppendLine(CultureInfo.InvariantCulture, $"Port {Port}");
        c.AppendLine("Listen 127.0.0.1");
        c.AppendLine("Timeout 60");
        c.AppendLine(CultureInfo.InvariantCulture, $"LogFile \"{WorkDirectory}/tinyproxy.log\"");
        c.AppendLine("LogLevel Info");
        c.AppendLine(CultureInfo.InvariantCulture, $"PidFile \"{WorkDirectory}/tinyproxy.pid\"");
        c.AppendLine("MaxClients 100");
        c.AppendLine("Allow 127.0.0.1");
        c.AppendLine(CultureInfo.InvariantCulture, $"ViaProxyName \"{Name}\"");
        if (Credentials is not null)
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"BasicAuth {Credentials.UserName} {Credentials.Password}");
        }

        foreach (string line in _extraConfig)
        {
            c.AppendLine(line);
        }

        return c.ToString();
    }
}
