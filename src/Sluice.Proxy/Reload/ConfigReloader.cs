using Microsoft.Extensions.Logging;
using Sluice.Policy.Config;
using Sluice.Proxy.Logging;

namespace Sluice.Proxy.Reload;

/// <summary>
/// Reloads the configuration file when it changes (or when asked, e.g. on SIGHUP). The folder is watched rather
/// than the file, because editors and Kubernetes ConfigMaps replace files by renaming. The file is read only once
/// it has stopped changing. A file that does not validate, is empty, or would take away every rule or every
/// listener is refused as a whole and the running configuration stays.
/// </summary>
public sealed class ConfigReloader : IDisposable
{
    /// <summary>How many reads a settle apart a file may differ on before it is refused as still being written.</summary>
    private const int SettleAttempts = 10;

    private readonly ProxyServer _server;
    private readonly string _path;
    private readonly TimeSpan _settle;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher _watcher;
    private readonly Timer _debounce;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[] _lastHash;

    public ConfigReloader(ProxyServer server, string path, ILoggerFactory loggers)
        : this(server, path, loggers, TimeSpan.FromMilliseconds(300))
    {
    }

    /// <param name="settle">
    /// How long the folder must be quiet before the file is read, and the pause between the reads that must agree
    /// before it is used.
    /// </param>
    internal ConfigReloader(ProxyServer server, string path, ILoggerFactory loggers, TimeSpan settle)
    {
        _server = server;
        _path = Path.GetFullPath(path);
        _settle = settle;
        _logger = loggers.CreateLogger("Sluice.Reload");
        _lastHash = StableFile.TryRead(_path)?.Hash ?? [];
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
    private void Touch() => _debounce.Change(_settle, Timeout.InfiniteTimeSpan);

    private async Task ReloadAsync(bool force)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            // The change may have been noticed (or SIGHUP sent) while the file was still being written.
            (SettleOutcome outcome, FileVersion? version) = await StableFile.ReadAsync(() => StableFile.TryRead(_path), () => Task.Delay(_settle), SettleAttempts).ConfigureAwait(false);
            if (outcome == SettleOutcome.Unreadable || version is null)
            {
                Report(false, $"config reload refused: {_path} cannot be read; keeping the running configuration");
                return;
            }

            if (outcome == SettleOutcome.StillChanging)
            {
                Report(false, $"config reload refused: {_path} was still changing after {SettleAttempts} reads {Durations.Format(_settle)} apart; keeping the running configuration (it is read again when it next changes, or on SIGHUP)");
                return;
            }

            if (!force && version.Hash.AsSpan().SequenceEqual(_lastHash))
            {
                return;
            }

            // The hash is remembered only once the file is applied: a refusal can be about another file (a users
            // file, a certificate) that is fixed later, and the same config must then be read again.
            SluiceConfig config;
            try
            {
                using var reader = new StreamReader(new MemoryStream(version.Bytes), detectEncodingFromByteOrderMarks: true);
                config = ConfigLoader.Parse(reader.ReadToEnd(), _path);
            }
            catch (ConfigException e)
            {
                Report(false, $"config reload refused, keeping the running configuration: {e.Message}");
                return;
            }

            if (WouldDropEverything(_server.CurrentConfig, config) is { } drop)
            {
                Report(false, $"config reload refused, keeping the running configuration: {_path}: {drop}");
                return;
            }

            IReadOnlyList<string> notes;
            try
            {
                notes = _server.Reload(config);
            }
            catch (ConfigException e)
            {
                Report(false, $"config reload refused, keeping the running configuration: {e.Message}");
                return;
            }
            catch (Auth.UsersFileException e)
            {
                Report(false, $"config reload refused, keeping the running configuration: {e.Message} (fix it, then touch {Path.GetFileName(_path)} or send SIGHUP)");
                return;
            }

            _lastHash = version.Hash;
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

    /// <summary>
    /// A valid file can still be a mistake that empties the proxy: a half-written file without its rules, or without
    /// its listeners (which then fall back to the default). Such a reload needs the file to say it is meant.
    /// </summary>
    private static string? WouldDropEverything(SluiceConfig running, SluiceConfig next)
    {
        if (running.Rules.Length > 0 && next.Rules.Length == 0 && !next.Reload.AllowNoRules)
        {
            return $"it has no rules and the running configuration has {running.Rules.Length}; a reload does not remove every rule "
                + "unless the file says so: set reload.allowNoRules: true in it (or restart)";
        }

        if (!next.Listeners.Any(l => running.Listeners.Any(r => r.Address.Equals(l.Address))))
        {
            return $"it keeps none of the running listeners ({string.Join(", ", running.Listeners.Select(l => Endpoints.Format(l.Address)))}; "
                + $"it lists {string.Join(", ", next.Listeners.Select(l => Endpoints.Format(l.Address)))}); listeners change only with a restart: restart to apply it";
        }

        return null;
    }
}
