using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests;

/// <summary>
/// The vendor block's <c>sslCA</c>, which the vendor documents as a path and shows as inline PEM: both are taken.
/// A value starting with <c>-----BEGIN</c> is PEM; anything else is a file, read and checked when the block loads.
/// </summary>
public sealed class VendorProxyConfigTests : IDisposable
{
    private readonly TestPki _proxyCa = new("Proxy CA");
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-vendor-").FullName;

    public void Dispose()
    {
        _proxyCa.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Block(string sslCA, string type = "https", int port = 3129) =>
        $"externalProxy:\n  host: 127.0.0.1\n  port: {port}\n  type: {type}\n  sslCA: {sslCA}\n";

    [Fact]
    public void Inline_pem_stays_inline()
    {
        string pem = File.ReadAllText(_proxyCa.CaPath);
        string indented = string.Join("\n", pem.TrimEnd().Split('\n').Select(l => "    " + l));
        ProxySettings settings = VendorProxyConfig.Parse($"externalProxy:\n  host: p\n  port: 1\n  sslCA: |\n{indented}\n")!;
        Assert.Equal(pem.TrimEnd(), settings.CaPem!.TrimEnd());
    }

    [Fact]
    public void An_absolute_path_is_read_and_its_certificate_becomes_the_ca()
    {
        ProxySettings settings = VendorProxyConfig.Parse(Block(_proxyCa.CaPath))!;
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", settings.CaPem, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(_proxyCa.CaPath), settings.CaPem);
    }

    [Fact]
    public void A_relative_path_is_relative_to_the_folder_of_the_yaml_file_not_the_current_one()
    {
        string certs = Directory.CreateDirectory(Path.Combine(_dir, "certs")).FullName;
        File.Copy(_proxyCa.CaPath, Path.Combine(certs, "proxy-ca.pem"));
        string yaml = Path.Combine(_dir, "customizations.yaml");
        File.WriteAllText(yaml, Block("certs/proxy-ca.pem"));

        ProxySettings settings = VendorProxyConfig.LoadFile(yaml)!;
        Assert.Equal(Path.Combine(certs, "proxy-ca.pem"), settings.CaFile);
        Assert.Equal(File.ReadAllText(_proxyCa.CaPath), settings.CaPem);

        // The same text without its file: relative to the folder given (here, one where the file is not).
        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        FormatException e = Assert.Throws<FormatException>(() => VendorProxyConfig.Parse(File.ReadAllText(yaml), elsewhere));
        Assert.Contains($"cannot read {Path.Combine(elsewhere, "certs", "proxy-ca.pem")}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inline_pem_has_no_file_and_a_path_is_the_file_an_export_trusts()
    {
        Assert.Null(VendorProxyConfig.Parse($"externalProxy:\n  host: p\n  port: 1\n  sslCA: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n")!.CaFile);

        ProxySettings settings = VendorProxyConfig.Parse(Block(_proxyCa.CaPath))!;
        Assert.Equal(_proxyCa.CaPath, settings.CaFile);
        Assert.Equal(_proxyCa.CaPath, new Sluice.Client.Export.ExportRequest(settings).CaFile);
        Assert.Equal("/etc/other.pem", new Sluice.Client.Export.ExportRequest(settings, "/etc/other.pem").CaFile);
    }

    [Fact]
    public void A_path_that_cannot_be_read_is_an_error_naming_the_path()
    {
        string missing = Path.Combine(_dir, "no-such-ca.pem");
        FormatException e = Assert.Throws<FormatException>(() => VendorProxyConfig.Parse(Block(missing)));
        Assert.Contains("externalProxy.sslCA", e.Message, StringComparison.Ordinal);
        Assert.Contains($"cannot read {missing}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_path_to_a_file_without_a_certificate_is_an_error_naming_the_path()
    {
        string notPem = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(notPem, "this is not a certificate\n");
        FormatException e = Assert.Throws<FormatException>(() => VendorProxyConfig.Parse(Block(notPem)));
        Assert.Contains($"externalProxy.sslCA: {notPem} holds no PEM certificate", e.Message, StringComparison.Ordinal);

        // A key is PEM too, but not a certificate.
        (_, string key, _) = _proxyCa.Server();
        e = Assert.Throws<FormatException>(() => VendorProxyConfig.Parse(Block(key)));
        Assert.Contains($"{key} holds no PEM certificate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_ca_named_by_path_is_what_the_handler_trusts_for_the_https_proxy()
    {
        (string cert, string key, _) = _proxyCa.Server();
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(c => c with
        {
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0), Tls = new TlsConfig { Certificate = cert, Key = key } }],
        });
        proxy.Resolver.Map("origin.test", IPAddress.Loopback);

        ProxySettings settings = VendorProxyConfig.Parse(Block(_proxyCa.CaPath, port: proxy.Endpoint.Port))!;
        using var http = new HttpClient(ProxyHandlerFactory.Create(settings));
        Assert.Equal("hello from origin", await http.GetStringAsync($"http://origin.test:{origin.Port}/hello"));
    }
}
