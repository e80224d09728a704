using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// A throwaway CA and the certificates it issues, made inside the test and written as PEM files to a temporary
/// folder the test owns (keys never leave it and are never committed).
/// </summary>
public sealed class TestPki : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestPki(string name = "Sluice Test CA")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("sluice-pki-").FullName;
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        CaPath = Write("ca.crt", Ca.ExportCertificatePem());
    }

    public string Directory { get; }

    public X509Certificate2 Ca { get; }

    public string CaPath { get; }

    /// <summary>The CA's key as a PEM file, written when first asked for: for a CA the proxy signs with (tls.inspection).</summary>
    public string CaKeyPath => field ??= Write("ca.key", _caKey.ExportPkcs8PrivateKeyPem());

    /// <summary>A server certificate for 127.0.0.1, ::1 and localhost; PEM files for the chain and the key.</summary>
    public (string Certificate, string Key, X509Certificate2 Cert) Server(string file = "proxy", string? passphrase = null, int serial = 1) =>
        Issue(file, "CN=sluice-test-proxy", "1.3.6.1.5.5.7.3.1", passphrase, serial, san =>
        {
            san.AddIpAddress(IPAddress.Loopback);
            san.AddIpAddress(IPAddress.IPv6Loopback);
            san.AddDnsName("localhost");
        });

    /// <summary>An origin (web server) certificate for this name, with its key, ready for Kestrel.</summary>
    public X509Certificate2 Origin(string name)
    {
        (string certificate, string key, _) = Issue($"origin-{name}", $"CN={name}", "1.3.6.1.5.5.7.3.1", null, Random.Shared.Next(2, int.MaxValue), san => san.AddDnsName(name));
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificate, key);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A client certificate with this common name, for mutual TLS.</summary>
    public (string Certificate, string Key, X509Certificate2 Cert) Client(string commonName, DateTimeOffset? notAfter = null, bool withUsage = true) =>
        Issue($"client-{commonName}", $"CN={commonName}", withUsage ? "1.3.6.1.5.5.7.3.2" : null, null, Random.Shared.Next(2, int.MaxValue), san => san.AddDnsName(commonName), notAfter);

    /// <summary>A subordinate CA under this one, as a PKI of its own (its certificates chain up through this CA).</summary>
    public TestPki Intermediate(string name) => new(this, name);

    private TestPki(TestPki parent, string name)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("sluice-pki-").FullName;
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using X509Certificate2 issued = request.Create(parent.Ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(6), BitConverter.GetBytes(Random.Shared.Next(2, int.MaxValue)));
        Ca = issued.CopyWithPrivateKey(_caKey);
        CaPath = Write("ca.crt", Ca.ExportCertificatePem());
    }

    /// <summary>A CRL signed by this CA revoking the given certificates, as a PEM file.</summary>
    public string Crl(string file, params X509Certificate2[] revoked)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (X509Certificate2 certificate in revoked)
        {
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }

        byte[] der = builder.Build(Ca, System.Numerics.BigInteger.One, DateTimeOffset.UtcNow.AddDays(1), HashAlgorithmName.SHA256);
        return Write(file, PemEncoding.WriteString("X509 CRL", der));
    }

    private (string, string, X509Certificate2) Issue(string file, string subject, string? usage, string? passphrase, int serial, Action<SubjectAlternativeNameBuilder> names, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        names(san);
        request.CertificateExtensions.Add(san.Build());
        if (usage is not null)
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        DateTimeOffset end = notAfter ?? DateTimeOffset.UtcNow.AddDays(2);
        using X509Certificate2 issued = request.Create(Ca, DateTimeOffset.UtcNow.AddDays(-1), end, BitConverter.GetBytes(serial));
        string keyPem = passphrase is null
            ? key.ExportPkcs8PrivateKeyPem()
            : key.ExportEncryptedPkcs8PrivateKeyPem(passphrase, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000));
        string certificate = Write($"{file}.crt", issued.ExportCertificatePem() + "\n" + Ca.ExportCertificatePem());
        string keyPath = Write($"{file}.key", keyPem);
        return (certificate, keyPath, X509CertificateLoader.LoadCertificate(issued.RawData));
    }

    private string Write(string name, string pem)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, pem);
        return path;
    }

    public void Dispose()
    {
        _caKey.Dispose();
        Ca.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
