namespace Sluice.Client;

/// <summary>One named connection's choice: the global proxy, no proxy, or a proxy of its own.</summary>
public sealed record ConnectionProfile
{
    /// <summary>True (the default): use the global proxy. False: go direct unless <see cref="Proxy"/> is set.</summary>
    public bool UseGlobalProxy { get; init; } = true;

    /// <summary>A proxy for this connection only (used when <see cref="UseGlobalProxy"/> is false).</summary>
    public ProxySettings? Proxy { get; init; }
}

/// <summary>
/// A global proxy plus per-connection overrides, as data platforms configure it: "S3 through the proxy, the on-prem
/// database direct, the partner SFTP through its own proxy". Unknown connection names use the global proxy.
/// </summary>
public sealed class ConnectionProfiles
{
    private readonly Dictionary<string, ConnectionProfile> _profiles;

    public ConnectionProfiles(ProxySettings? global, IReadOnlyDictionary<string, ConnectionProfile>? profiles = null)
    {
        Global = global;
        _profiles = new Dictionary<string, ConnectionProfile>(profiles ?? new Dictionary<string, ConnectionProfile>(), StringComparer.OrdinalIgnoreCase);
    }

    public ProxySettings? Global { get; }

    /// <summary>The proxy for this connection, or null to go direct.</summary>
    public ProxySettings? For(string connection) => _profiles.TryGetValue(connection, out ConnectionProfile? profile)
        ? profile.UseGlobalProxy ? Global : profile.Proxy
        : Global;

    public SocketsHttpHandler CreateHandler(string connection) => ProxyHandlerFactory.Create(For(connection));
}
