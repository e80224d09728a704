using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests;

/// <summary>
/// An inspecting proxy's CA from every settings source (the vendor block's <c>sslInspectionCA</c>,
/// <c>SLUICE_INSPECTION_CA</c>, <see cref="ProxySettings.WithInspectionCa"/>), read one way and checked once.
/// </summary>
public sealed class InspectionCaTests : IDisposable
{
    private readonly TestPki _ca = new("Inspecting proxy CA");
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-inspection-").FullName;

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string SelfSigned(bool ca, X509KeyUsageFlags? usage = null, int fromDays = -1, int toDays = 1)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=made in the test", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        if (usage is { } u)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(u, true));
        }

        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(fromDays), DateTimeOffset.UtcNow.AddDays(toDays));
        return certificate.ExportCertificatePem();
    }

    [Fact]
    public void A_ca_certificate_is_accepted_and_several_may_share_a_file()
    {
        using (X509Certificate2 one = Assert.Single(InspectionCa.Parse(File.ReadAllText(_ca.CaPath))))
        {
            Assert.Equal(_ca.Ca.Thumbprint, one.Thumbprint);
        }

        using var other = new TestPki("Next inspecting proxy CA");
        X509Certificate2Collection two = InspectionCa.Parse(File.ReadAllText(_ca.CaPath) + "\n" + File.ReadAllText(other.CaPath));
        Assert.Equal(2, two.Count);
        foreach (X509Certificate2 c in two)
        {
            c.Dispose();
        }
    }

    [Theory]
    [InlineData("server", "the certificate CN=sluice-test-proxy is not a CA certificate (no basicConstraints CA:TRUE)")]
    [InlineData("key", "holds a private key: give clients the CA certificate only")]
    [InlineData("text", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    [InlineData("garbage", "a certificate in it cannot be read")]
    [InlineData("no-keycertsign", "the certificate CN=made in the test is not a CA certificate (its key usage lacks keyCertSign)")]
    [InlineData("expired", "the certificate CN=made in the test expired on ")]
    [InlineData("not-yet", "the certificate CN=made in the test is not valid before ")]
    public void What_is_not_a_usable_ca_is_refused_saying_why(string kind, string message)
    {
        (string cert, string key, _) = _ca.Server();
        string pem = kind switch
        {
            "server" => File.ReadAllText(cert), // the server certificate, then its CA
            "key" => File.ReadAllText(_ca.CaPath) + File.ReadAllText(key),
            "text" => "hello\n",
            "garbage" => "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "no-keycertsign" => SelfSigned(ca: true, usage: X509KeyUsageFlags.DigitalSignature),
            "expired" => SelfSigned(ca: true, fromDays: -10, toDays: -1),
            _ => SelfSigned(ca: true, fromDays: 2, toDays: 10),
        };
        FormatException e = Assert.Throws<FormatException>(() => InspectionCa.Parse(pem));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_vendor_block_reads_sslInspectionCA_as_a_path_beside_the_file_or_as_pem()
    {
        string certs = Directory.CreateDirectory(Path.Combine(_dir, "certs")).FullName;
        File.Copy(_ca.CaPath, Path.Combine(certs, "inspect-ca.crt"));
        string yaml = Write("customizations.yaml", "externalProxy:\n  host: proxy.internal\n  port: 3128\n  sslInspectionCA: certs/inspect-ca.crt\n");
        ProxySettings settings = VendorProxyConfig.LoadFile(yaml)!;
        Assert.Equal(Path.Combine(certs, "inspect-ca.crt"), settings.InspectionCaFile);
        Assert.Equal(File.ReadAllText(_ca.CaPath), settings.InspectionCaPem);
        Assert.Null(settings.CaPem); // the proxy's own CA is another setting

        string indented = string.Join("\n", File.ReadAllText(_ca.CaPath).TrimEnd().Split('\n').Select(l => "    " + l));
        ProxySettings inline = VendorProxyConfig.Parse($"externalProxy:\n  host: p\n  port: 1\n  sslInspectionCA: |\n{indented}\n")!;
        Assert.Null(inline.InspectionCaFile);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", inline.InspectionCaPem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_sslInspectionCA_fails_the_block_naming_the_key_and_the_file()
    {
        (string server, _, _) = _ca.Server();
        FormatException e = Assert.Throws<FormatException>(() => VendorProxyConfig.Parse($"externalProxy:\n  host: p\n  port: 1\n  sslInspectionCA: {server}\n"));
        Assert.StartsWith($"externalProxy.sslInspectionCA: {server}: the certificate CN=sluice-test-proxy is not a CA certificate", e.Message, StringComparison.Ordinal);

        string missing = Path.Combine(_dir, "missing.crt");
        e = Assert.Throws<FormatException>(() => VendorProxyConfig.Parse($"externalProxy:\n  host: p\n  port: 1\n  sslInspectionCA: {missing}\n"));
        Assert.StartsWith($"externalProxy.sslInspectionCA: cannot read {missing}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_environment_reads_SLUICE_INSPECTION_CA_with_the_proxy_variables()
    {
        var variables = new Dictionary<string, string> { ["https_proxy"] = "http://proxy.internal:3128", ["SLUICE_INSPECTION_CA"] = _ca.CaPath };
        ProxySettings https = ProxyEnvironment.ForHttps(n => variables.GetValueOrDefault(n))!;
        Assert.Equal(_ca.CaPath, https.InspectionCaFile);
        Assert.Equal(File.ReadAllText(_ca.CaPath), https.InspectionCaPem);

        // Without a proxy there is nothing to inspect; an empty value counts as unset.
        Assert.Null(ProxyEnvironment.ForHttp(n => variables.GetValueOrDefault(n)));
        variables["SLUICE_INSPECTION_CA"] = "";
        Assert.Null(ProxyEnvironment.ForHttps(n => variables.GetValueOrDefault(n))!.InspectionCaPem);

        variables["SLUICE_INSPECTION_CA"] = Write("notes.txt", "hello");
        FormatException e = Assert.Throws<FormatException>(() => ProxyEnvironment.ForHttps(n => variables.GetValueOrDefault(n)));
        Assert.StartsWith($"SLUICE_INSPECTION_CA: {variables["SLUICE_INSPECTION_CA"]}: holds no PEM certificate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_url_has_no_room_for_a_ca_so_WithInspectionCa_adds_one()
    {
        ProxySettings settings = ProxySettings.FromUrl("http://proxy.internal:3128").WithInspectionCa("ca.crt", _ca.Directory);
        Assert.Equal(_ca.CaPath, settings.InspectionCaFile);
        Assert.Equal("proxy.internal", settings.Host);
        Assert.Null(ProxySettings.FromUrl("http://p:1").WithInspectionCa(File.ReadAllText(_ca.CaPath)).InspectionCaFile);
        Assert.Contains("holds a private key", Assert.Throws<FormatException>(() => ProxySettings.FromUrl("http://p:1").WithInspectionCa(_ca.Server().Key)).Message, StringComparison.Ordinal);
    }
}
