using System.Globalization;
using System.Net;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// Debian's real Squid as a parent (upstream) HTTP proxy on 127.0.0.1:&lt;free port&gt;, run in the foreground from a
/// temporary directory holding everything it uses: config, pid file, logs, hosts file, password file. Names resolve only
/// through that hosts file (its DNS client points at 127.0.0.1:53, where nothing answers, so an unmapped name fails
/// after a few seconds instead of reaching a real resolver). No cache; loopback destinations and CONNECT to any port
/// are allowed.
/// </summary>
public sealed class SquidParent : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/squid";
    public const string NcsaAuth = "/usr/lib/squid/basic_ncsa_auth";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _binary;
    private readonly string _service;
    private readonly IReadOnlyList<string> _deny;
    private readonly IReadOnlyList<string> _extraConfig;
    private ParentProcess? _process;
    private long _cacheLogOffset;

    private SquidParent(string binary, string directory, string name, NetworkCredential? credentials, IReadOnlyList<string> deny, IReadOnlyList<string> extraConfig)
    {
        _binary = binary;
        WorkDirectory = directory;
        Name = name;
        Credentials = credentials;
        _deny = deny;
        _extraConfig = extraConfig;
        // Names Squid's shared-memory segments (/dev/shm/<service>-*.shm), so parallel instances do not collide.
        _service = "sluice" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 6);
    }

    public int Port { get; private set; }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    /// <summary>http://127.0.0.1:port, no trailing slash.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public Uri Uri => new(Url);

    /// <summary>Squid's visible_hostname: what it writes in Via ("1.1 NAME (squid/5.7)"), X-Cache and error pages.</summary>
    public string Name { get; }

    /// <summary>The user and password Squid requires (Basic), or null when it requires none.</summary>
    public NetworkCredential? Credentials { get; }

    /// <summary>A Proxy-Authorization value with <see cref="Credentials"/>, or null.</summary>
    public string? ProxyAuthorization => Credentials is null ? null : ParentProcess.BasicAuthorization(Credentials);

    public string WorkDirectory { get; }

    public string ConfigPath => Path.Combine(WorkDirectory, "squid.conf");

    public bool IsRunning => _process is { HasExited: false };

    private string CacheLogPath => Path.Combine(WorkDirectory, "cache.log");

    private string AccessLogPath => Path.Combine(WorkDirectory, "access.log");

    private string HeaderLogPath => Path.Combine(WorkDirectory, "headers.log");

    /// <param name="hosts">The only names Squid resolves: name to IP address (its hosts_file).</param>
    /// <param name="user">With <paramref name="password"/>: require Basic proxy authentication (407 without it).</param>
    /// <param name="deny">
    /// Destinations to refuse with 403 (ERR_ACCESS_DENIED): "name", "name:port", "1.2.3.4", "1.2.3.4:port",
    /// "[::1]:port". A name matches the request's host as written; an IP matches the destination address (after the
    /// hosts file), so "127.0.0.1:5000" also refuses http://origin.test:5000/ when origin.test maps to 127.0.0.1.
    /// Authentication is checked first.
    /// </param>
    /// <param name="name">The visible_hostname (in Via, X-Cache and error pages).</param>
    /// <param name="extraConfig">More squid.conf lines, placed before the fixture's http_access rules.</param>
    public static async Task<SquidParent> StartAsync(
        IReadOnlyDictionary<string, string>? hosts = null,
        string? user = null,
        string? password = null,
        IEnumerable<string>? deny = null,
        string name = "squid-parent",
        IEnumerable<string>? extraConfig = null)
    {
        if ((user is null) != (password is null))
        {
            throw new ArgumentException("give both a user and a password, or neither");
        }

        string binary = ParentProcess.RequireBinary("squid", Binary);
        if (user is not null)
        {
            ParentProcess.RequireBinary("squid", NcsaAuth);
        }

        string directory = ParentProcess.CreateDirectory("sluice-squid-");
        var parent = new SquidParent(binary, directory, name, user is null ? null : new NetworkCredential(user, password), [.. deny ?? []], [.. extraConfig ?? []]);
        try
        {
            ParentProcess.WriteReadable(Path.Combine(directory, "hosts"), string.Concat((hosts ?? new Dictionary<string, string>()).Select(h => $"{h.Value} {h.Key}\n")));
            if (user is not null)
            {
                Htpasswd.Write(Path.Combine(directory, "passwd"), [(user, password!)]);
            }

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
                    // someone took the free port before Squid bound it: another one
                }
            }
        }
        catch
        {
            await parent.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills Squid (and its helpers); the port then refuses connections. The logs stay readable.</summary>
    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        await _process.StopAsync();
        _process = null;
        RemoveSharedMemory();
    }

    /// <summary>Starts Squid again on the same port with the same configuration (stopping it first if it runs).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await LaunchAsync();
    }

    /// <summary>The access log in Squid's native format: "time elapsed client CODE/STATUS bytes METHOD URL USER HIERARCHY/PEER TYPE".</summary>
    /// <remarks>Squid writes a line when a transaction ends: for a CONNECT tunnel, when the tunnel closes.</remarks>
    public IReadOnlyList<string> AccessLogLines() => ParentProcess.ReadLines(AccessLogPath);

    public Task<string> WaitForAccessLogAsync(Func<string, bool> match, TimeSpan? timeout = null) =>
        ParentProcess.WaitForAsync(AccessLogLines, match, timeout, "Squid access-log line");

    /// <summary>Every request Squid received, with the header fields as the client sent them (Proxy-Authorization included).</summary>
    /// <remarks>Written when the transaction ends, like the access log.</remarks>
    public IReadOnlyList<ParentRequest> ReceivedRequests() => [.. ParentProcess.ReadLines(HeaderLogPath).Select(ParentRequest.Parse)];

    public Task<ParentRequest> WaitForRequestAsync(Func<ParentRequest, bool> match, TimeSpan? timeout = null) =>
        ParentProcess.WaitForAsync(ReceivedRequests, match, timeout, "request received by Squid");

    /// <summary>Squid's cache.log (its diagnostics), all runs.</summary>
    public string CacheLog() => ParentProcess.ReadShared(CacheLogPath);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            RemoveSharedMemory();
            ParentProcess.DeleteDirectory(WorkDirectory);
        }
    }

    private async Task LaunchAsync()
    {
        // A pid file left by a killed run, or shared memory it did not remove, would stop this one.
        File.Delete(Path.Combine(WorkDirectory, "squid.pid"));
        RemoveSharedMemory();
        _cacheLogOffset = ParentProcess.Length(CacheLogPath);
        ParentProcess process = ParentProcess.Start(_binary, ["-N", "-f", ConfigPath, "-n", _service], WorkDirectory);
        _process = process;
        string listening = $"local=127.0.0.1:{Port} ";
        try
        {
            await process.WaitUntilReadyAsync(
                Port,
                ready: () => ThisRunsCacheLog().Contains(listening, StringComparison.Ordinal),
                portTaken: () => ThisRunsCacheLog().Contains("Address already in use", StringComparison.Ordinal),
                StartTimeout,
                () => $"output:\n{process.Output}\ncache.log:\n{ThisRunsCacheLog()}\nsquid.conf:\n{File.ReadAllText(ConfigPath)}");
        }
        catch
        {
            _process = null;
            RemoveSharedMemory();
            throw;
        }
    }

    private string ThisRunsCacheLog() => ParentProcess.ReadShared(CacheLogPath, _cacheLogOffset);

    private void RemoveSharedMemory()
    {
        if (!Directory.Exists("/dev/shm"))
        {
            return;
        }

        foreach (string segment in Directory.EnumerateFiles("/dev/shm", _service + "-*"))
        {
            try
            {
                File.Delete(segment);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private string Config()
    {
        string dir = WorkDirectory;
        var c = new StringBuilder();
        c.AppendLine(CultureInfo.InvariantCulture, $"http_port 127.0.0.1:{Port}");
        c.AppendLine(CultureInfo.InvariantCulture, $"visible_hostname {Name}");
        c.AppendLine(CultureInfo.InvariantCulture, $"pid_filename {dir}/squid.pid");
        c.AppendLine(CultureInfo.InvariantCulture, $"coredump_dir {dir}");
        c.AppendLine(CultureInfo.InvariantCulture, $"cache_log {dir}/cache.log");
        c.AppendLine("logformat sluice_access %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt");
        c.AppendLine(CultureInfo.InvariantCulture, $"access_log stdio:{dir}/access.log sluice_access");
        c.AppendLine("logformat sluice_headers %rm %ru %[un %[>h");
        c.AppendLine(CultureInfo.InvariantCulture, $"access_log stdio:{dir}/headers.log sluice_headers");
        c.AppendLine("cache_store_log none");
        c.AppendLine("logfile_rotate 0");
        c.AppendLine("umask 022");
        // No cache at all: every request goes to the origin.
        c.AppendLine("cache deny all");
        c.AppendLine("cache_mem 0 MB");
        c.AppendLine("shutdown_lifetime 0 seconds");
        c.AppendLine("max_filedescriptors 1024");
        c.AppendLine("pinger_enable off");
        c.AppendLine("icp_port 0");
        // Names resolve through this hosts file only; the DNS client may only ask 127.0.0.1:53 (nothing there), briefly.
        c.AppendLine(CultureInfo.InvariantCulture, $"hosts_file {dir}/hosts");
        c.AppendLine("dns_nameservers 127.0.0.1");
        c.AppendLine("dns_timeout 2 seconds");
        c.AppendLine("dns_retransmit_interval 1 seconds");
        if (Credentials is not null)
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"auth_param basic program {NcsaAuth} {dir}/passwd");
            c.AppendLine("auth_param basic children 5 startup=1 idle=1");
            c.AppendLine(CultureInfo.InvariantCulture, $"auth_param basic realm {Name}");
            c.AppendLine("acl sluice_authenticated proxy_auth REQUIRED");
        }

        var denyRules = new List<string>();
        for (int i = 0; i < _deny.Count; i++)
        {
            (string host, int? port) = SplitHostPort(_deny[i]);
            string acl = $"sluice_deny{i}";
            c.AppendLine(IPAddress.TryParse(host, out _) ? $"acl {acl} dst {host}" : $"acl {acl} dstdomain -n {host}");
            if (port is int p)
            {
                c.AppendLine(CultureInfo.InvariantCulture, $"acl {acl}_port port {p}");
                denyRules.Add($"http_access deny {acl} {acl}_port");
            }
            else
            {
                denyRules.Add($"http_access deny {acl}");
            }
        }

        foreach (string line in _extraConfig)
        {
            c.AppendLine(line);
        }

        // Squid's stock rules (deny to_localhost, Safe_ports, CONNECT only to 443) are not here: loopback and any port are allowed.
        if (Credentials is not null)
        {
            c.AppendLine("http_access deny !sluice_authenticated");
        }

        foreach (string rule in denyRules)
        {
            c.AppendLine(rule);
        }

        c.AppendLine("http_access allow all");
        return c.ToString();
    }

    private static (string Host, int? Port) SplitHostPort(string entry)
    {
        if (entry.StartsWith('['))
        {
            int close = entry.IndexOf(']', StringComparison.Ordinal);
            string host = entry[1..close];
            return entry.Length > close + 1 ? (host, int.Parse(entry[(close + 2)..], CultureInfo.InvariantCulture)) : (host, null);
        }

        int colon = entry.LastIndexOf(':');
        if (colon > 0 && entry.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            return (entry[..colon], int.Parse(entry[(colon + 1)..], CultureInfo.InvariantCulture));
        }

        return (entry, null);
    }
}

