namespace Sluice.Proxy;

/// <summary>Which part of starting failed: what the operator has to look at.</summary>
public enum StartupFailure
{
    /// <summary>A listener's address could not be bound (in use, not an address of this machine, no permission).</summary>
    ListenerBind,

    /// <summary>The admin endpoint's address could not be bound.</summary>
    AdminBind,

    /// <summary>A listener's TLS certificate, key or client CA could not be loaded.</summary>
    Certificate,

    /// <summary>The users (or groups) file for proxy authentication could not be read or used.</summary>
    UsersFile,

    /// <summary>An upstream's credentials or CA could not be read (an unset variable, an unreadable file).</summary>
    Upstream,

    /// <summary>The inspection CA (tls.inspection) or its upstreamCa could not be loaded, or is not a usable CA.</summary>
    Inspection,

    /// <summary>The resolver could not be built: mode dns with no name server (neither resolver.servers nor /etc/resolv.conf).</summary>
    Resolver,

    /// <summary>The access-log file could not be opened for writing (no such folder, no permission).</summary>
    AccessLog,
}

/// <summary>
/// Starting failed for a reason outside the code: the configuration names something this machine cannot give (a
/// port in use, a certificate that does not load). The message is one line for the operator, naming the part and
/// the address or file; anything else thrown while starting is a bug, not one of these.
/// </summary>
public sealed class StartupException(StartupFailure kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public StartupFailure Kind { get; } = kind;
}
