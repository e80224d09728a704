using System.Diagnostics;
using System.Formats.Asn1;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Proxy.Inspection;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// The inspection CA as strict clients see it: the certificate <see cref="InspectionCa.Create"/> makes, checked
/// extension by extension and by <c>openssl verify -x509_strict</c>; a leaf signed with what <see
/// cref="InspectionCa.Load"/> returns, accepted by OpenSSL and by Python's <c>ssl</c> with VERIFY_X509_STRICT in a
/// real handshake; every file <see cref="InspectionCa.Load"/> refuses, and why.
/// </summary>
public sealed class InspectionCaTests : IDisposable
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-inspection-ca-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<CaKeyType> KeyTypes => [CaKeyType.EcdsaP256, CaKeyType.Rsa3072];

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public void Create_makes_a_self_signed_ca_with_exactly_the_extensions_for_minting_server_certificates(CaKeyType keyType)
    {
        DateTimeOffset before = DateTimeOffset.UtcNow;
        (string certificatePem, string keyPem) = InspectionCa.Create(new CaOptions("Acme Corp", TimeSpan.FromDays(730)) { KeyType = keyType });
        DateTimeOffset after = DateTimeOffset.UtcNow;
        using X509Certificate2 ca = X509Certificate2.CreateFromPem(certificatePem);

        Assert.Equal(3, ca.Version);
        Assert.Equal("CN=Acme Corp Sluice inspection CA, O=Acme Corp", ca.Subject);
        Assert.Equal(ca.Subject, ca.Issuer);
        Assert.Equal(keyType == CaKeyType.EcdsaP256 ? "1.2.840.10045.4.3.2" : "1.2.840.113549.1.1.11", ca.SignatureAlgorithm.Value); // ecdsa-with-SHA256, sha256WithRSAEncryption
        if (keyType == CaKeyType.EcdsaP256)
        {
            using ECDsa key = ca.GetECDsaPublicKey()!;
            Assert.Equal("1.2.840.10045.3.1.7", key.ExportParameters(false).Curve.Oid.Value);
        }
        else
        {
            using RSA key = ca.GetRSAPublicKey()!;
            Assert.Equal(3072, key.KeySize);
        }

        Assert.Equal(4, ca.Extensions.Count);
        X509BasicConstraintsExtension constraints = Assert.Single(ca.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.True(constraints.Critical);
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.HasPathLengthConstraint);
        Assert.Equal(0, constraints.PathLengthConstraint);
        X509KeyUsageExtension usage = Assert.Single(ca.Extensions.OfType<X509KeyUsageExtension>());
        Assert.True(usage.Critical);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, usage.KeyUsages);
        X509SubjectKeyIdentifierExtension subjectKeyId = Assert.Single(ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        Assert.False(subjectKeyId.Critical);
        #pragma warning disable CA5350 // SHA-1 is what RFC 5280's key identifier method 1 hashes with; no security rests on it
        Assert.Equal(Convert.ToHexString(SHA1.HashData(SubjectPublicKey(ca))), subjectKeyId.SubjectKeyIdentifier); // RFC 5280 4.2.1.2, method 1
#pragma warning restore CA5350
        X509AuthorityKeyIdentifierExtension authorityKeyId = Assert.Single(ca.Extensions.OfType<X509AuthorityKeyIdentifierExtension>());
        Assert.False(authorityKeyId.Critical);
        Assert.Equal(subjectKeyId.SubjectKeyIdentifierBytes.ToArray(), authorityKeyId.KeyIdentifier!.Value.ToArray());
        Assert.Null(authorityKeyId.NamedIssuer);
        Assert.Null(authorityKeyId.SerialNumber);

        byte[] serial = ca.SerialNumberBytes.ToArray(); // big-endian
        Assert.Equal(16, serial.Length);
        Assert.InRange(serial[0], 0x40, 0x7F); // positive, and no leading zero byte to strip
        Assert.InRange(new DateTimeOffset(ca.NotBefore.ToUniversalTime()), before.AddHours(-1).AddSeconds(-1), after.AddHours(-1));
        Assert.InRange(new DateTimeOffset(ca.NotAfter.ToUniversalTime()), before.AddDays(730).AddSeconds(-1), after.AddDays(730));

        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", keyPem, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", certificatePem, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_cas_never_share_a_serial_or_a_key()
    {
        (string first, string firstKey) = InspectionCa.Create(new CaOptions("Acme", TimeSpan.FromDays(30)));
        (string second, string secondKey) = InspectionCa.Create(new CaOptions("Acme", TimeSpan.FromDays(30)));
        using X509Certificate2 a = X509Certificate2.CreateFromPem(first);
        using X509Certificate2 b = X509Certificate2.CreateFromPem(second);
        Assert.NotEqual(a.SerialNumber, b.SerialNumber);
        Assert.NotEqual(firstKey, secondKey);
    }

    [Theory]
    [InlineData("Sluice", null, "CN=Sluice inspection CA, O=Sluice")]
    [InlineData("  Acme  ", null, "CN=Acme Sluice inspection CA, O=Acme")]
    [InlineData("Acme, Inc.", null, "CN=\"Acme, Inc. Sluice inspection CA\", O=\"Acme, Inc.\"")]
    [InlineData("Acme", "Egress inspection", "CN=Egress inspection, O=Acme")]
    [InlineData("An organisation whose name is just under the limit of 64 chars", null, "CN=Sluice inspection CA, O=An organisation whose name is just under the limit of 64 chars")]
    public void The_subject_names_the_organization(string organization, string? commonName, string subject)
    {
        (string pem, _) = InspectionCa.Create(new CaOptions(organization, TimeSpan.FromDays(1)) { CommonName = commonName });
        using X509Certificate2 ca = X509Certificate2.CreateFromPem(pem);
        Assert.Equal(subject, ca.Subject);
    }

    [Theory]
    [InlineData("", 730, "the organization is empty")]
    [InlineData("   ", 730, "the organization is empty")]
    [InlineData("Acme\nEvil", 730, "the organization holds a control character")]
    [InlineData("Acme\u0000", 730, "the organization holds a control character")]
    [InlineData("An organisation whose name is well over the limit of sixty-four characters", 730, "certificates allow at most 64")]
    [InlineData("Acme", 0.5, "the validity must be between 1 and 7305 days (20 years); 0.5 days is not")]
    [InlineData("Acme", -1, "the validity must be between 1 and 7305 days")]
    [InlineData("Acme", 7306, "7306 days is not")]
    public void Create_refuses_options_with_a_message_a_user_can_act_on(string organization, double days, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => InspectionCa.Create(new CaOptions(organization, TimeSpan.FromDays(days))));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_refuses_a_common_name_with_a_control_character()
    {
        var e = Assert.Throws<ArgumentException>(() => InspectionCa.Create(new CaOptions("Acme", TimeSpan.FromDays(10)) { CommonName = "x\ty" }));
        Assert.Equal("the common name holds a control character (a newline, tab, ...)", e.Message);
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Openssl_x509_strict_accepts_the_ca_and_a_leaf_it_signs(CaKeyType keyType)
    {
        (string caPath, string keyPath) = WriteCa("ca", keyType);
        using X509Certificate2 ca = InspectionCa.Load(caPath, keyPath);
        Assert.True(ca.HasPrivateKey);
        using X509Certificate2 leaf = MintLeaf(ca, "inspected.example");
        string leafPath = Write("leaf.crt", leaf.ExportCertificatePem());

        await AssertOpensslVerifiesAsync(caPath, caPath);
        await AssertOpensslVerifiesAsync(caPath, leafPath, "-purpose", "sslserver", "-verify_hostname", "inspected.example");
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Python_ssl_with_VERIFY_X509_STRICT_completes_a_handshake_with_a_leaf_the_ca_signs(CaKeyType keyType)
    {
        (string caPath, string keyPath) = WriteCa("ca", keyType);
        using X509Certificate2 ca = InspectionCa.Load(caPath, keyPath);
        using X509Certificate2 leaf = MintLeaf(ca, "inspected.example");

        (int exit, string output, string errors, Exception? serverError) = await PythonHandshakeAsync(caPath, leaf, "inspected.example");
        Assert.True(exit == 0, $"python3 refused the handshake ({exit}): {errors}\nserver: {serverError}");
        Assert.Matches(@"^TLSv1\.[23] hello from the inspecting proxy$", output.Trim());
        Assert.Null(serverError);
    }

    [Fact]
    public async Task Python_ssl_with_VERIFY_X509_STRICT_refuses_a_leaf_without_an_authority_key_identifier()
    {
        // The control for the test above: the strict flag is live in this Python, so its acceptance means something.
        (string caPath, string keyPath) = WriteCa("ca", CaKeyType.EcdsaP256);
        using X509Certificate2 ca = InspectionCa.Load(caPath, keyPath);
        using X509Certificate2 leaf = MintLeaf(ca, "inspected.example", authorityKeyId: false);

        (int exit, _, string errors, _) = await PythonHandshakeAsync(caPath, leaf, "inspected.example");
        Assert.NotEqual(0, exit);
        Assert.Contains("CERTIFICATE_VERIFY_FAILED", errors, StringComparison.Ordinal);
        Assert.Contains("Authority Key Identifier", errors, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("ec", "-----BEGIN EC PRIVATE KEY-----")]
    [InlineData("rsa:2048", "-----BEGIN RSA PRIVATE KEY-----")]
    [InlineData("ec", "-----BEGIN PRIVATE KEY-----")]
    public async Task Load_takes_a_ca_made_by_openssl_with_its_key_in_each_pem_form(string algorithm, string keyForm)
    {
        string config = Write("req.cnf", "[req]\ndistinguished_name=dn\n[dn]\n");
        string caPath = Path.Combine(_dir, "openssl-ca.crt");
        string pkcs8 = Path.Combine(_dir, "openssl-ca.pkcs8");
        await RunOkAsync("openssl", ["req", "-x509", "-config", config, "-newkey", algorithm, .. algorithm == "ec" ? (string[])["-pkeyopt", "ec_paramgen_curve:P-256"] : [],
            "-nodes", "-keyout", pkcs8, "-out", caPath, "-subj", "/O=Elsewhere/CN=Elsewhere CA", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash"]);
        string keyPath = Path.Combine(_dir, "openssl-ca.key");
        if (keyForm.Contains("EC", StringComparison.Ordinal))
        {
            await RunOkAsync("openssl", "ec", "-in", pkcs8, "-out", keyPath);
        }
        else if (keyForm.Contains("RSA", StringComparison.Ordinal))
        {
            await RunOkAsync("openssl", "rsa", "-in", pkcs8, "-traditional", "-out", keyPath);
        }
        else
        {
            File.Copy(pkcs8, keyPath);
        }

        Assert.StartsWith(keyForm, File.ReadAllText(keyPath), StringComparison.Ordinal);
        using X509Certificate2 ca = InspectionCa.Load(caPath, keyPath);
        using X509Certificate2 leaf = MintLeaf(ca, "inspected.example");
        await AssertOpensslVerifiesAsync(caPath, Write("leaf.crt", leaf.ExportCertificatePem()));
    }

    [Fact]
    public void Load_refuses_a_certificate_that_is_not_a_ca()
    {
        (string cert, string key) = WriteCustom("leaf", r => r.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true)));
        AssertRefused(cert, key, $"{cert}: 'CN=leaf' is not a CA (no basicConstraints CA:TRUE)");

        (cert, key) = WriteCustom("no-constraints", _ => { });
        AssertRefused(cert, key, $"{cert}: 'CN=no-constraints' is not a CA (no basicConstraints CA:TRUE)");
    }

    [Fact]
    public void Load_refuses_a_ca_whose_key_usage_lacks_keyCertSign()
    {
        (string cert, string key) = WriteCustom("no-cert-sign", r =>
        {
            r.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            r.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.CrlSign, true));
        });
        AssertRefused(cert, key, $"{cert}: 'CN=no-cert-sign' may not sign certificates (its keyUsage lacks keyCertSign)");

        (cert, key) = WriteCustom("no-key-usage", r => r.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true)));
        AssertRefused(cert, key, "lacks keyCertSign");
    }

    [Fact]
    public void Load_refuses_a_key_that_is_not_the_certificates()
    {
        (string cert, _) = WriteCa("one", CaKeyType.EcdsaP256);
        (_, string otherKey) = WriteCa("two", CaKeyType.EcdsaP256);
        AssertRefused(cert, otherKey, $"{otherKey}: the private key does not match the certificate {cert}: it is another key");

        (_, string rsaKey) = WriteCa("three", CaKeyType.Rsa3072);
        AssertRefused(cert, rsaKey, $"{rsaKey}: the private key does not match the certificate {cert} (the certificate's key is ECDSA P-256, the file holds an RSA key)");

        (string rsaCert, string rsaOtherKey) = (Path.Combine(_dir, "three.crt"), Path.Combine(_dir, "one.key"));
        AssertRefused(rsaCert, rsaOtherKey, "(the certificate's key is RSA 3072, the file holds an EC key)");
    }

    [Fact]
    public void Load_refuses_an_expired_ca_and_one_not_valid_yet()
    {
        (string cert, string key) = WriteCustom("expired", CaExtensions, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddMinutes(-1));
        AssertRefused(cert, key, $"{cert}: 'CN=expired' expired on ");

        (cert, key) = WriteCustom("future", CaExtensions, DateTimeOffset.UtcNow.AddDays(1), DateTimeOffset.UtcNow.AddDays(30));
        AssertRefused(cert, key, $"{cert}: 'CN=future' is not valid yet: its notBefore is ");
    }

    [Fact]
    public void Load_refuses_a_file_with_more_than_one_certificate()
    {
        (string cert, string key) = WriteCa("ca", CaKeyType.EcdsaP256);
        (string other, _) = WriteCa("other", CaKeyType.EcdsaP256);
        string both = Write("both.crt", File.ReadAllText(cert) + File.ReadAllText(other));
        AssertRefused(both, key, $"{both}: holds 2 certificates: the inspection CA file must hold only the CA's own certificate");
    }

    [Fact]
    public void Load_refuses_empty_missing_and_swapped_files()
    {
        (string cert, string key) = WriteCa("ca", CaKeyType.EcdsaP256);
        string empty = Write("empty.pem", "");
        string blank = Write("blank.pem", "\n  \n");
        AssertRefused(empty, key, $"{empty}: the file is empty");
        AssertRefused(cert, blank, $"{blank}: the file is empty");
        string missing = Path.Combine(_dir, "missing.key");
        AssertRefused(cert, missing, $"{missing}: no such file");
        AssertRefused(key, cert, $"{key}: holds a private key, not a certificate: is it the key file?");
        AssertRefused(cert, cert, $"{cert}: holds a certificate, not a private key: is it the certificate file?");
        string junk = Write("junk.pem", "not a certificate\n");
        AssertRefused(junk, key, $"{junk}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
    }

    [Fact]
    public async Task Load_refuses_encrypted_keys_and_says_so()
    {
        (string cert, string key) = WriteCa("ca", CaKeyType.EcdsaP256);
        using ECDsa ec = ECDsa.Create();
        ec.ImportFromPem(File.ReadAllText(key));
        string pkcs8 = Write("encrypted.key", ec.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)));
        AssertRefused(cert, pkcs8, $"{pkcs8}: the private key is encrypted, which is not supported");

        string legacy = Path.Combine(_dir, "legacy-encrypted.key");
        await RunOkAsync("openssl", "ec", "-in", key, "-aes256", "-passout", "pass:secret", "-out", legacy);
        AssertRefused(cert, legacy, $"{legacy}: the private key is encrypted, which is not supported");
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Describe_agrees_with_openssl(CaKeyType keyType)
    {
        (string caPath, string keyPath) = WriteCa("ca", keyType, days: 90);
        using X509Certificate2 ca = InspectionCa.Load(caPath, keyPath);
        CaDescription description = InspectionCa.Describe(ca);

        (_, string fingerprint, _) = await RunOkAsync("openssl", "x509", "-in", caPath, "-noout", "-fingerprint", "-sha256");
        Assert.Equal(fingerprint.Trim().Split('=')[1], description.Sha256Fingerprint);
        (_, string serial, _) = await RunOkAsync("openssl", "x509", "-in", caPath, "-noout", "-serial");
        Assert.Equal(serial.Trim().Split('=')[1], description.SerialNumber);
        (_, string end, _) = await RunOkAsync("openssl", "x509", "-in", caPath, "-noout", "-enddate");
        Assert.Equal(DateTimeOffset.ParseExact(end.Trim().Split('=')[1].Replace("  ", " ", StringComparison.Ordinal), "MMM d HH:mm:ss yyyy 'GMT'", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal), description.NotAfter);

        Assert.Equal(ca.Subject, description.Subject);
        Assert.True(description.SelfSigned);
        Assert.Equal(89, description.DaysLeft);
        Assert.Equal(TimeSpan.Zero, description.NotAfter.Offset);
        Assert.Equal(keyType == CaKeyType.EcdsaP256 ? ("ECDSA P-256", 256) : ("RSA", 3072), (description.KeyAlgorithm, description.KeySize));
        Assert.True(description.IsCa);
        Assert.Equal(0, description.PathLength);
        Assert.True(description.CanSignCertificates);
    }

    [Fact]
    public void Describe_says_when_a_certificate_is_no_ca()
    {
        (string cert, _) = WriteCustom("leaf", r => r.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true)));
        using X509Certificate2 leaf = InspectionCa.ReadCertificate(cert);
        CaDescription description = InspectionCa.Describe(leaf);
        Assert.False(description.IsCa);
        Assert.Null(description.PathLength);
        Assert.False(description.CanSignCertificates);
    }

    private static void CaExtensions(CertificateRequest request)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
    }

    private static void AssertRefused(string certificatePath, string keyPath, string message)
    {
        var e = Assert.Throws<InvalidOperationException>(() => InspectionCa.Load(certificatePath, keyPath).Dispose());
        Assert.True(e.Message.Contains(message, StringComparison.Ordinal), $"expected the message to say\n  {message}\nit says\n  {e.Message}");
    }

    /// <summary>A server certificate as the proxy mints one: ECDSA P-256, SAN DNS, AKI from the CA, SKI, EKU serverAuth, keyUsage digitalSignature, CA:FALSE.</summary>
    private static X509Certificate2 MintLeaf(X509Certificate2 ca, string host, bool authorityKeyId = true)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={host}"), new PublicKey(key), HashAlgorithmName.SHA256,
            ca.GetRSAPublicKey() is null ? null : RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (authorityKeyId)
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        }

        // An hour back for clock skew and 72 hours ahead, within the CA's own validity (.NET refuses a leaf outside it).
        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset notBefore = Max(now.AddHours(-1), new DateTimeOffset(ca.NotBefore.ToUniversalTime()));
        DateTimeOffset notAfter = Min(now.AddHours(72), new DateTimeOffset(ca.NotAfter.ToUniversalTime()));
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x3F) | 0x40);
        using RSA? rsaIssuer = ca.GetRSAPrivateKey();
        // An ECDSA CA signs through the certificate itself; an RSA CA needs a generator, since the leaf's key is ECDSA.
        using X509Certificate2 issued = rsaIssuer is null
            ? request.Create(ca, notBefore, notAfter, serial)
            : request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(rsaIssuer, RSASignaturePadding.Pkcs1), notBefore, notAfter, serial);
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>One TLS handshake: python3 (trusting only this CA, strict) against an SslStream serving the leaf on 127.0.0.1.</summary>
    private async Task<(int Exit, string Output, string Errors, Exception? ServerError)> PythonHandshakeAsync(string caPath, X509Certificate2 leaf, string host)
    {
        const string client = """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[1])
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
            with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as sock:
                with ctx.wrap_socket(sock, server_hostname=sys.argv[3]) as tls:
                    print(tls.version(), tls.recv(100).decode().strip())
            """;
        string script = Write("handshake.py", client);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task<Exception?> server = Task.Run(async () =>
        {
            try
            {
                using TcpClient accepted = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(60));
                await using var tls = new SslStream(accepted.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = leaf }).WaitAsync(TimeSpan.FromSeconds(60));
                await tls.WriteAsync("hello from the inspecting proxy\n"u8.ToArray());
                await tls.ShutdownAsync();
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        });
        (int exit, string output, string errors) = await RunAsync("python3", script, caPath, port.ToString(System.Globalization.CultureInfo.InvariantCulture), host);
        listener.Stop();
        return (exit, output, errors, await server);
    }

    private static async Task AssertOpensslVerifiesAsync(string caPath, string certificatePath, params string[] extra)
    {
        (int exit, string output, string errors) = await RunAsync("openssl", ["verify", "-x509_strict", .. extra, "-CAfile", caPath, certificatePath]);
        Assert.True(exit == 0 && output.Trim() == $"{certificatePath}: OK", $"openssl verify -x509_strict refused {Path.GetFileName(certificatePath)} ({exit}): {output}{errors}");
    }

    private (string Certificate, string Key) WriteCa(string name, CaKeyType keyType, int days = 730)
    {
        (string certificate, string key) = InspectionCa.Create(new CaOptions("Acme", TimeSpan.FromDays(days)) { KeyType = keyType });
        return (Write($"{name}.crt", certificate), Write($"{name}.key", key));
    }

    /// <summary>A self-signed ECDSA certificate with the extensions a test gives it, as PEM files.</summary>
    private (string Certificate, string Key) WriteCustom(string name, Action<CertificateRequest> extensions, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        extensions(request);
        using X509Certificate2 certificate = request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30));
        return (Write($"{name}.crt", certificate.ExportCertificatePem()), Write($"{name}.key", key.ExportPkcs8PrivateKeyPem()));
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The subjectPublicKey BIT STRING's bytes (what RFC 5280's key identifier method 1 hashes).</summary>
    private static byte[] SubjectPublicKey(X509Certificate2 certificate)
    {
        AsnReader info = new AsnReader(certificate.PublicKey.ExportSubjectPublicKeyInfo(), AsnEncodingRules.DER).ReadSequence();
        info.ReadSequence();
        return info.ReadBitString(out _);
    }

    private static async Task<(int Exit, string Output, string Errors)> RunOkAsync(string program, params string[] args)
    {
        (int exit, string output, string errors) = await RunAsync(program, args);
        Assert.True(exit == 0, $"{program} {string.Join(' ', args)} failed ({exit}): {errors}");
        return (exit, output, errors);
    }

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{program} {string.Join(' ', args)} did not finish within 60 s");
        }

        return (process.ExitCode, await output, await errors);
    }
}