/// <summary>One request as a parent proxy received it: method, target (absolute URL, or host:port for CONNECT), the authenticated user, header fields.</summary>
public sealed record ParentRequest(string Method, string Target, string? User, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    /// <summary>The value of the first field called <paramref name="name"/> (any case), or null.</summary>
    public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public override string ToString() => $"{Method} {Target} user={User ?? "-"} [{string.Join(" | ", Headers.Select(h => $"{h.Key}: {h.Value}"))}]";

    /// <summary>A line of the "sluice_headers" log: "%rm %ru %[un %[>h" (fields Squid-escaped, header lines joined by \r\n).</summary>
    internal static ParentRequest Parse(string line)
    {
        string[] parts = line.Split(' ', 4);
        string user = Unescape(parts.Length > 2 ? parts[2] : "-");
        string block = Unescape(parts.Length > 3 ? parts[3] : "");
        var headers = new List<KeyValuePair<string, string>>();
        foreach (string field in block.Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = field.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers.Add(new(field[..colon], field[(colon + 1)..].Trim()));
            }
        }

        return new ParentRequest(parts[0], parts.Length > 1 ? parts[1] : "", user == "-" ? null : user, headers);
    }

    // Squid's "[" log encoding: \r \n \t \\ \" as backslash escapes, other specials as %XX.
    private static string Unescape(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (ch == '\\' && i + 1 < text.Length)
            {
                char next = text[++i];
                bytes.Add(next switch { 'r' => (byte)'\r', 'n' => (byte)'\n', 't' => (byte)'\t', _ => (byte)next });
            }
            else if (ch == '%' && i + 2 < text.Length && Uri.IsHexDigit(text[i + 1]) && Uri.IsHexDigit(text[i + 2]))
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(ch.ToString()));
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }
}
