using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sluice.Client.Export;

/// <summary>
/// What runtimes need to trust a TLS-inspecting proxy's CA for origins, in two shapes: the CA file itself, for the
/// settings that add a CA to a runtime's roots (<c>NODE_EXTRA_CA_CERTS</c>, the system trust store, keytool), and a
/// bundle of the system roots plus the CA, for the settings that replace a runtime's roots (<c>SSL_CERT_FILE</c>,
/// <c>REQUESTS_CA_BUNDLE</c>, <c>CURL_CA_BUNDLE</c>, git's <c>http.sslCAInfo</c>, npm's <c>cafile</c>, apt's
/// <c>CaInfo</c>): the system roots stay trusted either way. Exporters name the bundle in their lines and return it
/// as an <see cref="ExportFile"/> for the caller to write.
/// </summary>
public sealed record InspectionTrust
{
    /// <summary>The inspecting proxy's CA, a PEM file (absolute path).</summary>
    public required string CaFile { get; init; }

    /// <summary>How many certificates <see cref="CaFile"/> holds (keytool imports the first only).</summary>
    public int CaCount { get; init; } = 1;

    /// <summary>Where the bundle goes (absolute path).</summary>
    public required string BundleFile { get; init; }

    /// <summary>The bundle: the system roots, then the CA(s).</summary>
    public required string BundlePem { get; init; }

    /// <summary>The roots the bundle starts from, and how many certificates it took from there.</summary>
    public required string SystemRootsFile { get; init; }

    public int SystemRootsCount { get; init; }

    /// <summary>
    /// The bundle also holds the HTTPS proxy's own CA (<c>--ca</c>, another file): where one setting serves the proxy
    /// connection and the origins alike, the proxy's certificate must verify too.
    /// </summary>
    public bool BundleHoldsProxyCa { get; init; }

    /// <summary>The Java trust store the java format's keytool lines build: the bundle's path with <c>.p12</c>.</summary>
    public string TrustStoreFile => Path.ChangeExtension(BundleFile, ".p12");

    /// <summary>The bundle as a file to write.</summary>
    public ExportFile Bundle => new(BundleFile, BundlePem, $"the system roots of {SystemRootsFile} ({SystemRootsCount} certificate{(SystemRootsCount == 1 ? "" : "s")}) and the inspecting proxy's CA{(BundleHoldsProxyCa ? " and the proxy's own CA" : "")}");

    /// <summary>Where a bundle goes when the caller names no place: beside the CA, <c>NAME-bundle.pem</c>.</summary>
    public static string DefaultBundleFile(string caFile) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(caFile)) ?? ".", Path.GetFileNameWithoutExtension(caFile) + "-bundle.pem");

    /// <summary>
    /// Reads the CA (checked by <see cref="InspectionCa.Parse"/>) and the system roots, and builds the bundle. The
    /// proxy's own CA (<paramref name="proxyCaFile"/>, for <c>type: https</c> only) joins the bundle when it is another CA.
    /// </summary>
    /// <exception cref="FormatException">A file cannot be read, the CA is not one, or the system roots hold no certificate; the message names the file.</exception>
    public static InspectionTrust Load(string caFile, string bundleFile, string systemRootsFile, ProxySettings proxy, string? proxyCaFile = null)
    {
        string caPath = Path.GetFullPath(caFile);
        string caPem = Read(caPath, "the inspection CA");
        X509Certificate2Collection cas;
        try
        {
            cas = InspectionCa.Parse(caPem);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{caPath}: {e.Message}", e);
        }

        try
        {
            int caCount = cas.Count;
            bool withProxyCa = false;
            if (proxy.Type == ProxyType.Https && proxyCaFile is not null && Path.GetFullPath(proxyCaFile) != caPath)
            {
                var proxyCas = new X509Certificate2Collection();
                proxyCas.ImportFromPem(Read(Path.GetFullPath(proxyCaFile), "the proxy's CA"));
                foreach (X509Certificate2 certificate in proxyCas)
                {
                    if (cas.Cast<X509Certificate2>().Any(c => c.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span)))
                    {
                        certificate.Dispose();
                    }
                    else
                    {
                        cas.Add(certificate);
                        withProxyCa = true;
                    }
                }
            }

            string rootsPath = Path.GetFullPath(systemRootsFile);
            (string bundle, int systemCount) = TrustBundle.Build(Read(rootsPath, "the system roots"), cas, rootsPath);
            if (systemCount == 0)
            {
                throw new FormatException($"the system roots {rootsPath} hold no PEM certificate");
            }

            return new InspectionTrust
            {
                CaFile = caPath,
                CaCount = caCount,
                BundleFile = Path.GetFullPath(bundleFile),
                BundlePem = bundle,
                SystemRootsFile = rootsPath,
                SystemRootsCount = systemCount,
                BundleHoldsProxyCa = withProxyCa,
            };
        }
        finally
        {
            foreach (X509Certificate2 certificate in cas)
            {
                certificate.Dispose();
            }
        }
    }

    private static string Read(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"cannot read {what} {path}: {e.Message}", e);
        }
    }
}

/// <summary>
/// The bundle of roots a machine trusts: <c>SSL_CERT_FILE</c> when it names a file (OpenSSL-based runtimes trust
/// exactly that file then), else the first distribution bundle that exists: Debian, Ubuntu and Alpine, then RHEL,
/// Fedora and CentOS, then openSUSE, then macOS and the BSDs.
/// </summary>
public static class SystemRoots
{
    public static IReadOnlyList<string> Candidates { get; } =
        ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"];

    /// <param name="getenv">The environment (<see cref="ProxyEnvironment.Process"/>).</param>
    /// <param name="exclude">The bundle about to be written: a <c>SSL_CERT_FILE</c> naming it (an earlier run's output) is passed over.</param>
    public static string? Find(Func<string, string?> getenv, string? exclude = null)
    {
        if (getenv("SSL_CERT_FILE") is { Length: > 0 } named && File.Exists(named)
            && (exclude is null || Path.GetFullPath(named) != Path.GetFullPath(exclude)))
        {
            return Path.GetFullPath(named);
        }

        return Candidates.FirstOrDefault(File.Exists);
    }
}

/// <summary>System roots plus extra CAs as one PEM bundle, each certificate once.</summary>
internal static class TrustBundle
{
    public static (string Pem, int SystemCount) Build(string systemPem, X509Certificate2Collection extra, string systemFile)
    {
        var text = new StringBuilder();
        text.Append("# Trust bundle written by sluice env: the system roots of ").Append(systemFile)
            .Append(", then the CA of the TLS-inspecting proxy. Run sluice env again to rebuild it.\n");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (X509Certificate2 certificate in extra)
        {
            seen.Add(Convert.ToBase64String(certificate.RawData));
        }

        int count = 0;
        ReadOnlySpan<char> rest = systemPem;
        while (PemEncoding.TryFind(rest, out PemFields fields))
        {
            byte[] der = new byte[fields.DecodedDataLength];
            if (rest[fields.Label].SequenceEqual("CERTIFICATE") && Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out int written)
                && seen.Add(Convert.ToBase64String(der, 0, written))) // the same certificate however its PEM was wrapped
            {
                text.Append(PemEncoding.Write("CERTIFICATE", der.AsSpan(0, written))).Append('\n');
                count++;
            }

            rest = rest[fields.Location.End..];
        }

        foreach (X509Certificate2 certificate in extra)
        {
            text.Append("# ").Append(certificate.Subject).Append('\n').Append(certificate.ExportCertificatePem()).Append('\n');
        }

        return (text.ToString(), count);
    }
}
