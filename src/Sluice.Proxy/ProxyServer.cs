using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;
using ConfigEndpoints = Sluice.Policy.Config.Endpoints;
using Sluice.Proxy.Listening;
using Sluice.Proxy.Logging;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Upstream;
using Sluice.Proxy.Requests;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy;

/// <summary>
/// The proxy: binds every configured listener, accepts connections and runs a <see cref="ClientSession"/> for
/// each, until stopped. Stopping closes the listeners first, then lets open connections finish for the drain time.
/// </summary>
public sealed class ProxyServer : IAsyncDisposable, Admin.IAdminSource
{
    private readonly SluiceConfig _config;
    private readonly ProxyServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _draining = new();
    private readonly Listening.OpenSessions _sessions = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<ListenerTls?> _tls = [];
    private readonly List<Task> _acceptLoops = [];
    private ProxyServices? _services;
    private volatile ProxySnapshot? _snapshot;
    private ParentHealth? _parentHealth;
    private Memory.MemoryTrim? _memoryTrim;

    // The configuration in force, as sessions read it at each request: one delegate for all of them.
    private Func<ProxySnapshot>? _currentSnapshot;
    private Admin.AdminServer? _admin;
    private long _generation;
    private OwnEndpoints _ownEndpoints = OwnEndpoints.None;
    private bool _stopped;

    // The leaves inspected tunnels show clients, kept across reloads (keyed by CA, so a new CA mints anew).
    private readonly Inspection.LeafCertificates _leaves = new();
    private int _connectionCap = int.MaxValue; // what the open-file limit leaves room for
    private int _refusalBudget = 64;
    private int _refusing;
    private Listening.DescriptorPressure? _pressure;

    public ProxyServer(SluiceConfig config, ProxyServerOptions? options = null)
    {
        _config = config;
        _options = options ?? new ProxyServerOptions();
        _logger = _options.LoggerFactory.CreateLogger("Sluice.Proxy");
    }

    /// <summary>The addresses actually bound (port 0 in the config becomes the port the system chose).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints { get; private set; } = [];

    /// <summary>Connections currently open.</summary>
    public int OpenConnections => _sessions.Count;

