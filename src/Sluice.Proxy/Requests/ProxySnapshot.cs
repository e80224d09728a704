using Microsoft.Extensions.Logging;
using Sluice.Proxy.Auth;
using Sluice.Policy.Config;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Inspection;
using Sluice.Proxy.Logging;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Resolution;
using Sluice.Proxy.Upstream;

namespace Sluice.Proxy.Requests;

/// <summary>
/// Everything a request is decided with, built once per configuration. A client connection reads the current
/// snapshot at the start of each request and that request keeps it to its end (a tunnel for its whole life), so a
/// reload reaches keep-alive connections at their next request and never changes the rules under an open exchange.
/// </summary>
internal sealed class ProxySnapshot
{
    /// <param name="ownEndpoints">The listeners, and the admin endpoint: never destinations (see <see cref="Policy.Addresses.AddressGuard"/>).</param>
    /// <param name="parentAccess">Each upstream's credentials and TLS trust (<see cref="ParentAccess.For"/>), read for this snapshot.</param>
    /// <param name="health">The server's view of which parent proxies are up: routes try the ones marked down last.</param>
    /// <param name="inspection">The inspection CA and origin trust (<see cref="InspectionAuthority.For"/>), when <c>tls.inspection</c> is configured.</param>
    /// <param name="resolver">Built from <c>resolver:</c> (kept across reloads that do not change it), or the host program's.</param>
    public ProxySnapshot(SluiceConfig config, OwnEndpoints ownEndpoints, BasicAuthenticator? authenticator, IReadOnlyDictionary<string, ParentAccess> parentAccess, ParentHealth health, IResolver resolver, InspectionAuthority? inspection = null)
    {
        Resolver = resolver;
        Inspection = inspection;
        Config = config;
        Authenticator = authenticator;
        ParentAccess = parentAccess;
        Pipeline = new RequestPipeline(config, ownEndpoints, health);
        Limits = new HeadLimits(config.Limits.MaxRequestLineBytes, config.Limits.MaxHeaderBytes, config.Limits.MaxHeaderCount);
    }

    public SluiceConfig Config { get; }

    /// <summary>The rules, the address guard and every other step that decides what a request gets.</summary>
    public RequestPipeline Pipeline { get; }

    public HeadLimits Limits { get; }

    /// <summary>Where this snapshot's requests, and its parents' names, are resolved; its cache outlives the snapshot when the next one keeps it.</summary>
    public IResolver Resolver { get; }

    /// <summary>How to reach each upstream's proxies, by upstream name.</summary>
    public IReadOnlyDictionary<string, ParentAccess> ParentAccess { get; }

    public string Name => Config.Name;

    /// <summary>Set when <c>tls.inspection</c> is configured: the CA inspected tunnels mint with, and how origins are checked.</summary>
    public InspectionAuthority? Inspection { get; }

    /// <summary>Set when <c>auth.basic</c> is configured; kept across reloads that do not change it, else a successor sharing its state.</summary>
    public BasicAuthenticator? Authenticator { get; }
}

/// <summary>Services shared by every connection for the life of the server.</summary>
internal sealed class ProxyServices
{
    public required UpstreamDialer Dialer { get; init; }

    /// <summary>Connections and tunnels through parent proxies, with their health.</summary>
    public required ParentDialer Parents { get; init; }

    public required UpstreamPool Pool { get; init; }

    public required AccessLog AccessLog { get; init; }

    public required ILogger Logger { get; init; }

    public required Metrics.ProxyMetrics Metrics { get; init; }

    public required Admin.LiveConnections Live { get; init; }

    public required Admin.TrafficStats Stats { get; init; }

    /// <summary>Requests, bytes, denials and would-denies a second over the last 15 minutes.</summary>
    public required Admin.TrafficHistory History { get; init; }

    /// <summary>Each rule's decisions since the start: hits, would-denies, the last hit.</summary>
    public required Admin.RuleUsage Usage { get; init; }

    public required Limits.ClientLimits Limits { get; init; }

    /// <summary>Each destination's request rate and open tunnels (<c>limits.perDestination</c>), across reloads.</summary>
    public required Limits.DestinationLimits Destinations { get; init; }

    /// <summary>The idle timeouts of open tunnels and upgraded connections, and their cut at a stop.</summary>
    public required Transport.IdleWatch Relays { get; init; }

    /// <summary>Whether tunnels and response bodies between two plain sockets use splice(2).</summary>
    public bool Splice { get; init; }

    /// <summary>The data-port permits of open <c>ftp: passive</c> control tunnels.</summary>
    public required IControlChannels Permits { get; init; }

    /// <summary>Cancelled when the server starts to stop: idle connections close, responses say Connection: close.</summary>
    public required CancellationToken Draining { get; init; }
}
