namespace Sluice.Deploy.Squid;

/// <summary>What an ssl_bump line does once its acls match: splice, bump, terminate, or only look (peek, stare).</summary>
internal enum BumpAction
{
    Splice,
    Bump,
    Terminate,
    Look,
}

/// <summary><c>ssl_bump ACTION [!]ACL...</c>, with the line as written.</summary>
internal sealed record BumpLine(int Line, BumpAction Action, IReadOnlyList<AclTerm> Terms, string Text);

/// <summary>The CA of an <c>http_port ... ssl-bump tls-cert=X tls-key=Y</c>, at its line.</summary>
internal sealed record BumpCa(int Line, string Certificate, string Key);

/// <summary>
/// The directives of Squid's SslBump as an explicit proxy does it (CONNECT on an http_port with ssl-bump): the CA it
/// signs with, the ssl_bump lines in order, the extra CAs trusted for origins (<c>tls_outgoing_options cafile=</c>,
/// <c>sslproxy_cafile</c>). What Sluice does its own fixed way (minting, caching, validating origins) is noted.
/// </summary>
internal sealed class BumpDirectives
{
    private static readonly Dictionary<string, string> Fixed = new(StringComparer.Ordinal)
    {
        ["sslcrtd_program"] = "Sluice mints the certificates itself, in a bounded in-memory cache: no helper to run",
        ["sslcrtd_children"] = "Sluice mints the certificates itself, in a bounded in-memory cache: no helper to run",
        ["sslproxy_cert_error"] = "Sluice never accepts an origin certificate that does not validate: such a CONNECT gets 502 with error=tls_certificate_error",
        ["sslproxy_flags"] = "Sluice always validates origin certificates (system roots plus upstreamCa) and checks the name",
        ["sslproxy_cert_sign"] = "Sluice signs every certificate it mints the same way: the CONNECT's host as the only name, with its inspection CA; it never mimics an untrusted or self-signed origin",
        ["sslproxy_cert_adapt"] = "Sluice signs every certificate it mints the same way: the CONNECT's host as the only name, with its inspection CA; it never mimics an untrusted or self-signed origin",
        ["sslproxy_options"] = "Sluice negotiates TLS 1.2 or 1.3 with origins with the platform's settings",
        ["sslproxy_cipher"] = "Sluice negotiates TLS 1.2 or 1.3 with origins with the platform's settings",
        ["sslproxy_version"] = "Sluice negotiates TLS 1.2 or 1.3 with origins with the platform's settings",
        ["sslproxy_capath"] = "a folder of CAs: Sluice reads one PEM file; concatenate them into tls.inspection.upstreamCa",
    };

    private BumpDirectives()
    {
    }

    /// <summary>The CA of the first http_port with ssl-bump and a certificate; null when there is none.</summary>
    public BumpCa? Ca { get; private set; }

    public List<BumpLine> Lines { get; } = [];

    /// <summary>The extra CAs trusted for origins, and the line that names them.</summary>
    public (int Line, string File)? UpstreamCa { get; private set; }

    public static bool Handles(string directive) =>
        directive is "ssl_bump" or "tls_outgoing_options" or "sslproxy_cafile" || Fixed.ContainsKey(directive);

    public static BumpDirectives Read(IEnumerable<SquidPort> ports, IEnumerable<SquidDirective> directives, SquidNotes notes)
    {
        var result = new BumpDirectives();
        foreach (SquidPort port in ports.Where(p => p.Directive == "http_port" && p.Options.Any(o => o.Key == "ssl-bump") && !SquidListeners.Intercepts(p)))
        {
            result.ReadPort(port, notes);
        }

        foreach (SquidDirective directive in directives.Where(d => Handles(d.Name)))
        {
            (int line, string name, IReadOnlyList<string> args) = (directive.Line, directive.Name, directive.Arguments);
            switch (name)
            {
                case "ssl_bump":
                    result.ReadBump(directive, notes);
                    break;
                case "sslproxy_cafile" when args.Count == 1:
                    result.UpstreamCa = (line, args[0]);
                    break;
                case "sslproxy_cafile":
                    notes.Untranslated(line, name, "expected one file");
                    break;
                case "tls_outgoing_options":
                    result.ReadOutgoing(directive, notes);
                    break;
                case "sslcrtd_program" or "sslcrtd_children":
                    notes.Remark(line, name, Fixed[name]);
                    break;
                default:
                    notes.Untranslated(line, name, Fixed[name]);
                    break;
            }
        }

        return result;
    }

