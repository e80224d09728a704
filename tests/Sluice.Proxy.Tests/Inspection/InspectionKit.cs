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

    /// <summary>A CA fit for inspection (CA:TRUE, keyCertSign), as PEM.</summary>
    public static (string Certificate, string Key, X509Certificate2 Ca) CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using X509Certificate2 ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (ca.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), X509CertificateLoader.LoadCertificate(ca.RawData));
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

    public async Task<TestProxy> ProxyAsync(Func<SluiceConfig, SluiceConfig> more, params Rule[] rules)
    {
        TestProxy proxy = await TestProxy.StartAsync(c => more(c with { Inspection = Inspection(), Rules = [.. rules], Default = RuleAction.Deny }));
        proxy.Resolver.Map(OriginName, IPAddress.Loopback);
        return proxy;
    }

    /// <summary>An inspecting rule for the origin.</summary>
    public static Rule Inspect(string name = "inspect", string[]? paths = null, string[]? methods = null) => new()
    {
        Name = name,
        Action = RuleAction.Allow,
        Destinations = [Pattern(OriginName)],
        Tls = TlsMode.Inspect,
        Paths = [.. (paths ?? []).Select(PathEntry)],
        Methods = [.. methods ?? []],
    };

    public Uri Url(string path) => new($"https://{OriginName}:{Origin.Port}{path}");

    /// <summary>An HttpClient through the proxy that trusts only the inspection CA for origins (what an inspected client sees).</summary>
    public HttpClient Client(TestProxy proxy, Action<X509Certificate2>? seen = null)
    {
        var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri), UseCookies = false };
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

    public async ValueTask DisposeAsync()
    {
        await Origin.DisposeAsync();
        Origins.Dispose();
        Ca.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
