using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Inspection;

/// <summary>
/// What an inspection test needs: an inspection CA (PEM files made here), a PKI for origins (trusted as upstreamCa),
/// an HTTPS origin with a certificate for <see cref="OriginName"/>, and a client that trusts the inspection CA only.
/// </summary>
public sealed class InspectionKit : IAsyncDisposable
{
    public const string OriginName = "secure.test";

    private InspectionKit(string directory, X509Certificate2 ca, TestPki origins, TestOrigin origin)
    {
        Directory = directory;
        Ca = ca;
        Origins = origins;
        Origin = origin;
        CaPath = Path.Combine(directory, "inspect-ca.crt");
        KeyPath = Path.Combine(directory, "inspect-ca.key");
    }

    public string Directory { get; }

    /// <summary>The inspection CA (public part): what clients trust.</summary>
    public X509Certificate2 Ca { get; }

    public string CaPath { get; }

    public string KeyPath { get; }

    public TestPki Origins { get; }

    public TestOrigin Origin { get; }

    public static async Task<InspectionKit> StartAsync()
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("sluice-inspect-").FullName;
        (string certPem, string keyPem, X509Certificate2 ca) = CreateCa("Sluice Test Inspection CA");
        File.WriteAllText(Path.Combine(directory, "inspect-ca.crt"), certPem);
        File.WriteAllText(Path.Combine(directory, "inspect-ca.key"), keyPem);
        var origins = new TestPki("Test Origins CA");
        TestOrigin origin = await TestOrigin.StartAsync(issued: origins.Origin(OriginName));
        return new InspectionKit(directory, ca, origins, origin);
    }

    /// <summary>A CA fit for inspection (CA:TRUE, keyCertSign), as PEM; <paramref name="isCa"/> false makes a plain leaf instead.</summary>
    /// <param name="rsa">An RSA 2048 key instead of ECDSA P-256 (the design allows both).</param>
    /// <param name="subjectKeyId">Whether the CA carries a subject key identifier (CAs made by some tools do not).</param>
    public static (string Certificate, string Key, X509Certificate2 Ca) CreateCa(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool isCa = true, bool rsa = false, bool subjectKeyId = true)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = key is RSA rsaKey
            ? new CertificateRequest($"CN={name}", rsaKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest($"CN={name}", (ECDsa)key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, isCa, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(isCa ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature, true));
        if (subjectKeyId)
        {
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        }

        using X509Certificate2 ca = request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30));
        return (ca.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), X509CertificateLoader.LoadCertificate(ca.RawData));
    }

    /// <summary>
    /// Replaces the inspection CA's files in place, as an operator rotating it would (key first, then certificate),
    /// with modification times clearly later than before so the proxy's stamp check sees the change.
    /// </summary>
    public void ReplaceCaFiles(string certificatePem, string keyPem, int secondsLater = 5)
    {
        DateTime stamp = DateTime.UtcNow.AddSeconds(secondsLater);
        File.WriteAllText(KeyPath, keyPem);
        File.SetLastWriteTimeUtc(KeyPath, stamp);
        File.WriteAllText(CaPath, certificatePem);
        File.SetLastWriteTimeUtc(CaPath, stamp);
    }

    /// <summary>
    /// A server certificate (with its key, loadable by Kestrel and SslStream) for <paramref name="dns"/> and/or
    /// <paramref name="ip"/>, signed by <paramref name="issuer"/> (which holds its private key).
    /// </summary>
    /// <param name="usage">The extended key usage: serverAuth unless a test wants another.</param>
    public static X509Certificate2 Issue(X509Certificate2 issuer, string? dns, IPAddress? ip = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, string usage = "1.3.6.1.5.5.7.3.1")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dns ?? ip!.ToString()}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        if (dns is not null)
        {
            san.AddDnsName(dns);
        }

        if (ip is not null)
        {
            san.AddIpAddress(ip);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        DateTimeOffset start = notBefore ?? DateTimeOffset.UtcNow.AddDays(-1);
        DateTimeOffset end = notAfter ?? DateTimeOffset.UtcNow.AddDays(2);
        using X509Certificate2 issued = request.Create(issuer, start, end, RandomNumberGenerator.GetBytes(8));
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A self-signed CA of nobody's, with its key: certificates it issues are trusted by no proxy.</summary>
    public static X509Certificate2 ForeignCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
    }

    /// <summary>The inspection section of a configuration: this kit's CA, and the origins' CA as upstreamCa.</summary>
    public InspectionConfig Inspection(params string[] neverInspect) => new()
    {
        Ca = CaPath,
        Key = KeyPath,
        UpstreamCa = Origins.CaPath,
        NeverInspect = [.. neverInspect.Select(Pattern)],
    };

    public static DestinationPattern Pattern(string text) =>
        DestinationPattern.TryParse(text, out DestinationPattern p, out string problem) ? p : throw new ArgumentException(problem);

    public static PathPattern PathEntry(string text) =>
        PathPattern.TryParse(text, out PathPattern p, out string problem) ? p : throw new ArgumentException(problem);

    /// <summary>A proxy that inspects <see cref="OriginName"/> with <paramref name="rules"/>, default deny.</summary>
    public Task<TestProxy> ProxyAsync(params Rule[] rules) => ProxyAsync(c => c, rules);

    public Task<TestProxy> ProxyAsync(Func<SluiceConfig, SluiceConfig> more, params Rule[] rules) => ProxyAsync(more, rules, AccessLogFormat.Squid);

    /// <param name="neverInspect">Destination patterns for <c>tls.inspection.neverInspect</c>.</param>
    /// <param name="log">Captures the proxy's operational log (warnings).</param>
    public async Task<TestProxy> ProxyAsync(Func<SluiceConfig, SluiceConfig> more, Rule[] rules, AccessLogFormat format, LogLines? log = null, string[]? neverInspect = null)
    {
        TestProxy proxy = await TestProxy.StartAsync(c => more(c with { Inspection = Inspection(neverInspect ?? []), Rules = [.. rules], Default = RuleAction.Deny }), format: format, log: log);
        proxy.Resolver.Map(OriginName, IPAddress.Loopback);
        return proxy;
    }

    /// <summary>An inspecting rule for the origin (or <paramref name="destination"/>).</summary>
    public static Rule Inspect(string name = "inspect", string[]? paths = null, string[]? methods = null, string destination = OriginName, string[]? users = null) => new()
    {
        Name = name,
        Action = RuleAction.Allow,
        Destinations = [Pattern(destination)],
        Tls = TlsMode.Inspect,
        Paths = [.. (paths ?? []).Select(PathEntry)],
        Methods = [.. methods ?? []],
        Users = [.. users ?? []],
    };

    /// <summary>A plain rule (no <c>tls:</c>): a CONNECT it decides is tunnelled untouched.</summary>
    public static Rule Plain(string name = "plain", string destination = OriginName, string[]? paths = null, RuleAction action = RuleAction.Allow) => new()
    {
        Name = name,
        Action = action,
        Destinations = [Pattern(destination)],
        Paths = [.. (paths ?? []).Select(PathEntry)],
    };

    /// <summary>host:port of the origin, as a CONNECT names it.</summary>
    public string Authority => $"{OriginName}:{Origin.Port}";

    /// <summary>An inspected tunnel to the origin through <paramref name="proxy"/>, handshaken trusting the inspection CA only.</summary>
    public Task<TunnelClient> OpenAsync(TestProxy proxy) => TunnelClient.OpenAsync(proxy.Endpoint, Authority, Ca);

    public Uri Url(string path) => new($"https://{OriginName}:{Origin.Port}{path}");

    /// <summary>An HttpClient through the proxy that trusts only the inspection CA for origins (what an inspected client sees).</summary>
    /// <param name="credentials">Proxy credentials (Basic), sent when the proxy asks for them.</param>
    public HttpClient Client(TestProxy proxy, Action<X509Certificate2>? seen = null, NetworkCredential? credentials = null)
    {
        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) { Credentials = credentials }, UseCookies = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null)
            {
                return false;
            }

            using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            seen?.Invoke(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(presented) && presented.MatchesHostname(OriginName);
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Certificates the inspection CA issued, as a client that trusts it would accept them.</summary>
    public bool IssuedByCa(X509Certificate2 certificate) => certificate.Issuer == Ca.Subject;

    public async ValueTask DisposeAsync()
    {
        await Origin.DisposeAsync();
        Origins.Dispose();
        Ca.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
