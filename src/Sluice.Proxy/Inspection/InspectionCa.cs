using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Proxy.Inspection;

/// <summary>The key of a new inspection CA.</summary>
public enum CaKeyType
{
    /// <summary>ECDSA on P-256, signing with ecdsa-with-SHA256: small, fast, accepted everywhere TLS 1.2 is.</summary>
    EcdsaP256,

    /// <summary>RSA 3072, signing with sha256WithRSAEncryption: for clients that trust only RSA roots.</summary>
    Rsa3072,
}

/// <summary>What <see cref="InspectionCa.Create"/> makes.</summary>
/// <param name="Organization">The subject's O=, and the start of its CN= unless <see cref="CommonName"/> is given.</param>
/// <param name="Validity">From now to notAfter: 1 day to 20 years.</param>
public sealed record CaOptions(string Organization, TimeSpan Validity)
{
    public CaKeyType KeyType { get; init; } = CaKeyType.EcdsaP256;

    /// <summary>The subject's CN=; null: <c>"&lt;Organization&gt; Sluice inspection CA"</c> (see <see cref="InspectionCa.Create"/>).</summary>
    public string? CommonName { get; init; }
}

/// <summary>An inspection CA certificate in the terms an operator checks it by (what <c>sluice ca show</c> prints).</summary>
/// <param name="Subject">As .NET writes it, most specific first: <c>CN=Acme Sluice inspection CA, O=Acme</c>.</param>
/// <param name="Issuer">The issuer, equal to <see cref="Subject"/> for a self-signed CA.</param>
/// <param name="Sha256Fingerprint">SHA-256 of the DER certificate, colon-separated upper-case hex, as <c>openssl x509 -fingerprint -sha256</c> prints it.</param>
/// <param name="SerialNumber">Upper-case hex, big-endian, as <c>openssl x509 -serial</c> prints it.</param>
/// <param name="DaysLeft">Whole days from now to notAfter, rounded down; negative once expired.</param>
/// <param name="KeyAlgorithm"><c>ECDSA P-256</c> (or P-384, P-521), <c>RSA</c>, or the key's algorithm OID for anything else.</param>
/// <param name="KeySize">In bits: 256 for P-256, 3072 for RSA 3072.</param>
/// <param name="IsCa">basicConstraints says CA:TRUE.</param>
/// <param name="PathLength">basicConstraints' pathlen; null when it has none (or there is no basicConstraints).</param>
/// <param name="CanSignCertificates">keyUsage is present and allows keyCertSign.</param>
public sealed record CaDescription(
    string Subject,
    string Issuer,
    string Sha256Fingerprint,
    string SerialNumber,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    int DaysLeft,
    string KeyAlgorithm,
    int KeySize,
    bool IsCa,
    int? PathLength,
    bool CanSignCertificates)
{
    public bool SelfSigned => Subject == Issuer;
}

/// <summary>
/// The CA that signs the certificates Sluice presents to clients inside an inspected tunnel: made by
/// <c>sluice ca init</c> (<see cref="Create"/>), loaded by the proxy (<see cref="Load"/>), described by
/// <c>sluice ca show</c> (<see cref="Describe"/>). Files are PEM: the certificate alone, and an unencrypted
/// private key (PKCS#8, or the traditional EC or RSA form).
/// </summary>
public static class InspectionCa
{
    /// <summary>Upper bound of CN and O in X.520 (ub-common-name, ub-organization-name).</summary>
    private const int MaxNameLength = 64;

    private static readonly TimeSpan MinValidity = TimeSpan.FromDays(1);
    private static readonly TimeSpan MaxValidity = TimeSpan.FromDays(7305); // 20 years

    /// <summary>How far notBefore lies in the past, so that a client whose clock is a little behind accepts the CA at once.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromHours(1);

