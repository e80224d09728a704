namespace Sluice.Client.Diagnostics;

/// <summary>One-line advice for each way a probe can fail: the single table from a failure to what to do about it.</summary>
public static class ProbeHints
{
    // Services whose clients cannot reach them through a proxy spoken to over TLS (type: https). Their drivers
    // support only plain HTTP proxies, so a data platform that uses an HTTPS proxy must let them go direct.
    private static readonly (string Suffix, string Service)[] NoHttpsProxy =
    [
        ("snowflakecomputing.com", "Snowflake"),
    ];

    public const string ProxyUnreachable = "check the host and port in --proxy, and that the proxy is running and reachable from here";

    public const string ProxyTlsUntrusted = "trust the proxy's CA with --ca";

    public const string ProxyTlsName = "use a proxy host name that the proxy's certificate names";

    public const string ProxyTlsFailed = "is this an HTTPS proxy? use http:// in --proxy for a plain proxy";

    public const string ProxyClosed = "the proxy closed the connection: if it expects TLS, use https:// in --proxy";

    public const string NeedsUser = "pass --user (the password from SLUICE_PROXY_PASSWORD or the prompt)";

    public const string BadCredentials = "the proxy refused these credentials: check the user name and password";

    public const string OriginUntrusted = "a TLS-inspecting proxy: trust its CA with --ca, or exclude this destination";

    public const string OriginName = "the certificate presented does not name this host: a TLS-inspecting proxy or a misconfigured origin";

    public const string OriginTlsFailed = "the destination did not complete a TLS handshake: is it a TLS port? (use http://host for plain HTTP)";

    /// <summary>The service behind a name that cannot be used through an HTTPS proxy, or null.</summary>
    public static string? ServiceWithoutHttpsProxySupport(string host)
    {
        foreach ((string suffix, string service) in NoHttpsProxy)
        {
            if (host == suffix || host.EndsWith("." + suffix, StringComparison.Ordinal))
            {
                return service;
            }
        }

        return null;
    }

    public static string NoHttpsProxySupport(string host)
    {
        string suffix = NoHttpsProxy.First(s => host == s.Suffix || host.EndsWith("." + s.Suffix, StringComparison.Ordinal)).Suffix;
        return $"add {suffix} to excludedDomains: that service does not support HTTPS proxies";
    }

    /// <summary>Advice for a CONNECT refused with this status and RFC 9209 error type.</summary>
    public static string ForConnect(int status, string? error) => (status, error) switch
    {
        (403, "destination_ip_prohibited") => "the name resolves to a private address the proxy refuses",
        (403, _) => "the proxy's policy refuses this destination: ask for it to be allowed, or add it to excludedDomains if it must go direct",
        (_, "dns_error") => "the proxy cannot resolve this name: check the spelling, or the proxy's DNS",
        (_, "dns_timeout") => "the proxy's DNS did not answer in time: retry, or check the proxy's resolver",
        (_, "connection_refused") => "nothing listens on that port at the destination (the proxy's connection was refused)",
        (_, "connection_timeout") => "the destination did not answer the proxy: a firewall beyond the proxy may drop it",
        (_, "destination_unavailable") => "the proxy cannot reach the destination's network",
        (_, "proxy_loop_detected") => "the request came back to the proxy: the destination is the proxy itself or a chain loops",
        (429, _) => "the proxy is limiting this client (too many failed logins or connections): wait and retry",
        (503, _) => "the proxy is overloaded or shutting down: retry later",
        (405, _) or (501, _) => "the proxy does not allow CONNECT: it may be a plain HTTP forwarder, or not a proxy",
        (>= 500, _) => "the proxy could not reach the destination: see the Proxy-Status error",
        _ => "the proxy refused the tunnel: see the Proxy-Status error",
    };
}