    /// <summary>Binds all listeners (all or none: a bind failure closes the ones already bound) and starts accepting.</summary>
    /// <exception cref="StartupException">A port, certificate or users file the operator has to fix.</exception>
    public async Task StartAsync()
    {
        long? openFileLimit = Limits.OpenFiles.RaiseSoftLimit();

        // What can fail without a socket is loaded first (certificates, users, the access log); then the ports are bound, all or none.
        // Every failure the operator can fix is a StartupException naming the part; anything else is a bug and passes.
        foreach (ListenerConfig listener in _config.Listeners)
        {
            try
            {
                _tls.Add(listener.Tls is null ? null : new ListenerTls(listener.Tls, message => ProxyLog.FileWarning(_logger, message)));
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new StartupException(StartupFailure.Certificate, $"the TLS listener {ConfigEndpoints.Format(listener.Address)}: {e.Message}", e);
            }
        }

        var metrics = new Metrics.ProxyMetrics();
        Resolution.IResolver resolver;
        try
        {
            resolver = _options.Resolver ?? Resolution.ResolverFactory.Create(_config.Resolver, metrics);
        }
        catch (ConfigException e)
        {
            throw new StartupException(StartupFailure.Resolver, e.Message, e);
        }

        IReadOnlyDictionary<string, ParentAccess> parentAccess;
        try
        {
            parentAccess = ParentAccess.For(_config);
        }
        catch (ConfigException e)
        {
            throw new StartupException(StartupFailure.Upstream, e.Message, e);
        }

        Inspection.InspectionAuthority? inspection;
        try
        {
            inspection = Inspection.InspectionAuthority.For(_config, _leaves, InspectionWarning);
        }
        catch (ConfigException e)
        {
            throw new StartupException(StartupFailure.Inspection, e.Message, e);
        }

        BasicAuthenticator? authenticator;
        try
        {
            authenticator = CreateAuthenticator(_config.Auth, null);
        }
        catch (Exception e) when (e is UsersFileException or InvalidOperationException or IOException)
        {
            throw new StartupException(StartupFailure.UsersFile, e.Message, e);
        }

        AccessLog accessLog;
        try
        {
            accessLog = new AccessLog(_config.Log, _options.AccessLogOutput);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            authenticator?.Dispose();
            throw new StartupException(StartupFailure.AccessLog, $"cannot open the access log {_config.Log.Access}: {e.Message}", e);
        }

        var bound = new List<IPEndPoint>();
        try
        {
            foreach (ListenerConfig listener in _config.Listeners)
            {
                Socket socket = Bind(listener.Address);
                _listeners.Add(socket);
                bound.Add((IPEndPoint)socket.LocalEndPoint!);
            }
        }
        catch (SocketException e)
        {
            CloseListeners();
            authenticator?.Dispose(); // its timer would outlive a server that never started
            await accessLog.DisposeAsync().ConfigureAwait(false);
            throw new StartupException(StartupFailure.ListenerBind, $"cannot bind the listener {ConfigEndpoints.Format(_config.Listeners[bound.Count].Address)}: {e.Message}", e);
        }

        Endpoints = bound;
        _ownEndpoints = new OwnEndpoints(OwnEndpoints.Expand(bound), []);
        var stats = new Admin.TrafficStats();
        var live = new Admin.LiveConnections();
        _parentHealth = new ParentHealth((parent, up, error) => ParentChanged(metrics, stats, parent, up, error));
        _services = new ProxyServices
        {
            Dialer = new UpstreamDialer(metrics),
            Parents = new ParentDialer(metrics, _parentHealth),
            Pool = new UpstreamPool(_config.Limits.MaxIdleUpstreamPerHost, _config.Timeouts.UpstreamIdle),
            AccessLog = accessLog,
            Logger = _logger,
            Draining = _draining.Token,
            Metrics = metrics,
            Live = live,
            Stats = stats,
            History = new Admin.TrafficHistory(live.TakeBytes),
            Usage = new Admin.RuleUsage(),
            Limits = new Limits.ClientLimits(),
            Destinations = new Limits.DestinationLimits(),
            Splice = _options.Splice && Tunnels.SplicePipe.IsSupported,
            Relays = new Transport.IdleWatch(_stopping.Token),
            Permits = new Ftp.PassivePermits(metrics, _logger),
        };
        _services.AccessLog.ReportTo(metrics, _logger);
        metrics.WatchLeaves(() => _leaves.Mints, () => _leaves.Count);
        metrics.WatchDnsCache(() => _snapshot is { } current ? Resolution.ResolverFactory.CacheEntries(current.Resolver) : 0);

        metrics.ConfigGeneration.Set(Interlocked.Increment(ref _generation));
        if (_config.Admin is { } admin)
        {
            try
            {
                _admin = await Admin.AdminServer.StartAsync(admin, this, _options.LoggerFactory).ConfigureAwait(false);
                _ownEndpoints = _ownEndpoints with { Admin = OwnEndpoints.Expand([_admin.Endpoint]) };
            }
            catch (Exception e) when (e is IOException or SocketException) // in use: IOException; not an address here: SocketException
            {
                CloseListeners();
                authenticator?.Dispose();
                _services.History.Dispose(); // its sampler would outlive a server that never started
                Exception reason = e; // Kestrel's message wraps the system's ("Address already in use"): say only that
                while (reason.InnerException is not null)
                {
                    reason = reason.InnerException;
                }

                throw new StartupException(StartupFailure.AdminBind, $"cannot bind the admin endpoint {ConfigEndpoints.Format(admin.Address)}: {reason.Message}", e);
            }
        }

        FitToOpenFileLimit(openFileLimit);
        _snapshot = NewSnapshot(Fitted(_config), authenticator, parentAccess, inspection, resolver); // once every own endpoint is known
        _ = metrics.AcceptFailures; // exported from the start, at 0
        for (int i = 0; i < _listeners.Count; i++)
        {
            ProxyLog.Listening(_logger, $"{_config.Listeners[i].Scheme}://{ConfigEndpoints.Format(bound[i])}");
            _acceptLoops.Add(AcceptLoopAsync(_listeners[i], bound[i], _tls[i]));
        }

        _services.Stats.Event("start", $"listening on {string.Join(", ", bound.Select(ConfigEndpoints.Format))}");
        if (_config.Mode == Policy.Rules.PolicyMode.Report)
        {
            ProxyLog.PolicyReporting(_logger);
        }
        _memoryTrim = new Memory.MemoryTrim(_options.MemoryTrimInterval, () => metrics.MemoryTrims.Inc());
        metrics.Ready.Set(1);
    }

