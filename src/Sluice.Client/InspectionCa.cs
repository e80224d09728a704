using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Client;

/// <summary>
/// The CA of a TLS-inspecting proxy: the certificates such a proxy mints for HTTPS destinations chain to it. One
/// reading for every source (the vendor block's <c>sslInspectionCA</c>, <c>SLUICE_INSPECTION_CA</c>,
/// <see cref="ProxySettings.WithInspectionCa"/>, <c>sluice env --inspection-ca</c>), checked once: at least one PEM
/// certificate, every one a CA (basicConstraints CA:TRUE, keyCertSign when key usage is present) and valid now, and
/// no private key beside them (the key stays with the proxy).
/// </summary>
public static class InspectionCa
{
    /// <summary>The certificates of <paramref name="pem"/>; the caller disposes them.</summary>
    /// <exception cref="FormatException">The text is not a CA certificate as above; the message says why.</exception>
    public static X509Certificate2Collection Parse(string pem)
    {
        if (pem.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new FormatException("holds a private key: give clients the CA certificate only (the key stays with the proxy)");
        }

        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"a certificate in it cannot be read: {e.Message}", e);
        }

        if (certificates.Count == 0)
        {
            throw new FormatException("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        foreach (X509Certificate2 certificate in certificates)
        {
            if (Problem(certificate, DateTime.Now) is { } problem)
            {
                string subject = certificate.Subject;
                foreach (X509Certificate2 c in certificates)
                {
                    c.Dispose();
                }

                throw new FormatException($"the certificate {subject} {problem}");
            }
        }

        return certificates;
    }

    private static string? Problem(X509Certificate2 certificate, DateTime now)
    {
        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
        {
            return "is not a CA certificate (no basicConstraints CA:TRUE): a proxy cannot issue certificates with it; give the CA the proxy signs with, not a server certificate";
        }

        if (certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            return "is not a CA certificate (its key usage lacks keyCertSign)";
        }

        return now > certificate.NotAfter ? $"expired on {Utc(certificate.NotAfter)}"
            : now < certificate.NotBefore ? $"is not valid before {Utc(certificate.NotBefore)}"
            : null;
    }

    private static string Utc(DateTime local) => local.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// A value as the settings sources give it: PEM when it starts with <c>-----BEGIN</c>, else the path of a PEM
    /// file (relative to <paramref name="baseDirectory"/>, or the current directory). Read and checked now; errors
    /// name <paramref name="key"/> and the path.
    /// </summary>
    internal static (string Pem, string? File) Read(string value, string? baseDirectory, string key)
    {
        (string pem, string? file) = CaText.Read(value, baseDirectory, key);
        try
        {
            foreach (X509Certificate2 certificate in Parse(pem))
            {
                certificate.Dispose();
            }
        }
        catch (FormatException e)
        {
            throw new FormatException($"{key}: {(file is null ? "" : file + ": ")}{e.Message}", e);
        }

        return (pem, file);
    }
}

/// <summary>A CA setting's value: inline PEM, or a file read now.</summary>
internal static class CaText
{
    public static (string Pem, string? File) Read(string value, string? baseDirectory, string key)
    {
        if (value.TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal))
        {
            return (value, null);
        }

        string path = Path.GetFullPath(value.Trim(), baseDirectory ?? Directory.GetCurrentDirectory());
        try
        {
            return (File.ReadAllText(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"{key}: cannot read {path}: {e.Message}", e);
        }
    }
}
