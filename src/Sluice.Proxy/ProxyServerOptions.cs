using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Proxy.Resolution;

namespace Sluice.Proxy;

/// <summary>What the host supplies besides the configuration: the seams tests and embedders replace.</summary>
public sealed class ProxyServerOptions
{
    /// <summary>
    /// Name resolution chosen by the host program, which wins over <c>resolver:</c> in the configuration (and over its
    /// reloads); tests map their names to 127.0.0.x so nothing leaves the machine. Null: built from the configuration.
    /// </summary>
    public IResolver? Resolver { get; init; }

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Overrides <c>log.access</c> with a writer the host owns.</summary>
    public TextWriter? AccessLogOutput { get; init; }

    /// <summary>
    /// Plain tunnels, and request and response bodies passed on as they come between two plain sockets, move bytes with Linux
    /// splice(2) (no copy through the process) where available; false uses the
    /// portable buffer copy everywhere (tests cover both).
    /// </summary>
    public bool Splice { get; init; } = true;

    /// <summary>How long <see cref="ProxyServer.StopAsync"/> waits for open connections; null: <c>timeouts.drain</c>.</summary>
    public TimeSpan? DrainTimeout { get; init; }

    /// <summary>How long the proxy must be quiet after a busy period before it gives memory back (Memory/MemoryTrim).</summary>
    public TimeSpan MemoryTrimInterval { get; init; } = TimeSpan.FromSeconds(15);
}