    /// <summary>
    /// Caps the total connection limit to what the open-file limit leaves room for, measured once everything the
    /// process holds at start is open; one warning line when it caps. Reloads are capped the same way.
    /// </summary>
    private void FitToOpenFileLimit(long? openFileLimit)
    {
        if (openFileLimit is not { } limit || Limits.OpenFiles.InUse() is not { } inUse)
        {
            return;
        }

        var budget = Limits.DescriptorBudget.For(limit, inUse);
        _refusalBudget = budget.Refusals;
        _pressure = OperatingSystem.IsWindows() ? null : new Listening.DescriptorPressure(Limits.OpenFiles.SoftLimit);
        _connectionCap = budget.ClientConnections; // kept for reloads, even when this configuration is under it
        if (_config.Limits.MaxConnections > budget.ClientConnections)
        {
            ProxyLog.ConnectionsCapped(_logger, limit, inUse, budget.Headroom, _config.Limits.MaxConnections, budget.ClientConnections);
        }
    }

    /// <summary>The configuration as served: maxConnections capped to what the open-file limit leaves room for.</summary>
    private SluiceConfig Fitted(SluiceConfig config) => config.Limits.MaxConnections <= _connectionCap
        ? config
        : config with { Limits = config.Limits with { MaxConnections = _connectionCap } };

    private void CloseListeners()
    {
        foreach (Socket socket in _listeners)
        {
            socket.Dispose();
        }

        _listeners.Clear();
    }

    /// <summary>The admin endpoint's address, when it is on (port 0 in the config becomes the chosen port).</summary>
    public IPEndPoint? AdminEndpoint => _admin?.Endpoint;

    Metrics.ProxyMetrics Admin.IAdminSource.Metrics => _services!.Metrics;

    Admin.LiveConnections Admin.IAdminSource.Live => _services!.Live;

    Admin.TrafficStats Admin.IAdminSource.Stats => _services!.Stats;

    Admin.TrafficHistory Admin.IAdminSource.History => _services!.History;

    Admin.RuleUsage Admin.IAdminSource.Usage => _services!.Usage;

    IReadOnlyList<ParentState> Admin.IAdminSource.ParentStates => ParentStates;

    /// <summary>Listeners bound, configuration valid, not draining: what /readyz reports.</summary>
    public bool IsReady => _services is not null && !_stopped;

    public bool IsDraining => _stopped;

    public long ConfigGeneration => Interlocked.Read(ref _generation);

    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    /// <summary>A reload that was refused before reaching the server (the file did not validate): counted and shown.</summary>
    public void RecordRefusedReload(string message)
    {
        _services?.Metrics.CountReload(applied: false);
        _services?.Stats.Event("reload refused", message);
    }

    /// <summary>The configuration new connections are served with.</summary>
    public SluiceConfig CurrentConfig => _snapshot?.Config ?? _config;

