using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Config;
using Sluice.Proxy.Logging;

namespace Sluice.Proxy.Reload;

/// <summary>
/// Reloads the configuration file when it changes (or when asked, e.g. on SIGHUP). The folder is watched rather
/// than the file, because editors and Kubernetes ConfigMaps replace files by renaming. A file that does not
/// validate is refused as a whole and the running configuration stays.
/// </summary>
public sealed class ConfigReloader : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);

    private readonly ProxyServer _server;
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher _watcher;
    private readonly Timer _debounce;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[] _lastHash;

    public ConfigReloader(ProxyServer server, string path, ILoggerFactory loggers)
    {
        _server = server;
        _path = Path.GetFullPath(path);
        _logger = loggers.CreateLogger("Sluice.Reload");
        _lastHash = HashOf(_path) ?? [];
        _debounce = new Timer(_ => _ = ReloadAsync(force: false), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            IncludeSubdirectories = false,
        };
        _watcher.Changed += (_, _) => Touch();
        _watcher.Created += (_, _) => Touch();
        _watcher.Renamed += (_, _) => Touch();
        _watcher.Deleted += (_, _) => Touch();
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>Raised after every attempt: true when a new configuration was applied.</summary>
    public event Action<bool, string>? Reloaded;

    /// <summary>Reloads now, even if the file looks unchanged (SIGHUP).</summary>
    public Task ReloadNowAsync() => ReloadAsync(force: true);

    public void Dispose()
    {
        _watcher.Dispose();
        _debounce.Dispose();
        _gate.Dispose();
    }

    // Editors write in several steps: wait until the folder has been quiet for a moment.
    private void Touch() => _debounce.Change(Settle, Timeout.InfiniteTimeSpan);

    private async Task ReloadAsync(bool force)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            byte[]? hash = HashOf(_path);
            if (hash is null)
            {
                Report(false, $"config reload refused: {_path} cannot be read; keeping the running configuration");
                return;
            }

            if (!force && hash.AsSpan().SequenceEqual(_lastHash))
            {
                return;
            }

            _lastHash = hash;
            SluiceConfig config;
            try
            {
                config = ConfigLoader.LoadFile(_path);
            }
            catch (ConfigException e)
            {
                Report(false, $"config reload refused, keeping the running configuration: {e.Message}");
                return;
            }

            IReadOnlyList<string> notes;
            try
            {
                notes = _server.Reload(config);
            }
            catch (Auth.UsersFileException e)
            {
                Report(false, $"config reload refused, keeping the running configuration: {e.Message}");
                return;
            }

            string summary = $"config reloaded: {config.Rules.Length} rules, default {config.Default.ToString().ToLowerInvariant()}";
            Report(true, notes.Count == 0 ? summary : $"{summary} ({string.Join("; ", notes)})");
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Report(bool applied, string message)
    {
        if (!applied)
        {
            _server.RecordRefusedReload(message);
        }

        if (applied)
        {
            ProxyLog.ConfigReloaded(_logger, message);
        }
        else
        {
            ProxyLog.ConfigRefused(_logger, message);
        }

        Reloaded?.Invoke(applied, message);
    }

    private static byte[]? HashOf(string path)
    {
        try
        {
            return SHA256.HashData(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