    private void ReadPort(SquidPort port, SquidNotes notes)
    {
        (int line, string directive) = (port.Line, port.Directive);
        string? cert = SquidListeners.Option(port, "cert", "tls-cert");
        string? key = SquidListeners.Option(port, "key", "tls-key");
        if (string.IsNullOrEmpty(cert))
        {
            notes.Untranslated(line, directive, "ssl-bump without tls-cert=: there is no CA to sign with (Squid refuses to bump here too)");
            return;
        }

        if (string.IsNullOrEmpty(key))
        {
            key = cert;
            notes.Remark(line, directive, "ssl-bump without tls-key=: Squid reads the key from the tls-cert= file, so tls.inspection.key is the same file");
        }

        if (SquidListeners.Option(port, "generate-host-certificates", "generate-host-certificates") == "off")
        {
            notes.Untranslated(line, directive, "generate-host-certificates=off: Sluice always mints a certificate per host, signed by tls-cert=, which must be a CA");
        }

        if (port.Options.Any(o => o.Key == "dynamic_cert_mem_cache_size"))
        {
            notes.Remark(line, directive, "dynamic_cert_mem_cache_size: Sluice keeps the certificates it mints in a bounded cache of its own");
        }

        if (Ca is null)
        {
            Ca = new BumpCa(line, cert, key);
            notes.Remark(line, directive, $"ssl-bump: the CA becomes tls.inspection (ca {cert}, key {key}); the listener is a plain one, as every Sluice listener can inspect");
        }
        else if (Ca.Certificate != cert || Ca.Key != key)
        {
            notes.Untranslated(line, directive, $"a second ssl-bump CA: Sluice inspects with one, the one of line {Ca.Line}");
        }
    }

    private void ReadBump(SquidDirective directive, SquidNotes notes)
    {
        (int line, IReadOnlyList<string> args) = (directive.Line, directive.Arguments);
        string text = $"ssl_bump {string.Join(' ', args)}";
        BumpAction? action = args.Count == 0 ? null : args[0] switch
        {
            "splice" => BumpAction.Splice,
            "bump" => BumpAction.Bump,
            "terminate" => BumpAction.Terminate,
            "peek" or "stare" => BumpAction.Look,
            "none" => BumpAction.Splice,
            "client-first" or "server-first" => BumpAction.Bump,
            _ => null,
        };
        if (action is not { } a)
        {
            notes.Untranslated(line, "ssl_bump", $"expected ssl_bump splice|bump|peek|stare|terminate ACL..., got '{text}'");
            return;
        }

        if (args[0] is "none" or "client-first" or "server-first")
        {
            notes.Remark(line, "ssl_bump", $"{args[0]} is Squid 3.4's word for {(a == BumpAction.Splice ? "splice" : "bump")}, and is read as such");
        }

        AclTerm[] terms = [.. args.Skip(1).Select(t => t.StartsWith('!') ? new AclTerm(t[1..], true) : new AclTerm(t, false))];
        Lines.Add(new BumpLine(line, a, terms, text));
    }

    private void ReadOutgoing(SquidDirective directive, SquidNotes notes)
    {
        foreach (string option in directive.Arguments)
        {
            string[] kv = option.Split('=', 2);
            (string key, string value) = (kv[0], kv.Length == 2 ? kv[1] : "");
            switch (key)
            {
                case "cafile" when value.Length > 0:
                    UpstreamCa = (directive.Line, value);
                    break;
                case "capath":
                    notes.Untranslated(directive.Line, directive.Name, Fixed["sslproxy_capath"]);
                    break;
                case "flags" or "default-ca":
                    notes.Untranslated(directive.Line, directive.Name, $"{option}: {Fixed["sslproxy_flags"]}");
                    break;
                case "min-version" or "options" or "cipher":
                    notes.Untranslated(directive.Line, directive.Name, $"{option}: {Fixed["sslproxy_options"]}");
                    break;
                default:
                    notes.Untranslated(directive.Line, directive.Name, $"option '{key}' has no Sluice equivalent");
                    break;
            }
        }
    }
}