    /// <summary>
    /// Swaps in a validated configuration for new connections; open connections and tunnels keep the snapshot
    /// they started with and are never dropped. Settings that belong to the process (listeners, access-log
    /// output) need a restart: they are kept, and the returned notes say so.
    /// </summary>
    public IReadOnlyList<string> Reload(SluiceConfig config)
    {
        ProxySnapshot current = _snapshot ?? throw new InvalidOperationException("the server has not started");
        var notes = new List<string>();
        if (!config.Listeners.Select(l => l.Address).SequenceEqual(current.Config.Listeners.Select(l => l.Address)))
        {
            notes.Add("listener changes take effect after a restart; the current listeners stay");
        }

        if (config.Log != current.Config.Log)
        {
            notes.Add("access-log changes take effect after a restart");
        }

        if (config.Limits.MaxConnections > _connectionCap)
        {
            notes.Add($"limits.maxConnections {config.Limits.MaxConnections} capped to {_connectionCap}, what the open-file limit leaves room for");
        }

        SluiceConfig effective = Fitted(config with { Listeners = current.Config.Listeners, Log = current.Config.Log });
        IReadOnlyDictionary<string, ParentAccess> parentAccess = ParentAccess.For(effective); // throws ConfigException: nothing applied
        Inspection.InspectionAuthority? inspection = Inspection.InspectionAuthority.For(effective, _leaves, InspectionWarning); // throws ConfigException: nothing applied
        Resolution.IResolver resolver = ResolverFor(effective.Resolver, current); // throws ConfigException: nothing applied
        BasicAuthenticator? authenticator = CreateAuthenticator(effective.Auth, current.Authenticator); // throws: nothing applied
        _services!.Pool.Configure(effective.Limits.MaxIdleUpstreamPerHost, effective.Timeouts.UpstreamIdle);
        _snapshot = NewSnapshot(effective, authenticator, parentAccess, inspection, resolver);
        _services.Usage.Keep(effective.Rules);
        DisposeReplaced(current.Authenticator, authenticator);
        _services.Metrics.CountReload(applied: true);
        _services.Metrics.ConfigGeneration.Set(Interlocked.Increment(ref _generation));
        if (effective.Mode == Policy.Rules.PolicyMode.Report && current.Config.Mode != Policy.Rules.PolicyMode.Report)
        {
            ProxyLog.PolicyReporting(_logger);
        }

        string mode = effective.Mode == Policy.Rules.PolicyMode.Report ? ", mode report" : "";
        _services.Stats.Event("reload", $"config reloaded: {effective.Rules.Length} rules, default {effective.Default.ToString().ToLowerInvariant()}{mode}{(notes.Count == 0 ? "" : $" ({string.Join("; ", notes)})")}");
        return notes;
    }

    private void InspectionWarning(string message) => ProxyLog.FileWarning(_logger, message);

    /// <summary>
    /// The resolver for a reloaded configuration: the host program's when it gave one; the running one (and its cache)
    /// when <c>resolver:</c> did not change; otherwise a new one, with an empty cache.
    /// </summary>
    private Resolution.IResolver ResolverFor(ResolverConfig config, ProxySnapshot current) =>
        _options.Resolver ?? (config == current.Config.Resolver ? current.Resolver : Resolution.ResolverFactory.Create(config, _services!.Metrics));

    private ProxySnapshot NewSnapshot(SluiceConfig config, BasicAuthenticator? authenticator, IReadOnlyDictionary<string, ParentAccess> parentAccess, Inspection.InspectionAuthority? inspection, Resolution.IResolver resolver)
    {
        var snapshot = new ProxySnapshot(config, _ownEndpoints, authenticator, parentAccess, _parentHealth!, resolver, inspection);
        ParentProxy[] parents = [.. snapshot.Pipeline.Upstreams.SelectMany(u => u.Proxies)];
        _services!.Parents.Retain(snapshot.Pipeline, resolver, parentAccess, parents); // probes use this configuration from now on
        foreach (ParentProxy parent in parents)
        {
            _services!.Metrics.ParentUp.WithLabels(parent.Upstream, parent.Endpoint).Set(_parentHealth!.IsUp(parent) ? 1 : 0);
        }

        // A parent the new configuration no longer has leaves no up/down series behind to alert on.
        foreach (ParentProxy gone in _snapshot?.Pipeline.Upstreams.SelectMany(u => u.Proxies) ?? [])
        {
            if (!parents.Any(p => p.Upstream == gone.Upstream && p.Endpoint == gone.Endpoint))
            {
                _services!.Metrics.ParentUp.RemoveLabelled(gone.Upstream, gone.Endpoint);
            }
        }

        return snapshot;
    }

