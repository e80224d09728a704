using Prometheus;

namespace Sluice.Proxy.Metrics;

/// <summary>
/// The proxy's Prometheus metrics, in a registry of its own (one per server). Labels are bounded: decisions, rule
/// names (from the config), status codes and RFC 9209 error types, never raw host names.
/// </summary>
internal sealed class ProxyMetrics : Resolution.IResolverEvents
{
    private static readonly double[] Seconds = Histogram.ExponentialBuckets(0.0005, 2, 16); // 0.5 ms .. ~16 s
    private static readonly double[] LongSeconds = Histogram.ExponentialBuckets(0.1, 2, 16); // 0.1 s .. ~55 min

    public ProxyMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        MetricFactory f = Prometheus.Metrics.WithCustomRegistry(Registry);
        Requests = f.CreateCounter("sluice_requests_total", "Forwarded requests and tunnels, by kind, decision (allow, deny, report, none), rule, status and Proxy-Status error.",
            new CounterConfiguration { LabelNames = ["kind", "decision", "rule", "status", "error"] });
        MemoryTrims = f.CreateCounter("sluice_memory_trims_total", "Times the proxy gave memory back after a busy period (a compacting collection and malloc_trim while quiet).");
        ActiveConnections = f.CreateGauge("sluice_active_connections", "Client connections open now.");
        ActiveTunnels = f.CreateGauge("sluice_active_tunnels", "CONNECT and WebSocket tunnels open now.");
        Bytes = f.CreateCounter("sluice_bytes_total", "Bytes to and from clients.", new CounterConfiguration { LabelNames = ["direction"] });
        UpstreamConnect = f.CreateHistogram("sluice_upstream_connect_seconds", "Time to establish an upstream TCP connection.", new HistogramConfiguration { Buckets = Seconds });
        Dns = f.CreateHistogram("sluice_dns_seconds", "Time of a real lookup of a name (not answered from the cache or the hosts file).", new HistogramConfiguration { Buckets = Seconds });
        DnsLookups = f.CreateCounter("sluice_dns_lookups_total", "Name lookups, by how they were answered: hit (cache or hosts file), miss (asked), stale (expired answer during its refresh), negative (no such name or no address), error.",
            new CounterConfiguration { LabelNames = ["result"] });
        foreach (Resolution.LookupResult result in Enum.GetValues<Resolution.LookupResult>())
        {
            DnsLookups.WithLabels(ResultLabel(result)); // exported from the start, at 0
        }
        TimeToFirstByte = f.CreateHistogram("sluice_time_to_first_byte_seconds", "From a forwarded request's head to the origin's response head.", new HistogramConfiguration { Buckets = Seconds });
        TunnelDuration = f.CreateHistogram("sluice_tunnel_duration_seconds", "How long tunnels stay open.", new HistogramConfiguration { Buckets = LongSeconds });
        AuthFailures = f.CreateCounter("sluice_auth_failures_total", "Failed proxy authentications, by outcome (failed, throttled, missing).", new CounterConfiguration { LabelNames = ["outcome"] });
        Reloads = f.CreateCounter("sluice_config_reloads_total", "Configuration reloads, by result.", new CounterConfiguration { LabelNames = ["result"] });
        ConfigGeneration = f.CreateGauge("sluice_config_generation", "Increases by one with every applied configuration (1 at start).");
        LimitRejections = f.CreateCounter("sluice_limit_rejections_total", "Requests and connections refused by a limit, by limit.", new CounterConfiguration { LabelNames = ["limit"] });
        Ready = f.CreateGauge("sluice_ready", "1 while the proxy accepts connections, 0 while starting or draining.");
        ParentRequests = f.CreateCounter("sluice_parent_requests_total", "Requests and tunnels sent to parent proxies, by upstream, parent and outcome (ok, or the Proxy-Status error).",
            new CounterConfiguration { LabelNames = ["upstream", "parent", "outcome"] });
        ParentUp = f.CreateGauge("sluice_parent_up", "1 while a parent proxy takes requests, 0 while it is marked down.", new GaugeConfiguration { LabelNames = ["upstream", "parent"] });
        ParentConnect = f.CreateHistogram("sluice_parent_connect_seconds", "Time to connect to a parent proxy (TCP, and TLS for https:// parents).",
            new HistogramConfiguration { LabelNames = ["upstream", "parent"], Buckets = Seconds });
        WouldDeny = f.CreateCounter("sluice_would_deny_total", "Requests and tunnels the policy let through in report mode (action: report, or mode: report) that enforcing would refuse, by rule (\"\" for the default), counted when decided.",
            new CounterConfiguration { LabelNames = ["rule"] });
        AccessLogDropped = f.CreateCounter("sluice_access_log_dropped_total", "Access-log lines lost: dropped while the output could not keep up (the queue was full), or lost to a failed write.");
        PassivePermits = f.CreateCounter("sluice_ftp_passive_permits_total", "FTP data-port permits of ftp: passive control tunnels, by event: granted, used, expired, revoked (the control tunnel ended), bounce (a 227 naming another address, refused), dropped (over a bound).",
            new CounterConfiguration { LabelNames = ["event"] });
        _passivePermitSeries = [.. Enum.GetValues<PassivePermitEvent>().Select(e => PassivePermits.WithLabels(e.ToString().ToLowerInvariant()))]; // exported from the start, at 0
        WatchRuntime(f);
    }

    public CollectorRegistry Registry { get; }

    public Counter Requests { get; }

    public Gauge ActiveConnections { get; }

    public Gauge ActiveTunnels { get; }

    public Counter Bytes { get; }

    public Histogram UpstreamConnect { get; }

    public Histogram Dns { get; }

    public Counter DnsLookups { get; }

    public Histogram TimeToFirstByte { get; }

    public Histogram TunnelDuration { get; }

    public Counter AuthFailures { get; }

    public Counter Reloads { get; }

    public Counter MemoryTrims { get; }

    public Gauge ConfigGeneration { get; }

    public Counter LimitRejections { get; }

    public Gauge Ready { get; }

    /// <summary>Labelled by upstream and parent <c>host:port</c>: both come from the configuration, so they are bounded.</summary>
    public Counter ParentRequests { get; }

    public Gauge ParentUp { get; }

    public Histogram ParentConnect { get; }

    /// <summary>One attempt through a parent proxy ended: <paramref name="error"/> null is "ok".</summary>
    public void CountParent(Pipeline.ParentProxy parent, Errors.ProxyErrorKind? error) =>
        ParentRequests.WithLabels(parent.Upstream, parent.Endpoint, Errors.ProxyErrors.ProxyStatusError(error) ?? "ok").Inc();

    /// <summary>Labelled by event only (<see cref="PassivePermitEvent"/>), one series made at start for each.</summary>
    public Counter PassivePermits { get; }

    private readonly Counter.Child[] _passivePermitSeries;

    public void CountPassivePermit(PassivePermitEvent happened) => _passivePermitSeries[(int)happened].Inc();

    /// <summary>Follows the access log's own count (read when scraped, so it is exact and costs nothing per line).</summary>
    public Counter AccessLogDropped { get; }

    /// <summary>
    /// One forwarded request or tunnel ended: its kind (http, tunnel, or https for a request inside an inspected tunnel),
    /// the rules' decision (null: not decided), rule, status and error.
    /// </summary>
    /// <param name="decision">none (not decided), allow, deny, or report (a would-deny let through in report mode).</param>
    public void CountRequest(string kind, string decision, string? rule, int status, Errors.ProxyErrorKind? error) =>
        _requestSeries.GetOrAdd((kind, decision, rule, status, error), static (key, requests) => requests.WithLabels(key.Kind,
            key.Decision, key.Rule ?? "", StatusLabel(key.Status), Errors.ProxyErrors.ProxyStatusError(key.Error) ?? ""), Requests).Inc();

    /// <summary>Would-denies by rule ("" for the default), counted when decided: long tunnels show before they end.</summary>
    public Counter WouldDeny { get; }

    public void CountWouldDeny(string? rule) => WouldDeny.WithLabels(rule ?? "").Inc();

    // Every request counts once: the series it counts in is found by its values, not re-made from label strings each
    // time (WithLabels allocates the label array and hashes each string). Bounded like the series themselves: kinds,
    // decisions, rules and errors come from the code and the configuration, statuses are three digits.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Kind, string Decision, string? Rule, int Status, Errors.ProxyErrorKind? Error), Counter.Child> _requestSeries = new();

    private Counter.Child? _bytesIn;
    private Counter.Child? _bytesOut;

    public void CountBytes(long fromClients, long toClients)
    {
        (_bytesIn ??= Bytes.WithLabels("in")).Inc(fromClients);
        (_bytesOut ??= Bytes.WithLabels("out")).Inc(toClients);
    }

    public void CountRejection(Limits.LimitKind limit) => LimitRejections.WithLabels(limit switch
    {
        Limits.LimitKind.Connections => "connections",
        Limits.LimitKind.ConnectionsPerClient => "connectionsPerClient",
        Limits.LimitKind.TunnelsPerClient => "tunnelsPerClient",
        Limits.LimitKind.RequestRate => "requestRate",
        Limits.LimitKind.DestinationRate => "destinationRate",
        Limits.LimitKind.DestinationTunnels => "destinationTunnels",
        _ => throw new ArgumentOutOfRangeException(nameof(limit)),
    }).Inc();

    public void CountAuthFailure(Auth.AuthOutcome outcome) => AuthFailures.WithLabels(outcome switch
    {
        Auth.AuthOutcome.Anonymous => "missing",
        Auth.AuthOutcome.Failed => "failed",
        Auth.AuthOutcome.Throttled => "throttled",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    }).Inc();

    public void CountReload(bool applied) => Reloads.WithLabels(applied ? "success" : "failure").Inc();

    private static string StatusLabel(int status) => status switch
    {
        200 => "200", 101 => "101", 204 => "204", 301 => "301", 302 => "302", 304 => "304", 400 => "400", 403 => "403",
        404 => "404", 407 => "407", 429 => "429", 500 => "500", 502 => "502", 503 => "503", 504 => "504",
        _ => status.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The inspection leaves minted and cached, read from the cache when scraped.</summary>
    public void WatchLeaves(Func<long> minted, Func<int> cached)
    {
        MetricFactory f = Prometheus.Metrics.WithCustomRegistry(Registry);
        Counter mints = f.CreateCounter("sluice_inspection_leaves_minted_total", "Certificates minted for inspected tunnels (a cached one is reused until a day before it expires).");
        Gauge entries = f.CreateGauge("sluice_inspection_leaves_cached", "Minted certificates held in the cache (bounded).");
        Registry.AddBeforeCollectCallback(() =>
        {
            mints.IncTo(minted());
            entries.Set(cached());
        });
    }

    /// <summary>
    /// The process and the runtime, read when scraped: prometheus-net's standard <c>process_*</c> and <c>dotnet_*</c>
    /// series (CPU seconds, resident and virtual memory, open descriptors, threads, collections by generation), and
    /// the time every thread was stopped for collections, which is what a garbage-collected proxy adds to the tail of
    /// its latency.
    /// </summary>
    private void WatchRuntime(MetricFactory f)
    {
        DotNetStats.Register(Registry);
        Counter pauses = f.CreateCounter("dotnet_gc_pause_seconds_total", "Time the runtime stopped every thread for garbage collections since start.");
        Registry.AddBeforeCollectCallback(() => pauses.IncTo(GC.GetTotalPauseDuration().TotalSeconds));
    }

    public void Answered(Resolution.LookupResult result) => DnsLookups.WithLabels(ResultLabel(result)).Inc();

    public void LookedUp(TimeSpan elapsed) => Dns.Observe(elapsed.TotalSeconds);

    /// <summary><c>sluice_dns_cache_entries</c>, read when scraped from whichever resolver serves new requests then.</summary>
    public void WatchDnsCache(Func<int> entries)
    {
        Gauge gauge = Prometheus.Metrics.WithCustomRegistry(Registry).CreateGauge("sluice_dns_cache_entries", "Names held in the resolver's cache (bounded by resolver.cache.maxEntries).");
        Registry.AddBeforeCollectCallback(() => gauge.Set(entries()));
    }

    private static string ResultLabel(Resolution.LookupResult result) => result switch
    {
        Resolution.LookupResult.Hit => "hit",
        Resolution.LookupResult.Miss => "miss",
        Resolution.LookupResult.Stale => "stale",
        Resolution.LookupResult.Negative => "negative",
        _ => "error",
    };

    public void CountAccessLogDrops(Func<long> dropped) => Registry.AddBeforeCollectCallback(() => AccessLogDropped.IncTo(dropped()));

    public Task WriteAsync(Stream output, CancellationToken cancellationToken) => Registry.CollectAndExportAsTextAsync(output, cancellationToken);

    /// <summary>Connections not accepted for want of file descriptors, and other failed accepts; created on first use (the server touches it at start).</summary>
    public Counter AcceptFailures => field ??= Prometheus.Metrics.WithCustomRegistry(Registry)
        .CreateCounter("sluice_accept_failures_total", "Accepts that failed or were closed at once for want of file descriptors (EMFILE/ENFILE, or too close to the open-file limit).");
}