    /// <summary>
    /// A new self-signed CA fit for minting TLS server certificates: the key of <see cref="CaOptions.KeyType"/>,
    /// SHA-256 signature, basicConstraints critical CA:TRUE pathlen:0, keyUsage critical keyCertSign and cRLSign,
    /// a subject key identifier and an authority key identifier equal to it, a random positive 16-byte serial,
    /// valid from <see cref="ClockSkew"/> ago to now + <see cref="CaOptions.Validity"/>. The subject is
    /// <c>CN=&lt;CommonName&gt;, O=&lt;Organization&gt;</c>; without a common name it is
    /// <c>"&lt;Organization&gt; Sluice inspection CA"</c> (<c>"&lt;Organization&gt; inspection CA"</c> when the
    /// organization already says Sluice, and <c>"Sluice inspection CA"</c> when either would be longer than 64).
    /// </summary>
    /// <returns>The certificate and the PKCS#8 private key (<c>BEGIN PRIVATE KEY</c>), both PEM.</returns>
    /// <exception cref="ArgumentException">The options are not usable; the message says why, in a CLI user's terms.</exception>
    public static (string CertificatePem, string KeyPem) Create(CaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string organization = CheckName(options.Organization, "organization");
        string commonName = options.CommonName is { } given ? CheckName(given, "common name") : DefaultCommonName(organization);
        if (options.Validity < MinValidity || options.Validity > MaxValidity)
        {
            throw new ArgumentException($"the validity must be between 1 and {MaxValidity.Days} days (20 years); {Days(options.Validity)} days is not");
        }

        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(commonName); // Build() encodes the last added first: O=, then CN= (as openssl prints it); .NET prints CN=..., O=...
        name.AddOrganizationName(organization);
        X500DistinguishedName subject = name.Build();

        using AsymmetricAlgorithm key = options.KeyType switch
        {
            CaKeyType.EcdsaP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            CaKeyType.Rsa3072 => RSA.Create(3072),
            _ => throw new ArgumentException($"unknown key type {options.KeyType}"),
        };
        CertificateRequest request = key is ECDsa ec
            ? new CertificateRequest(subject, ec, HashAlgorithmName.SHA256)
            : new CertificateRequest(subject, (RSA)key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        var subjectKeyId = new X509SubjectKeyIdentifierExtension(request.PublicKey, X509SubjectKeyIdentifierHashAlgorithm.Sha1, critical: false);
        request.CertificateExtensions.Add(subjectKeyId);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(subjectKeyId));

        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 certificate = request.Create(subject, SelfSignature(key), now - ClockSkew, now + options.Validity, Serial());
        string keyPem = key is ECDsa ecKey ? ecKey.ExportPkcs8PrivateKeyPem() : ((RSA)key).ExportPkcs8PrivateKeyPem();
        return (certificate.ExportCertificatePem() + "\n", keyPem + "\n");
    }

    /// <summary>
    /// The CA certificate and its private key from two PEM files, ready to sign with: the returned certificate
    /// carries the key (<see cref="CertificateRequest.Create(X509Certificate2, DateTimeOffset, DateTimeOffset, byte[])"/>
    /// takes it as issuer). The certificate file must hold exactly one certificate (the proxy sends no chain, so a
    /// second one would be ignored by clients; it is refused rather than guessed at). The key may be PKCS#8
    /// (<c>PRIVATE KEY</c>), <c>EC PRIVATE KEY</c> or <c>RSA PRIVATE KEY</c>; encrypted keys are not supported.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A file cannot be read or is empty; the certificate is not a CA (basicConstraints CA:TRUE), may not sign
    /// certificates (keyUsage keyCertSign), has expired or is not valid yet; the key is encrypted, missing or does
    /// not match the certificate. The message starts with the file's path and says what is wrong with it.
    /// </exception>
    public static X509Certificate2 Load(string certificatePath, string keyPath)
    {
        using X509Certificate2 certificate = ReadCertificate(certificatePath);
        CheckCanIssue(certificate, certificatePath, DateTimeOffset.UtcNow);
        using AsymmetricAlgorithm key = ReadKey(keyPath);
        CheckMatches(certificate, key, keyPath, certificatePath);

        // A new certificate holding its own copy of the key (on Linux a duplicated OpenSSL handle): it signs as an
        // issuer after this key object is disposed.
        return key is ECDsa ec ? certificate.CopyWithPrivateKey(ec) : certificate.CopyWithPrivateKey((RSA)key);
    }