    /// <summary>A parent proxy went down or came back: the gauge, the status page's events and one log line.</summary>
    private void ParentChanged(Metrics.ProxyMetrics metrics, Admin.TrafficStats stats, ParentProxy parent, bool up, string? error)
    {
        metrics.ParentUp.WithLabels(parent.Upstream, parent.Endpoint).Set(up ? 1 : 0);
        string message = up
            ? $"parent proxy {parent.Endpoint} of upstream {parent.Upstream} is up again"
            : $"parent proxy {parent.Endpoint} of upstream {parent.Upstream} is marked down after {ParentHealth.FailuresToMarkDown} failures in a row: {error}";
        stats.Event("parent", message);
        ProxyLog.ParentChanged(_logger, message);
    }

    /// <summary>The state of every configured parent proxy, for the status page and the admin API.</summary>
    internal IReadOnlyList<ParentState> ParentStates =>
        _snapshot is { } snapshot && _parentHealth is { } health ? health.Describe(snapshot.Pipeline.Upstreams.SelectMany(u => u.Proxies)) : [];

    /// <summary>How many parent proxies have a health state: never more than the configuration has.</summary>
    internal int TrackedParents => _parentHealth?.Tracked ?? 0;

    /// <summary>
    /// The same authenticator when the settings did not change; otherwise a successor that keeps the failure counts,
    /// remembered successes and (when the paths are the same) the loaded users files. Nothing slow happens here:
    /// no hashing, no verification, files read only when their paths changed.
    /// </summary>
    private BasicAuthenticator? CreateAuthenticator(AuthConfig? auth, BasicAuthenticator? current) => auth switch
    {
        null => null,
        _ when current is null => new BasicAuthenticator(auth.Basic, message => ProxyLog.FileWarning(_logger, message)),
        _ when current.Config == auth.Basic => current,
        _ => current.Reconfigured(auth.Basic),
    };

    /// <summary>
    /// Disposes an authenticator that new connections no longer get. Connections that still hold the old snapshot
    /// keep using it safely: disposing stops only its housekeeping timer (see <see cref="BasicAuthenticator"/>).
    /// </summary>
    private static void DisposeReplaced(BasicAuthenticator? previous, BasicAuthenticator? next)
    {
        if (previous is not null && !ReferenceEquals(previous, next))
        {
            previous.Dispose();
        }
    }


    /// <summary>Connections still open when the drain time ran out, which the stop then cut (0 until then).</summary>
    public int CutConnections { get; private set; }

