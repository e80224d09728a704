namespace Sluice.Client.Export;

/// <summary>
/// The whole machine, as root: the proxy variables in <c>/etc/environment</c> (read by pam_env for every login
/// session), and a CA in the system trust store, by the distribution's own tool: <c>update-ca-certificates</c>
/// (Debian, Ubuntu, Alpine: from <c>/usr/local/share/ca-certificates/*.crt</c>) or <c>update-ca-trust</c> (RHEL,
/// Fedora, CentOS: from <c>/etc/pki/ca-trust/source/anchors/</c>). What trusts that store then trusts the CA for every
/// origin: OpenSSL and GnuTLS programs (curl, wget, git, apt), Python's ssl, .NET on Linux, and the distribution's Java.
/// </summary>
public sealed class SystemExporter : IProxyExporter
{
    public string Format => "system";

    public string Description => "for the whole machine, as root: /etc/environment lines, and the CA in the system trust store (update-ca-certificates, update-ca-trust)";

    public ExportResult Export(ExportRequest request)
    {
        (List<KeyValuePair<string, string>> variables, List<ExportLint> lints) = EnvVariables.Build(request with { CaFile = null, Inspection = null }, EnvNoProxy.Translate(request.Proxy.Excluded), []);
        lints.Add(new ExportLint("/etc/environment", "read at login by pam_env: services started by systemd do not read it (--format systemd for a drop-in), and running shells keep what they had"));
        var lines = new List<string> { "cat >> /etc/environment <<'EOF'" };
        lines.AddRange(variables.Select(v => $"{v.Key}={v.Value}")); // URLs percent-encoded, entries without spaces or quotes: nothing for pam_env to unquote
        lines.Add("EOF");

        var cas = new List<(string Name, string File)>();
        if (request.Inspection is { } trust)
        {
            cas.Add(("sluice-inspection-ca", trust.CaFile));
        }

        if (request.CaFile is { } proxyCa && (request.Inspection is null || Path.GetFullPath(proxyCa) != request.Inspection.CaFile))
        {
            cas.Add(("sluice-proxy-ca", proxyCa));
            lints.Add(new ExportLint("--ca", "installed in the system trust store, the proxy's own CA is trusted for every origin too: no system setting trusts a CA for the proxy connection only"));
        }

        if (cas.Count > 0)
        {
            lines.Add("if command -v update-ca-certificates >/dev/null 2>&1; then");
            lines.AddRange(cas.Select(ca => $"  install -m 0644 {ExportText.Sh(ca.File)} /usr/local/share/ca-certificates/{ca.Name}.crt"));
            lines.Add("  update-ca-certificates");
            lines.Add("elif command -v update-ca-trust >/dev/null 2>&1; then");
            lines.AddRange(cas.Select(ca => $"  install -m 0644 {ExportText.Sh(ca.File)} /etc/pki/ca-trust/source/anchors/{ca.Name}.crt"));
            lines.Add("  update-ca-trust");
            lines.Add("else");
            lines.Add("  echo 'neither update-ca-certificates nor update-ca-trust is here: add the CA to this system'\\''s trust store by hand' >&2");
            lines.Add("  false");
            lines.Add("fi");
        }

        if (request.Inspection is not null)
        {
            lints.Add(new ExportLint("--inspection-ca", "Node keeps its own roots (NODE_EXTRA_CA_CERTS: --format node), requests installed with pip uses certifi's (REQUESTS_CA_BUNDLE: --format python), and a JDK with its own cacerts, not the distribution's, its own (--format java)"));
        }

        CommonLints.Add(lints, request, "the system");
        return new ExportResult(lines, lints);
    }
}
