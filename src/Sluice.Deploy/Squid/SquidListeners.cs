namespace Sluice.Deploy.Squid;

/// <summary>
/// <c>http_port</c> and <c>https_port</c> as Sluice listeners. Interception and reverse-proxy ports are left out;
/// options without an equivalent are reported and the listener is kept without them. An http_port with ssl-bump is
/// an explicit proxy that bumps CONNECTs: a plain listener here, its CA read by <see cref="BumpDirectives"/>.
/// </summary>
internal static class SquidListeners
{
    private static readonly string[] Modes = ["intercept", "transparent", "tproxy", "accel", "vhost", "vport"];

    private static readonly string[] TlsOptions = ["cert", "tls-cert", "key", "tls-key", "clientca", "tls-clientca"];

    private static readonly string[] BumpOptions = ["ssl-bump", "cert", "tls-cert", "key", "tls-key", "generate-host-certificates", "dynamic_cert_mem_cache_size"];

    /// <summary>Is the port one Sluice cannot be: intercepting, reverse proxy, or bumping TLS that arrives without CONNECT?</summary>
    public static bool Intercepts(SquidPort port) => Mode(port) is not null;

    // ssl-bump on an https_port bumps intercepted TLS (Squid requires intercept or tproxy there).
    private static SquidOption? Mode(SquidPort port) =>
        port.Options.FirstOrDefault(o => Modes.Contains(o.Key) || (o.Key == "ssl-bump" && port.Directive == "https_port"));

    public static List<SquidListener> Translate(IEnumerable<SquidPort> ports, SquidNotes notes)
    {
        var listeners = new List<SquidListener>();
        foreach (SquidPort port in ports)
        {
            if (Listener(port, notes) is not { } listener)
            {
                continue;
            }

            if (listeners.Any(l => l.Address == listener.Address))
            {
                notes.Untranslated(port.Line, port.Directive, $"{listener.Address} is already a listener");
                continue;
            }

            listeners.Add(listener);
        }

        return listeners;
    }

    private static SquidListener? Listener(SquidPort port, SquidNotes notes)
    {
        (int line, string directive) = (port.Line, port.Directive);
        if (Mode(port) is { } mode)
        {
            notes.Untranslated(line, directive, $"'{mode.Text}': Sluice is an explicit forward proxy only (no interception or reverse-proxy mode)");
            return null;
        }

        if (port.BarePort is { } bare)
        {
            notes.Remark(line, directive, $"port {bare} alone listens on every address, as Squid does: [::]:{bare} (IPv6 and IPv4)");
        }

        if (port.Address is not { } address)
        {
            notes.Untranslated(line, directive, $"'{port.Spec}' is not IP:port (Sluice listens on addresses, not host names)");
            return null;
        }

        SquidListenerTls? tls = null;
        if (directive == "https_port")
        {
            string? cert = Option(port, "cert", "tls-cert");
            string? key = Option(port, "key", "tls-key");
            string? clientCa = Option(port, "clientca", "tls-clientca");
            if (string.IsNullOrEmpty(cert))
            {
                notes.Untranslated(line, directive, "no cert= given: an HTTPS listener needs a certificate");
                return null;
            }

            if (string.IsNullOrEmpty(key))
            {
                key = cert;
                notes.Remark(line, directive, "no key= given: Squid reads the key from the cert= file, so key is the same file");
            }

            tls = new SquidListenerTls(cert, key, string.IsNullOrEmpty(clientCa) ? null : clientCa);
        }

        string[] consumed = port.Options.Any(o => o.Key == "ssl-bump") ? BumpOptions : TlsOptions;
        foreach (SquidOption option in port.Options.Where(o => !consumed.Contains(o.Key)))
        {
            notes.Untranslated(line, directive, $"option '{option.Key}' has no Sluice equivalent; the listener is translated without it");
        }

        return new SquidListener(address, tls);
    }

    public static string? Option(SquidPort port, string name, string tlsName) =>
        port.Options.FirstOrDefault(o => o.Key == name || o.Key == tlsName)?.Value;
}