    /// <summary>
    /// Stops accepting, waits up to the drain timeout for open connections, then cuts what is left: a response or
    /// tunnel in progress is reset, so its client can tell it was truncated.
    /// </summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        _services?.Metrics.Ready.Set(0);
        _services?.Stats.Event("drain", $"stopping: {_sessions.Count} connections open");
        CloseListeners(); // before the first await: when this returns its task, nothing new is accepted
        await _draining.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        int open = _sessions.Count;
        if (open > 0)
        {
            TimeSpan drain = _options.DrainTimeout ?? CurrentConfig.Timeouts.Drain;
            ProxyLog.Draining(_logger, drain.TotalSeconds, open);
            Task drained = _sessions.WhenNoneOpenAsync();
            if (await Task.WhenAny(drained, Task.Delay(drain)).ConfigureAwait(false) != drained)
            {
                // Counted while they are still open: once cut, they are no longer counted.
                CutConnections = _sessions.Count;
                ProxyLog.DrainIncomplete(_logger, CutConnections);
                await _stopping.CancelAsync().ConfigureAwait(false);
                await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _memoryTrim?.Dispose();
        if (_admin is not null)
        {
            await _admin.DisposeAsync().ConfigureAwait(false);
        }

        if (_services is not null)
        {
            _services.Limits.Dispose();
            _services.History.Dispose();
            _services.Relays.Dispose();
            await _services.Pool.DisposeAsync().ConfigureAwait(false);
            await _services.AccessLog.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        DisposeReplaced(_snapshot?.Authenticator, null);
        _parentHealth?.Dispose();
        _stopping.Dispose();
        _draining.Dispose();
    }

    private static Socket Bind(IPEndPoint address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (address.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // [::] also takes IPv4 clients, as operators expect
            }

            socket.Bind(address);
            socket.Listen(1024);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync(Socket listener, IPEndPoint endpoint, ListenerTls? tls)
    {
        var backoff = new Listening.AcceptBackoff(TimeProvider.System, TimeSpan.FromSeconds(10));
        using var acceptor = new Listening.Acceptor(listener);
        while (await AcceptNextAsync(acceptor, backoff, endpoint).ConfigureAwait(false) is { } socket)
        {
            socket.NoDelay = true;
            IPAddress client = ((IPEndPoint)socket.RemoteEndPoint!).Address;
            if (_services!.Limits.TryOpenConnection(client, CurrentConfig.Limits) is { } refused)
            {
                if (Interlocked.Increment(ref _refusing) > _refusalBudget)
                {
                    // Answering takes a descriptor for a while; with many refusals already under way, close at once.
                    Interlocked.Decrement(ref _refusing);
                    _services.Metrics.CountRejection(refused);
                    socket.Dispose();
                    continue;
                }

                _sessions.Enter();
                _ = RefuseAsync(socket, client, refused, tls is null);
                continue;
            }

            // Counted before it runs: the session's first step runs right here (no hop to the thread pool, see
            // RunSessionAsync), and a stop that comes meanwhile must count it and wait for it like any other. Each
            // session leaves the count in its own last step; its task is not kept.
            _sessions.Enter();
            _ = RunSessionAsync(socket, tls, client);
        }
    }

    /// <summary>
    /// The next connection, or null once the listener is closed. Short of file descriptors (an accept fails with
    /// EMFILE/ENFILE, or the new socket took one of the last ones before the limit) it stops accepting: new
    /// connections wait in the backlog while the open ones are served, until descriptors are free again. Each such
    /// accept is counted; the log has one line per interval and one when accepting resumes.
    /// </summary>
    private async Task<Socket?> AcceptNextAsync(Listening.Acceptor acceptor, Listening.AcceptBackoff backoff, IPEndPoint endpoint)
    {
        bool starved = false;
        while (true)
        {
            if (starved)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false); // checked ten times a second
                if (_stopped)
                {
                    return null;
                }

                starved = _pressure is not null && !_pressure.HasEased();
                if (starved)
                {
                    continue;
                }
            }

            SocketError result;
            try
            {
                result = await acceptor.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return null;
            }

            if (result == SocketError.OperationAborted || _stopped)
            {
                if (result == SocketError.Success)
                {
                    acceptor.TakeSocket().Dispose();
                }

                return null;
            }

            string failure;
            if (result == SocketError.Success)
            {
                Socket socket = acceptor.TakeSocket();
                if (_pressure?.Near(socket.SafeHandle.DangerousGetHandle()) is not { } limit)
                {
                    if (backoff.Succeeded() is > 0 and var failures)
                    {
                        ProxyLog.AcceptRecovered(_logger, ConfigEndpoints.Format(endpoint), failures);
                    }

                    return socket;
                }

                socket.Dispose(); // at once: what is left below the limit is for the runtime and the open connections
                failure = $"fewer than {Listening.DescriptorPressure.MarginFor(limit)} file descriptors left below the open-file limit {limit}";
            }
            else
            {
                failure = result == SocketError.TooManyOpenSockets ? "out of file descriptors (EMFILE/ENFILE)" : result.ToString();
            }

            _services!.Metrics.AcceptFailures.Inc();
            (TimeSpan wait, long report) = backoff.Failed();
            if (report > 0)
            {
                ProxyLog.AcceptFailed(_logger, ConfigEndpoints.Format(endpoint), report, failure);
            }

            starved = result is SocketError.TooManyOpenSockets or SocketError.Success;
            if (!starved)
            {
                await Task.Delay(wait).ConfigureAwait(false);
            }
        }
    }

    private async Task RunSessionAsync(Socket socket, ListenerTls? tls, IPAddress address)
    {
        ProxyServices services = _services!;
        try
        {
            // No hop to the thread pool first: socket completions run inline (ProxyRuntime), so the session's first
            // step runs here, on the accept loop's thread, until its first read waits (a few microseconds), instead
            // of costing every connection a queued work item and a woken thread.
            ProxySnapshot snapshot = _snapshot!;
            Connection? client = tls is null
                ? TryWrap(socket)
                : await HandshakeAsync(socket, tls, snapshot.Config.Timeouts.RequestHeaders).ConfigureAwait(false);
            if (client is null)
            {
                return;
            }

            Admin.LiveConnection live = services.Live.Add(client);
            services.Metrics.ActiveConnections.Inc();
            try
            {
                await new ClientSession(client, _currentSnapshot ??= () => _snapshot!, services, live, _stopping.Token).RunAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                ProxyLog.SessionCrashed(_logger, e, client.Remote);
            }
            finally
            {
                services.Live.Remove(live);
                services.Metrics.ActiveConnections.Dec();
            }
        }
        finally
        {
            services.Limits.CloseConnection(address);
            _sessions.Exit();
        }
    }

    /// <summary>
    /// A connection over a limit: refused at once with a clear answer (on a plain listener; a TLS one is closed, as
    /// answering would first cost a handshake), one log line, and a counter. Nobody else waits for it.
    /// </summary>
    private async Task RefuseAsync(Socket socket, IPAddress client, Limits.LimitKind limit, bool plain)
    {
        try
        {
            await AnswerRefusedAsync(socket, client, limit, plain).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _refusing);
            _sessions.Exit();
        }
    }

