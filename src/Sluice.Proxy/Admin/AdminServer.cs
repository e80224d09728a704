using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Config;
using Sluice.Policy.Pac;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Admin;

/// <summary>What the admin endpoint reads from the running proxy.</summary>
internal interface IAdminSource
{
    Metrics.ProxyMetrics Metrics { get; }

    LiveConnections Live { get; }

    TrafficStats Stats { get; }

    TrafficHistory History { get; }

    RuleUsage Usage { get; }

    bool IsReady { get; }

    bool IsDraining { get; }

    long ConfigGeneration { get; }

    DateTimeOffset Started { get; }

    /// <summary>The configuration being served: its upstreams, in order, for /api/upstreams.</summary>
    SluiceConfig CurrentConfig { get; }

    /// <summary>The state of every configured parent proxy.</summary>
    IReadOnlyList<ParentState> ParentStates { get; }

    /// <summary>The listeners' bound addresses, in the configuration's order (the PAC file names the first).</summary>
    IReadOnlyList<IPEndPoint> Endpoints { get; }
}

/// <summary>
/// The operators' endpoint on its own address (loopback by default): /metrics for Prometheus, /healthz and /readyz
/// for orchestrators, /proxy.pac for browsers, and the status page with its JSON API. Served by Kestrel; optionally
/// behind a bearer token, which the health checks and the PAC file do without.
/// </summary>
internal sealed class AdminServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AdminServer(WebApplication app) => _app = app;

    public IPEndPoint Endpoint { get; private set; } = null!;

    public static async Task<AdminServer> StartAsync(AdminConfig config, IAdminSource source, ILoggerFactory loggers)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerFactory>(new WithoutStartFailure(loggers)); // Kestrel's warnings and errors go to the proxy's log
        builder.WebHost.ConfigureKestrel(k => k.Listen(config.Address, listen => listen.Protocols = HttpProtocols.Http1));
        WebApplication app = builder.Build();
        if (config.Token is { } token)
        {
            byte[] expected = Encoding.UTF8.GetBytes($"Bearer {token}");
            app.Use(async (context, next) =>
            {
                // Orchestrators probe without credentials, and browsers fetch a PAC file without any (it holds none).
                bool open = context.Request.Path == "/healthz" || context.Request.Path == "/readyz" || context.Request.Path == "/proxy.pac";
                byte[] given = Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString());
                if (!open && !CryptographicOperations.FixedTimeEquals(given, expected))
                {
                    context.Response.StatusCode = 401;
                    context.Response.Headers.WWWAuthenticate = "Bearer realm=\"sluice-admin\"";
                    return;
                }

                await next(context);
            });
        }

        Map(app, source);
        await app.StartAsync().ConfigureAwait(false);
        var server = new AdminServer(app) { Endpoint = new Uri(app.Urls.First()) is var uri ? new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port) : null! };
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void Map(WebApplication app, IAdminSource source)
    {
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await source.Metrics.WriteAsync(context.Response.Body, context.RequestAborted);
        });

        app.MapGet("/healthz", () => Results.Text("ok\n"));

        app.MapGet("/readyz", () => source.IsReady
            ? Results.Text("ready\n")
            : Results.Text(source.IsDraining ? "draining\n" : "not ready\n", statusCode: 503));

        // Built from the configuration in force at each request, so a reload changes what the next fetch gets.
        app.MapGet("/proxy.pac", async context =>
        {
            string pac = ConfigPac.Build(source.CurrentConfig, source.Endpoints[0], context.Connection.LocalIpAddress ?? IPAddress.Loopback, source.ConfigGeneration);
            context.Response.ContentType = PacScript.ContentType;
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.WriteAsync(pac, Encoding.UTF8, context.RequestAborted);
        });

        app.MapGet("/api/connections", async context =>
        {
            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body);
            json.WriteStartArray();
            DateTimeOffset now = DateTimeOffset.UtcNow;
            foreach (LiveConnection c in source.Live.Snapshot())
            {
                json.WriteStartObject();
                json.WriteNumber("id", c.Id);
                json.WriteString("client", c.Client.ToString());
                WriteOptional(json, "user", c.User);
                WriteOptional(json, "destination", c.Destination);
                WriteOptional(json, "rule", c.Rule);
                json.WriteString("kind", c.Kind);
                json.WriteNumber("ageSeconds", Math.Round((now - c.Opened).TotalSeconds, 1));
                json.WriteNumber("bytesFromClient", c.BytesFromClient);
                json.WriteNumber("bytesToClient", c.BytesToClient);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });

        app.MapGet("/api/stats", async context =>
        {
            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body);
            json.WriteStartObject();
            json.WriteNumber("uptimeSeconds", Math.Round((DateTimeOffset.UtcNow - source.Started).TotalSeconds));
            json.WriteNumber("configGeneration", source.ConfigGeneration);
            json.WriteBoolean("ready", source.IsReady);
            json.WriteBoolean("draining", source.IsDraining);
            json.WriteNumber("activeConnections", source.Live.Count);
            json.WriteNumber("activeTunnels", source.Live.Snapshot().Count(c => c.Kind == "tunnel"));
            json.WriteNumber("windowMinutes", TrafficStats.Minutes);
            WriteTop(json, "topDestinations", source.Stats.Top(Tally.All));
            WriteTop(json, "topDenied", source.Stats.Top(Tally.Denied));
            WriteTop(json, "topWouldDeny", source.Stats.Top(Tally.WouldDeny));
            json.WriteStartArray("events");
            foreach (OperatorEvent e in source.Stats.Events())
            {
                json.WriteStartObject();
                json.WriteString("time", e.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("kind", e.Kind);
                json.WriteString("message", e.Message);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });

        // The rules in force, in order, with what each decided since the start: hits, would-denies, the last hit.
        app.MapGet("/api/rules", async context =>
        {
            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body);
            RuleUsageJson.Write(json, source.CurrentConfig, source.Usage, source.ConfigGeneration);
        });

        // Traffic over time: a value a second for the last 15 minutes, oldest first.
        app.MapGet("/api/traffic", async context =>
        {
            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body);
            WriteTraffic(json, source.History.Read());
        });

        app.MapGet("/api/upstreams", async context =>
        {
            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body);
            WriteUpstreams(json, source.CurrentConfig.Upstreams, source.ParentStates, DateTimeOffset.UtcNow);
        });

        app.MapGet("/{file?}", async (HttpContext context, string? file) =>
        {
            string name = string.IsNullOrEmpty(file) ? "index.html" : file;
            using Stream? resource = typeof(AdminServer).Assembly.GetManifestResourceStream($"status/{name}");
            if (resource is null)
            {
                context.Response.StatusCode = 404;
                return;
            }

            context.Response.ContentType = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                _ => "application/octet-stream",
            };
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; connect-src 'self'; img-src 'self' data:";
            await resource.CopyToAsync(context.Response.Body, context.RequestAborted);
        });
    }

    /// <summary>
    /// The proxy's loggers without the host's "Hosting failed to start" entry: that exception (with a stack trace of
    /// some kilobytes) is also thrown to <see cref="StartAsync"/>'s caller, which reports it in one line.
    /// </summary>
    private sealed class WithoutStartFailure(ILoggerFactory loggers) : ILoggerFactory
    {
        private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";
        private const int HostedServiceStartupFaulted = 11;

        public ILogger CreateLogger(string categoryName)
        {
            ILogger logger = loggers.CreateLogger(categoryName);
            return categoryName == HostCategory ? new Filtered(logger) : logger;
        }

        public void AddProvider(ILoggerProvider provider) => loggers.AddProvider(provider);

        public void Dispose()
        {
            // The factory belongs to the proxy's host, not to this endpoint.
        }

        private sealed class Filtered(ILogger logger) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => logger.BeginScope(state);

            public bool IsEnabled(LogLevel logLevel) => logger.IsEnabled(logLevel);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Id != HostedServiceStartupFaulted)
                {
                    logger.Log(logLevel, eventId, state, exception, formatter);
                }
            }
        }
    }

    /// <summary>
    /// Every upstream in the configuration's order with its parents and their health. The credentials are never
    /// written, nor where they are read from: only whether the upstream has any.
    /// </summary>
    private static void WriteUpstreams(Utf8JsonWriter json, IEnumerable<UpstreamConfig> upstreams, IReadOnlyList<ParentState> states, DateTimeOffset now)
    {
        json.WriteStartArray();
        foreach (UpstreamConfig upstream in upstreams)
        {
            // The states and the configuration are read one after the other, so a reload in between can leave a
            // parent without a state: it is new, and a new parent is up.
            ParentState[] known = [.. states.Where(s => s.Upstream == upstream.Name)];
            json.WriteStartObject();
            json.WriteString("name", upstream.Name);
            json.WriteString("balance", ParentUpstream.Describe(upstream.Balance));
            json.WriteString("checkDestinations", upstream.CheckDestinations == DestinationCheck.Parent ? "parent" : "local");
            json.WriteBoolean("credentials", upstream.Credentials is not null);
            json.WriteStartArray("parents");
            for (int i = 0; i < upstream.Proxies.Length; i++)
            {
                ParentProxyAddress proxy = upstream.Proxies[i];
                ParentState state = (i < known.Length && known[i].Parent == proxy.Endpoint ? known[i] : known.FirstOrDefault(s => s.Parent == proxy.Endpoint))
                    ?? new ParentState(upstream.Name, proxy.Endpoint, true, 0, null, null, null);
                json.WriteStartObject();
                json.WriteString("proxy", proxy.ToString());
                json.WriteString("endpoint", proxy.Endpoint);
                json.WriteBoolean("up", state.Up);
                json.WriteNumber("consecutiveFailures", state.ConsecutiveFailures);
                WriteTime(json, "downSince", state.DownSince);
                WriteTime(json, "nextProbe", state.NextProbe);
                if (state.NextProbe is { } next)
                {
                    json.WriteNumber("nextProbeInSeconds", Math.Max(0, Math.Round((next - now).TotalSeconds, 1))); // the browser's clock need not agree with ours
                }
                else
                {
                    json.WriteNull("nextProbeInSeconds");
                }

                json.WriteString("lastError", state.LastError); // null when there is none

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteTraffic(Utf8JsonWriter json, TrafficSeries series)
    {
        json.WriteStartObject();
        json.WriteNumber("intervalSeconds", TrafficHistory.Interval.TotalSeconds);
        json.WriteNumber("seconds", TrafficHistory.Seconds);
        WriteTime(json, "start", series.Start);
        WriteTime(json, "since", series.Since);
        WriteSeries(json, "requests", series.Requests);
        WriteSeries(json, "bytes", series.Bytes);
        WriteSeries(json, "denials", series.Denials);
        WriteSeries(json, "wouldDenies", series.WouldDenies);
        json.WriteEndObject();
    }

    private static void WriteSeries(Utf8JsonWriter json, string name, IReadOnlyList<long> values)
    {
        json.WriteStartArray(name);
        foreach (long value in values)
        {
            json.WriteNumberValue(value);
        }

        json.WriteEndArray();
    }

    private static void WriteTime(Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            json.WriteString(name, t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteTop(Utf8JsonWriter json, string name, IReadOnlyList<KeyValuePair<string, long>> top)
    {
        json.WriteStartArray(name);
        foreach ((string destination, long count) in top)
        {
            json.WriteStartObject();
            json.WriteString("destination", destination);
            json.WriteNumber("count", count);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