    /// <summary>
    /// The one certificate of a PEM file, without its key and without judging it (for <c>sluice ca show</c>; <see
    /// cref="Describe"/> says whether it is a CA).
    /// </summary>
    /// <exception cref="InvalidOperationException">The file cannot be read, is empty, holds no certificate or more than one, or the certificate does not parse.</exception>
    public static X509Certificate2 ReadCertificate(string path)
    {
        List<PemBlock> blocks = ReadPem(path, out string text);
        PemBlock[] certificates = [.. blocks.Where(b => b.Label == "CERTIFICATE")];
        if (certificates.Length == 0)
        {
            throw new InvalidOperationException(blocks.Any(b => b.Label.EndsWith("PRIVATE KEY", StringComparison.Ordinal))
                ? $"{path}: holds a private key, not a certificate: is it the key file?"
                : text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                    ? $"{path}: the PEM certificate is damaged (its base64 or END line)"
                    : $"{path}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
        }

        if (certificates.Length > 1)
        {
            throw new InvalidOperationException($"{path}: holds {certificates.Length} certificates: the inspection CA file must hold only the CA's own certificate");
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(certificates[0].Der);
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"{path}: the certificate does not parse: {e.Message}", e);
        }
    }

    /// <summary>The certificate in an operator's terms; days left counted from now.</summary>
    public static CaDescription Describe(X509Certificate2 ca)
    {
        ArgumentNullException.ThrowIfNull(ca);
        X509BasicConstraintsExtension? constraints = ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        X509KeyUsageExtension? usage = ca.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        DateTimeOffset notBefore = new DateTimeOffset(ca.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        DateTimeOffset notAfter = new DateTimeOffset(ca.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        (string algorithm, int size) = KeyOf(ca);
        return new CaDescription(
            ca.Subject,
            ca.Issuer,
            Fingerprint(ca),
            ca.SerialNumber,
            notBefore,
            notAfter,
            (int)Math.Floor((notAfter - DateTimeOffset.UtcNow).TotalDays),
            algorithm,
            size,
            constraints?.CertificateAuthority == true,
            constraints is { CertificateAuthority: true, HasPathLengthConstraint: true } ? constraints.PathLengthConstraint : null,
            usage is not null && usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
    }

    /// <summary>SHA-256 of the DER certificate as <c>AB:CD:...</c>.</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));

    private static string CheckName(string value, string what)
    {
        string name = (value ?? "").Trim();
        if (name.Length == 0)
        {
            throw new ArgumentException($"the {what} is empty");
        }

        if (name.Any(char.IsControl))
        {
            throw new ArgumentException($"the {what} holds a control character (a newline, tab, ...)");
        }

        if (name.Length > MaxNameLength)
        {
            throw new ArgumentException($"the {what} is {name.Length} characters long; certificates allow at most {MaxNameLength}");
        }

        return name;
    }

    private static string DefaultCommonName(string organization)
    {
        string name = organization.Contains("Sluice", StringComparison.OrdinalIgnoreCase) ? $"{organization} inspection CA" : $"{organization} Sluice inspection CA";
        return name.Length <= MaxNameLength ? name : "Sluice inspection CA";
    }

    private static string Days(TimeSpan span) => span.TotalDays.ToString("0.##", CultureInfo.InvariantCulture);

    private static X509SignatureGenerator SelfSignature(AsymmetricAlgorithm key) => key is ECDsa ec
        ? X509SignatureGenerator.CreateForECDsa(ec)
        : X509SignatureGenerator.CreateForRSA((RSA)key, RSASignaturePadding.Pkcs1);

    /// <summary>16 random bytes read as a positive integer with no leading zero byte: first byte 0x40..0x7F.</summary>
    private static byte[] Serial()
    {
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x3F) | 0x40);
        return serial;
    }

    private static void CheckCanIssue(X509Certificate2 certificate, string path, DateTimeOffset now)
    {
        string who = certificate.Subject.Length > 0 ? $"'{certificate.Subject}'" : "the certificate";
        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
        {
            throw new InvalidOperationException($"{path}: {who} is not a CA (no basicConstraints CA:TRUE): an inspection CA signs certificates; make one with sluice ca init");
        }

        if (certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is not { } usage || !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            throw new InvalidOperationException($"{path}: {who} may not sign certificates (its keyUsage lacks keyCertSign), so clients would refuse every certificate it signs");
        }

        DateTimeOffset notBefore = new(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        DateTimeOffset notAfter = new(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (now >= notAfter)
        {
            throw new InvalidOperationException($"{path}: {who} expired on {Utc(notAfter)}: make a new one with sluice ca init --force and give it to the clients");
        }

        if (now < notBefore)
        {
            throw new InvalidOperationException($"{path}: {who} is not valid yet: its notBefore is {Utc(notBefore)} (is this machine's clock right?)");
        }
    }

    private static string Utc(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static AsymmetricAlgorithm ReadKey(string path)
    {
        List<PemBlock> blocks = ReadPem(path, out string text);
        if (blocks.Any(b => b.Label == "ENCRYPTED PRIVATE KEY") || text.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{path}: the private key is encrypted, which is not supported: store it unencrypted (openssl pkey -in {path} -out NEW) with mode 0600, readable only by the proxy");
        }

        PemBlock[] keys = [.. blocks.Where(b => b.Label is "PRIVATE KEY" or "EC PRIVATE KEY" or "RSA PRIVATE KEY")];
        if (keys.Length == 0)
        {
            throw new InvalidOperationException(blocks.Any(b => b.Label == "CERTIFICATE")
                ? $"{path}: holds a certificate, not a private key: is it the certificate file?"
                : $"{path}: no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----, EC PRIVATE KEY or RSA PRIVATE KEY) in it");
        }

        if (keys.Length > 1)
        {
            throw new InvalidOperationException($"{path}: holds {keys.Length} private keys: the inspection CA key file must hold only the CA's key");
        }

        PemBlock block = keys[0];
        try
        {
            return block.Label switch
            {
                "EC PRIVATE KEY" => Import(ECDsa.Create(), k => k.ImportECPrivateKey(block.Der, out _)),
                "RSA PRIVATE KEY" => Import(RSA.Create(), k => k.ImportRSAPrivateKey(block.Der, out _)),
                _ => ImportPkcs8(block.Der, path),
            };
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"{path}: the {block.Label} does not parse: {e.Message}", e);
        }
    }

    private static AsymmetricAlgorithm ImportPkcs8(byte[] der, string path)
    {
        string algorithm;
        try
        {
            // PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, ... }
            var info = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
            info.ReadInteger();
            algorithm = info.ReadSequence().ReadObjectIdentifier();
        }
        catch (AsnContentException e)
        {
            throw new InvalidOperationException($"{path}: the PRIVATE KEY is not PKCS#8: {e.Message}", e);
        }

        return algorithm switch
        {
            "1.2.840.10045.2.1" => Import(ECDsa.Create(), k => k.ImportPkcs8PrivateKey(der, out _)),
            "1.2.840.113549.1.1.1" => Import(RSA.Create(), k => k.ImportPkcs8PrivateKey(der, out _)),
            _ => throw new InvalidOperationException($"{path}: the private key's algorithm ({algorithm}) is not supported: give an EC or RSA key"),
        };
    }

    private static T Import<T>(T key, Action<T> import) where T : AsymmetricAlgorithm
    {
        try
        {
            import(key);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static void CheckMatches(X509Certificate2 certificate, AsymmetricAlgorithm key, string keyPath, string certificatePath)
    {
        (string certificateKey, int certificateSize) = KeyOf(certificate);
        string mismatch = $"{keyPath}: the private key does not match the certificate {certificatePath}";
        switch (key)
        {
            case ECDsa ec:
                using (ECDsa? published = certificate.GetECDsaPublicKey())
                {
                    if (published is null)
                    {
                        throw new InvalidOperationException($"{mismatch} (the certificate's key is {KeyText(certificateKey, certificateSize)}, the file holds an EC key)");
                    }

                    ECParameters mine = ec.ExportParameters(false);
                    ECParameters theirs = published.ExportParameters(false);
                    if (mine.Curve.Oid?.Value != theirs.Curve.Oid?.Value || !mine.Q.X.AsSpan().SequenceEqual(theirs.Q.X) || !mine.Q.Y.AsSpan().SequenceEqual(theirs.Q.Y))
                    {
                        throw new InvalidOperationException($"{mismatch}: it is another key");
                    }
                }

                break;
            case RSA rsa:
                using (RSA? published = certificate.GetRSAPublicKey())
                {
                    if (published is null)
                    {
                        throw new InvalidOperationException($"{mismatch} (the certificate's key is {KeyText(certificateKey, certificateSize)}, the file holds an RSA key)");
                    }

                    RSAParameters mine = rsa.ExportParameters(false);
                    RSAParameters theirs = published.ExportParameters(false);
                    if (!mine.Modulus.AsSpan().SequenceEqual(theirs.Modulus) || !mine.Exponent.AsSpan().SequenceEqual(theirs.Exponent))
                    {
                        throw new InvalidOperationException($"{mismatch}: it is another key");
                    }

                    if (rsa.KeySize < 2048)
                    {
                        throw new InvalidOperationException($"{keyPath}: an RSA key of {rsa.KeySize} bits is too weak for clients to accept its signatures; give at least 2048");
                    }
                }

                break;
        }
    }

    private static string KeyText(string algorithm, int size) => algorithm.StartsWith("ECDSA", StringComparison.Ordinal) || size == 0 ? algorithm : $"{algorithm} {size}";

    private static (string Algorithm, int Size) KeyOf(X509Certificate2 certificate)
    {
        try
        {
            using (ECDsa? ec = certificate.GetECDsaPublicKey())
            {
                if (ec is not null)
                {
                    string curve = ec.ExportParameters(false).Curve.Oid?.Value switch
                    {
                        "1.2.840.10045.3.1.7" => "P-256",
                        "1.3.132.0.34" => "P-384",
                        "1.3.132.0.35" => "P-521",
                        { } other => other,
                        null => "explicit curve",
                    };
                    return ($"ECDSA {curve}", ec.KeySize);
                }
            }

            using (RSA? rsa = certificate.GetRSAPublicKey())
            {
                if (rsa is not null)
                {
                    return ("RSA", rsa.KeySize);
                }
            }
        }
        catch (CryptographicException)
        {
            // a key .NET cannot read: described by its OID below
        }

        return (certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value ?? "unknown", 0);
    }

    private sealed record PemBlock(string Label, byte[] Der);

    private static List<PemBlock> ReadPem(string path, out string text)
    {
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidOperationException($"{path}: no such file", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{path}: cannot read it: {e.Message}", e);
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw new InvalidOperationException($"{path}: the file is empty");
        }

        var blocks = new List<PemBlock>();
        ReadOnlySpan<char> rest = text;
        while (PemEncoding.TryFind(rest, out PemFields fields))
        {
            byte[] der = new byte[fields.DecodedDataLength];
            if (Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out int written))
            {
                blocks.Add(new PemBlock(rest[fields.Label].ToString(), der[..written]));
            }

            rest = rest[fields.Location.End..];
        }

        return blocks;
    }
}
