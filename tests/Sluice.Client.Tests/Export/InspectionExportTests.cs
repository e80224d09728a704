using System.Security.Cryptography.X509Certificates;
using Sluice.Client.Export;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Client.Tests.Export;

/// <summary>The bundle an inspecting proxy's CA needs (system roots plus the CA), and what each format says with it.</summary>
public sealed class InspectionTrustTests : IDisposable
{
    private readonly TestPki _ca = new("Inspecting proxy CA");
    private readonly TestPki _rootA = new("Public root A");
    private readonly TestPki _rootB = new("Public root B");
    private readonly TestPki _proxyCa = new("Proxy CA");
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-bundle-").FullName;

    public void Dispose()
    {
        foreach (TestPki pki in (TestPki[])[_ca, _rootA, _rootB, _proxyCa])
        {
            pki.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>System roots as distributions write them: comments between, a certificate without a final newline.</summary>
    private string Roots(params TestPki[] extra) => Write("roots.pem",
        "# Public root A\n" + File.ReadAllText(_rootA.CaPath) + "\n\n# Public root B\n" + File.ReadAllText(_rootB.CaPath) + "\n"
        + string.Concat(extra.Select(p => File.ReadAllText(p.CaPath) + "\n")));

    private static string[] Thumbprints(string pem)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPem(pem);
        return certificates.Select(c => c.Thumbprint).ToArray();
    }

    [Fact]
    public void The_bundle_is_the_system_roots_then_the_ca_each_once()
    {
        string bundleFile = Path.Combine(_dir, "bundle.pem");
        InspectionTrust trust = InspectionTrust.Load(_ca.CaPath, bundleFile, Roots(_ca), ProxySettings.FromUrl("http://p:3128"));
        Assert.Equal([_rootA.Ca.Thumbprint, _rootB.Ca.Thumbprint, _ca.Ca.Thumbprint], Thumbprints(trust.BundlePem));
        Assert.Equal(2, trust.SystemRootsCount);
        Assert.Equal(1, trust.CaCount);
        Assert.Equal(_ca.CaPath, trust.CaFile);
        Assert.Equal(bundleFile, trust.BundleFile);
        Assert.Equal(Path.Combine(_dir, "bundle.p12"), trust.TrustStoreFile);
        Assert.False(trust.BundleHoldsProxyCa);
        Assert.StartsWith($"# Trust bundle written by sluice env: the system roots of {Path.Combine(_dir, "roots.pem")}", trust.BundlePem, StringComparison.Ordinal);
        Assert.Equal(new ExportFile(bundleFile, trust.BundlePem, $"the system roots of {Path.Combine(_dir, "roots.pem")} (2 certificates) and the inspecting proxy's CA"), trust.Bundle);
    }

    [Fact]
    public void The_https_proxys_own_ca_joins_the_bundle_only_when_it_is_another_ca()
    {
        string roots = Roots();
        string bundle = Path.Combine(_dir, "bundle.pem");
        InspectionTrust both = InspectionTrust.Load(_ca.CaPath, bundle, roots, ProxySettings.FromUrl("https://p:3129"), _proxyCa.CaPath);
        Assert.True(both.BundleHoldsProxyCa);
        Assert.Equal([_rootA.Ca.Thumbprint, _rootB.Ca.Thumbprint, _ca.Ca.Thumbprint, _proxyCa.Ca.Thumbprint], Thumbprints(both.BundlePem));

        Assert.False(InspectionTrust.Load(_ca.CaPath, bundle, roots, ProxySettings.FromUrl("http://p:3128"), _proxyCa.CaPath).BundleHoldsProxyCa);
        Assert.False(InspectionTrust.Load(_ca.CaPath, bundle, roots, ProxySettings.FromUrl("https://p:3129"), _ca.CaPath).BundleHoldsProxyCa);
        string copy = Write("same-ca.pem", File.ReadAllText(_ca.CaPath));
        Assert.False(InspectionTrust.Load(_ca.CaPath, bundle, roots, ProxySettings.FromUrl("https://p:3129"), copy).BundleHoldsProxyCa);
    }

    [Fact]
    public void Unusable_files_are_errors_naming_them()
    {
        (string server, _, _) = _ca.Server();
        string roots = Roots();
        ProxySettings proxy = ProxySettings.FromUrl("http://p:3128");
        Assert.StartsWith($"{server}: the certificate CN=sluice-test-proxy is not a CA certificate", Assert.Throws<FormatException>(() => InspectionTrust.Load(server, "b.pem", roots, proxy)).Message, StringComparison.Ordinal);
        string empty = Write("empty.pem", "");
        Assert.Equal($"the system roots {empty} hold no PEM certificate", Assert.Throws<FormatException>(() => InspectionTrust.Load(_ca.CaPath, "b.pem", empty, proxy)).Message);
        string missing = Path.Combine(_dir, "missing.pem");
        Assert.StartsWith($"cannot read the system roots {missing}", Assert.Throws<FormatException>(() => InspectionTrust.Load(_ca.CaPath, "b.pem", missing, proxy)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_system_roots_are_what_SSL_CERT_FILE_names_unless_it_is_the_bundle_itself()
    {
        string roots = Roots();
        string bundle = Path.Combine(_dir, "bundle.pem");
        File.WriteAllText(bundle, "");
        Assert.Equal(roots, SystemRoots.Find(n => n == "SSL_CERT_FILE" ? roots : null, exclude: bundle));

        // An earlier run's bundle, exported and then read back, is not taken as the system's roots.
        string? found = SystemRoots.Find(n => n == "SSL_CERT_FILE" ? bundle : null, exclude: bundle);
        Assert.Equal(SystemRoots.Candidates.FirstOrDefault(File.Exists), found);
        Assert.Equal(SystemRoots.Candidates.FirstOrDefault(File.Exists), SystemRoots.Find(_ => null));
        Assert.Equal("/etc/ssl/certs/ca-certificates.crt", SystemRoots.Candidates[0]);
        Assert.Equal("/etc/pki/tls/certs/ca-bundle.crt", SystemRoots.Candidates[1]);
        Assert.Equal(Path.Combine(_dir, "inspect-ca-bundle.pem"), InspectionTrust.DefaultBundleFile(Path.Combine(_dir, "inspect-ca.crt")));
    }
}

/// <summary>Each format's lines with an inspecting proxy's CA: the bundle where a setting replaces the roots, the CA alone where it adds to them.</summary>
public sealed class InspectionExportTests
{
    private const string Ca = "/etc/sluice/inspect-ca.crt";
    private const string Bundle = "/etc/sluice/inspect-ca-bundle.pem";

    private static InspectionTrust Trust(bool withProxyCa = false, int caCount = 1) => new()
    {
        CaFile = Ca,
        CaCount = caCount,
        BundleFile = Bundle,
        BundlePem = "-----BEGIN CERTIFICATE-----\n...",
        SystemRootsFile = "/etc/ssl/certs/ca-certificates.crt",
        SystemRootsCount = 140,
        BundleHoldsProxyCa = withProxyCa,
    };

    private static ExportResult Export(string format, string url = "http://proxy.test:3128", string? ca = null, InspectionTrust? trust = null) =>
        ProxyExporters.Find(format)!.Export(ExportTestData.With("", url, ca) with { Inspection = trust ?? Trust() });

    public static TheoryData<string, string[]> TrustLines => new()
    {
        { "sh", [$"export SSL_CERT_FILE='{Bundle}'", $"export REQUESTS_CA_BUNDLE='{Bundle}'", $"export CURL_CA_BUNDLE='{Bundle}'", $"export GIT_SSL_CAINFO='{Bundle}'", $"export NODE_EXTRA_CA_CERTS='{Ca}'"] },
        { "fish", [$"set -gx SSL_CERT_FILE '{Bundle}'", $"set -gx NODE_EXTRA_CA_CERTS '{Ca}'"] },
        { "powershell", [$"$env:CURL_CA_BUNDLE = '{Bundle}'"] },
        { "dotenv", [$"SSL_CERT_FILE={Bundle}", $"REQUESTS_CA_BUNDLE={Bundle}", $"CURL_CA_BUNDLE={Bundle}", $"GIT_SSL_CAINFO={Bundle}", $"NODE_EXTRA_CA_CERTS={Ca}"] },
        { "systemd", [$"Environment=\"SSL_CERT_FILE={Bundle}\"", $"Environment=\"NODE_EXTRA_CA_CERTS={Ca}\""] },
        { "k8s", ["  - name: CURL_CA_BUNDLE", $"    value: \"{Bundle}\"", "  - name: NODE_EXTRA_CA_CERTS", $"    value: \"{Ca}\""] },
        { "python", [$"export REQUESTS_CA_BUNDLE='{Bundle}'", $"export SSL_CERT_FILE='{Bundle}'", $"export PIP_CERT='{Bundle}'"] },
        { "node", [$"export NODE_EXTRA_CA_CERTS='{Ca}'", $"cafile={Bundle}"] },
        { "git", [$"git config --global http.sslCAInfo '{Bundle}'"] },
        { "apt", [$"Acquire::https::CaInfo \"{Bundle}\";"] },
        {
            "java",
            [
                "# trust the inspecting proxy's CA for origins: a copy of the JDK's roots plus the CA (javax.net.ssl.trustStore replaces cacerts)",
                "rm -f '/etc/sluice/inspect-ca-bundle.p12'",
                "keytool -importkeystore -noprompt -srckeystore \"${JAVA_HOME:-$(dirname \"$(dirname \"$(readlink -f \"$(command -v java)\")\")\")}/lib/security/cacerts\" -srcstorepass changeit -destkeystore '/etc/sluice/inspect-ca-bundle.p12' -deststoretype PKCS12 -deststorepass changeit",
                $"keytool -importcert -noprompt -alias sluice-inspection-ca -file '{Ca}' -keystore '/etc/sluice/inspect-ca-bundle.p12' -storetype PKCS12 -storepass changeit",
                "export JAVA_TOOL_OPTIONS='-Dhttp.proxyHost=proxy.test -Dhttp.proxyPort=3128 -Dhttps.proxyHost=proxy.test -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts= -Djavax.net.ssl.trustStore=/etc/sluice/inspect-ca-bundle.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit'",
            ]
        },
        {
            "system",
            [
                "if command -v update-ca-certificates >/dev/null 2>&1; then",
                $"  install -m 0644 '{Ca}' /usr/local/share/ca-certificates/sluice-inspection-ca.crt",
                "  update-ca-certificates",
                "elif command -v update-ca-trust >/dev/null 2>&1; then",
                $"  install -m 0644 '{Ca}' /etc/pki/ca-trust/source/anchors/sluice-inspection-ca.crt",
                "  update-ca-trust",
                "else",
            ]
        },
    };

    [Theory]
    [MemberData(nameof(TrustLines))]
    public void Each_format_trusts_the_ca_its_runtimes_way(string format, string[] expected)
    {
        ExportResult result = Export(format);
        foreach (string line in expected)
        {
            Assert.Contains(line, result.Lines);
        }

        Assert.DoesNotContain(result.Lints, l => l.Message.Contains("replace the default trust store", StringComparison.Ordinal));
        Assert.All(result.Lints, l => Assert.DoesNotContain("skip", l.Message, StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("sh", true)]
    [InlineData("k8s", true)]
    [InlineData("docker", true)]
    [InlineData("python", true)]
    [InlineData("node", true)]
    [InlineData("git", true)]
    [InlineData("apt", true)]
    [InlineData("java", false)]
    [InlineData("system", false)]
    public void The_bundle_is_written_for_the_formats_that_name_it(string format, bool bundle)
    {
        ExportResult result = Export(format);
        Assert.Equal(bundle ? [new ExportFile(Bundle, "-----BEGIN CERTIFICATE-----\n...", Trust().Bundle.Description)] : [], result.Files);
        Assert.Equal(bundle, result.Lines.Concat(result.Lints.Select(l => l.Message)).Any(l => l.Contains(Bundle, StringComparison.Ordinal))); // docker: in the lint that says to mount it
    }

    [Fact]
    public void The_system_format_appends_the_proxy_to_etc_environment()
    {
        ExportResult result = Export("system", "http://etl:s3cr3t%21pw@proxy.test:3128");
        Assert.Equal(["cat >> /etc/environment <<'EOF'", "http_proxy=http://etl:s3cr3t%21pw@proxy.test:3128", "HTTP_PROXY=http://etl:s3cr3t%21pw@proxy.test:3128"], result.Lines.Take(3));
        Assert.Equal("EOF", result.Lines[5]);
        Assert.Contains(result.Lints, l => l.Subject == "/etc/environment" && l.Message.Contains("--format systemd", StringComparison.Ordinal));
        Assert.Contains(result.Lints, l => l.Subject == "--inspection-ca" && l.Message.StartsWith("Node keeps its own roots", StringComparison.Ordinal));

        // Without a CA there is nothing to install.
        Assert.DoesNotContain(ProxyExporters.Find("system")!.Export(ExportTestData.With("")).Lines, l => l.Contains("update-ca", StringComparison.Ordinal));
    }

    [Fact]
    public void With_an_https_proxy_and_its_own_ca_the_shared_settings_name_the_bundle_and_say_so()
    {
        ExportResult sh = Export("sh", "https://proxy.test:3129", "/etc/sluice/proxy-ca.pem", Trust(withProxyCa: true));
        Assert.Contains($"export NODE_EXTRA_CA_CERTS='{Bundle}'", sh.Lines);
        Assert.Contains(sh.Lints, l => l.Subject == "--ca" && l.Message.EndsWith("the bundle holds the proxy's CA as well, so it is trusted for origins too", StringComparison.Ordinal));

        // git keeps the two apart: the proxy's CA for the proxy, the bundle for origins.
        ExportResult git = Export("git", "https://proxy.test:3129", "/etc/sluice/proxy-ca.pem", Trust(withProxyCa: true));
        Assert.Contains("git config --global http.proxySSLCAInfo '/etc/sluice/proxy-ca.pem'", git.Lines);
        Assert.Contains($"git config --global http.sslCAInfo '{Bundle}'", git.Lines);

        // The system store cannot keep them apart at all.
        ExportResult system = Export("system", "https://proxy.test:3129", "/etc/sluice/proxy-ca.pem", Trust(withProxyCa: true));
        Assert.Contains("  install -m 0644 '/etc/sluice/proxy-ca.pem' /usr/local/share/ca-certificates/sluice-proxy-ca.crt", system.Lines);
        Assert.Contains(system.Lints, l => l.Subject == "--ca" && l.Message.Contains("trusted for every origin too", StringComparison.Ordinal));

        // Java imports both into one store.
        Assert.Contains("keytool -importcert -noprompt -alias sluice-proxy-ca -file '/etc/sluice/proxy-ca.pem' -keystore '/etc/sluice/inspect-ca-bundle.p12' -storetype PKCS12 -storepass changeit", Export("java", "https://proxy.test:3129", "/etc/sluice/proxy-ca.pem").Lines);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("python")]
    [InlineData("node")]
    [InlineData("git")]
    [InlineData("apt")]
    public void An_http_proxys_ca_plays_no_part_beside_the_inspection_ca(string format)
    {
        ExportResult result = Export(format, ca: "/etc/sluice/proxy-ca.pem");
        Assert.DoesNotContain(result.Lines, l => l.Contains("proxy-ca.pem", StringComparison.Ordinal));
        Assert.Contains(result.Lints, l => l.Subject == "--ca" && l.Message.StartsWith("the proxy is http, so its own CA plays no part", StringComparison.Ordinal));
    }

    [Fact]
    public void Runtimes_that_cannot_take_the_settings_are_named()
    {
        Assert.Contains(Export("docker").Lints, l => l.Subject == "--inspection-ca" && l.Message.StartsWith("config.json cannot carry a CA", StringComparison.Ordinal));
        Assert.Contains(Export("k8s").Lints, l => l.Subject == "--inspection-ca" && l.Message.Contains("mount both there", StringComparison.Ordinal));
        Assert.Contains(Export("sh").Lints, l => l.Subject == "--inspection-ca" && l.Message.StartsWith("Java reads none of these variables", StringComparison.Ordinal));
        Assert.Contains(Export("apt").Lints, l => l.Subject == "--inspection-ca" && l.Message.StartsWith("apt fetches as the user _apt", StringComparison.Ordinal));
        Assert.Contains(Export("java", trust: Trust(caCount: 2)).Lints, l => l.Subject == "--inspection-ca" && l.Message.Contains("keytool imports the first only", StringComparison.Ordinal));
    }

    [Fact]
    public void The_vendor_blocks_inspection_ca_is_named_or_asked_for()
    {
        ProxySettings named = ProxySettings.FromUrl("http://p:3128") with { InspectionCaPem = "-----BEGIN CERTIFICATE-----", InspectionCaFile = Ca };
        ExportResult used = new EnvExporter(EnvStyle.Sh).Export(new ExportRequest(named) { Inspection = Trust() });
        Assert.Contains(used.Lints, l => l.Subject == "sslInspectionCA" && l.Message == $"the block names the inspection CA file {Ca}; it is used as --inspection-ca would be");

        ProxySettings inline = named with { InspectionCaFile = null };
        ExportResult asked = new EnvExporter(EnvStyle.Sh).Export(new ExportRequest(inline));
        Assert.Contains(asked.Lints, l => l.Subject == "sslInspectionCA" && l.Message.Contains("pass --inspection-ca FILE", StringComparison.Ordinal));
        Assert.DoesNotContain(asked.Lines, l => l.Contains("CURL_CA_BUNDLE", StringComparison.Ordinal));
    }
}