    private async Task AnswerRefusedAsync(Socket socket, IPAddress client, Limits.LimitKind limit, bool plain)
    {
        ProxyServices services = _services!;
        services.Metrics.CountRejection(limit);
        ProxyLog.LimitRefused(_logger, client.ToString(), limit.ToString());
        using Connection? connection = TryWrap(socket);
        if (connection is null || !plain)
        {
            return;
        }

        (Errors.ProxyErrorKind kind, string detail) = limit == Limits.LimitKind.Connections
            ? (Errors.ProxyErrorKind.ProxyFull, $"the proxy has {CurrentConfig.Limits.MaxConnections} connections open, its limit; try again shortly")
            : (Errors.ProxyErrorKind.ClientLimitReached, $"{client} has {CurrentConfig.Limits.MaxConnectionsPerClient} connections open, its limit; close some or reuse them");
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Errors.ErrorResponse.WriteAsync(connection.Stream, CurrentConfig.Name, kind, detail, keepAlive: false, withBody: true,
                [new("Retry-After", "1")], timeout.Token).ConfigureAwait(false);
            await connection.LingerCloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private static Connection? TryWrap(Socket socket)
    {
        try
        {
            return Connection.FromSocket(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            socket.Dispose(); // closed before we could look at it
            return null;
        }
    }

    private static string? CommonName(X509Certificate? presented)
    {
        if (presented is null)
        {
            return null;
        }

        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        string name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return name.Length == 0 ? null : name;
    }

    /// <summary>The TLS handshake of an HTTPS listener, bounded by the header timeout. A failure is one log line.</summary>
    private async Task<Connection?> HandshakeAsync(Socket socket, ListenerTls tls, TimeSpan timeout)
    {
        IPEndPoint? remote = null;
        var handshaking = new HandshakeStream(new NetworkStream(socket, ownsSocket: false));
        var tlsStream = new SslStream(handshaking, leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(timeout);
        try
        {
            remote = (IPEndPoint)socket.RemoteEndPoint!;
            await tlsStream.AuthenticateAsServerAsync(tls.Options(), deadline.Token).ConfigureAwait(false);
            handshaking.Handshaken();
            return new Connection(socket, tlsStream, remote) { CertificateUser = CommonName(tlsStream.RemoteCertificate) };
        }
        catch (Exception e)
        {
            // Whatever went wrong, it ends here: one line, the socket closed, never a crashed session.
            string reason = e is OperationCanceledException ? $"no complete handshake within {Durations.Format(timeout)}" : (e.InnerException?.Message ?? e.Message);
            ProxyLog.TlsHandshakeFailed(_logger, remote?.ToString() ?? "unknown", reason);
            await tlsStream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            return null;
        }
    }
}
