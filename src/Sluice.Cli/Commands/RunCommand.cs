using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Config;
using Sluice.Proxy;
using Sluice.Proxy.Reload;

namespace Sluice.Cli.Commands;

/// <summary><c>sluice run</c>: start the proxy and serve until SIGINT or SIGTERM, then drain.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = ConfigOption.Create("Configuration file (YAML), reloaded when it changes or on SIGHUP.");
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Log debug detail to standard error (the access log is unaffected).",
        };

        var command = new Command("run", "Run the proxy. Operational messages go to standard error; the access log goes where log.access says (standard output by default).")
        {
            config, verbose,
        };
        command.SetAction((result, _) => RunAsync(result.GetValue(config), result.GetValue(verbose)));
        return command;
    }

    /// <summary>Exit code when the configuration is valid but this machine cannot give what it names (a port, a file).</summary>
    public const int StartupFailed = 3;

    /// <summary>Exit code for a bug while starting (EX_SOFTWARE): not something the operator's configuration caused.</summary>
    public const int InternalError = 70;

    /// <summary>
    /// A failure the operator can fix (a <see cref="StartupException"/>) is one line naming the part; anything else
    /// is a bug and says so, with the exception, so that it is not mistaken for a configuration problem.
    /// </summary>
    internal static int ReportStartFailure(Exception failure, TextWriter error)
    {
        if (failure is StartupException startup)
        {
            error.WriteLine($"sluice: {startup.Message}");
            return StartupFailed;
        }

        error.WriteLine($"sluice: internal error while starting (a bug in sluice, not in the configuration; please report it): {failure}");
        return InternalError;
    }

    private static async Task<int> RunAsync(FileInfo? configFile, bool verbose)
    {
        ProxyRuntime.Configure(); // before the first socket of the process
        if (!ConfigOption.TryLoad(configFile, Console.Error, out SluiceConfig config))
        {
            return 2;
        }

        using ILoggerFactory loggers = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information)
            .AddFilter("Microsoft", verbose ? LogLevel.Debug : LogLevel.Warning) // the admin endpoint's host: start-up chatter off
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            })
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));

        await using var server = new ProxyServer(config, new ProxyServerOptions
        {
            LoggerFactory = loggers,
        });
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return ReportStartFailure(e, Console.Error);
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we shut down ourselves, after draining
            if (!stop.TrySetResult())
            {
                // A second signal: the operator does not want to wait for the drain.
                Console.Error.WriteLine($"second {context.Signal}: exiting now, {server.OpenConnections} connections cut");
                Environment.Exit(1);
            }
        }

        // The file is watched for changes; SIGHUP reloads it at once. The embedded default never changes.
        using ConfigReloader? reloader = configFile is null ? null : new ConfigReloader(server, configFile.FullName, loggers);
        using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            _ = reloader?.ReloadNowAsync();
        });
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        for (int i = 0; i < server.Endpoints.Count; i++)
        {
            await Console.Error.WriteLineAsync($"listening on {config.Listeners[i].Scheme}://{Endpoints.Format(server.Endpoints[i])}").ConfigureAwait(false);
        }

        if (server.AdminEndpoint is { } admin)
        {
            await Console.Error.WriteLineAsync($"admin on http://{Endpoints.Format(admin)} (/metrics, /healthz, /readyz, status page at /)").ConfigureAwait(false);
        }

        await Console.Error.WriteLineAsync($"config: {config.Source}").ConfigureAwait(false);
        await stop.Task.ConfigureAwait(false);
        int open = server.OpenConnections;
        var draining = System.Diagnostics.Stopwatch.StartNew();
        Task stopped = server.StopAsync(); // unready before it returns: the line below is true when printed
        await Console.Error.WriteLineAsync($"stopping: not ready, listeners closed, {open} connections open, waiting up to {Durations.Format(server.CurrentConfig.Timeouts.Drain)} for them").ConfigureAwait(false);
        await stopped.ConfigureAwait(false);
        await Console.Error.WriteLineAsync($"stopped after {draining.Elapsed.TotalSeconds:0.0}s: {open} connections were open at the signal, {server.CutConnections} had to be cut").ConfigureAwait(false);
        return 0;
    }
}
