using Sluice.Cli.Commands;
using Sluice.Client.Export;

namespace Sluice.Cli.Tests;

public sealed class EnvCommandTests : IDisposable
{
    private const string Pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-env-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> FirstLines => new()
    {
        { "sh", "export http_proxy='http://etl:pw@proxy.test:3128'" },
        { "fish", "set -gx http_proxy 'http://etl:pw@proxy.test:3128'" },
        { "powershell", "$env:http_proxy = 'http://etl:pw@proxy.test:3128'" },
        { "dotenv", "http_proxy=http://etl:pw@proxy.test:3128" },
        { "systemd", "[Service]" },
        { "docker", "{" },
        { "k8s", "env:" },
        { "java", "# trust the CA: copy the JDK's roots, then add it (javax.net.ssl.trustStore replaces cacerts)" },
        { "node", "export NODE_USE_ENV_PROXY='1'" },
        { "python", "export http_proxy='http://etl:pw@proxy.test:3128'" },
        { "git", "git config --global http.proxy 'http://etl:pw@proxy.test:3128'" },
        { "apt", "Acquire::http::Proxy \"http://etl:pw@proxy.test:3128/\";" },
        { "system", "cat >> /etc/environment <<'EOF'" },
    };

    private static (int Exit, string[] Output, string[] Errors) Env(EnvCommand.EnvRequest request)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = EnvCommand.Run(request, output, errors);
        static string[] Lines(StringWriter w) => w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        return (exit, Lines(output), Lines(errors));
    }

    private FileInfo Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return new FileInfo(path);
    }

    [Theory]
    [MemberData(nameof(FirstLines))]
    public void Every_format_prints_settings_on_stdout_and_lints_on_stderr(string format, string first)
    {
        FileInfo ca = Write("ca.pem", Pem);
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest(format, "http://etl:pw@proxy.test:3128", NoProxy: ["localhost,*.corp.example", "10.0.0.0/8"], Ca: ca));
        Assert.Equal(0, exit);
        Assert.Equal(first, output[0]);
        Assert.Contains(output, l => l.Contains(format == "java" ? "proxy.test" : "proxy.test:3128", StringComparison.Ordinal));
        Assert.NotEmpty(errors);
        Assert.All(errors, l => Assert.StartsWith($"sluice env: {format}: ", l, StringComparison.Ordinal));
        Assert.All(errors, l => Assert.DoesNotContain(":pw@", l, StringComparison.Ordinal));
        Assert.Contains(errors, l => l.Contains("10.0.0.0/8", StringComparison.Ordinal));
    }

    [Fact]
    public void The_vendor_block_loads_with_its_comma_separated_items_and_no_proxy_adds_to_it()
    {
        FileInfo file = Write("vendor.yaml", """
            externalProxy:
              enabled: true
              host: proxy.internal.example
              port: 3129
              type: https
              excludedDomains: ["localhost,.svc.cluster.local", "10.0.0.0/8"]
              sslRejectUnauthorized: true
            """);
        FileInfo ca = Write("ca.pem", Pem);
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", From: file, NoProxy: ["db.internal"], Ca: ca));
        Assert.Equal(0, exit);
        Assert.Equal("export http_proxy='https://proxy.internal.example:3129'", output[0]);
        Assert.Contains("export NO_PROXY='localhost,.localhost,svc.cluster.local,.svc.cluster.local,10.0.0.0/8,db.internal,.db.internal'", output);
        Assert.Contains($"export SSL_CERT_FILE='{ca.FullName}'", output);
        Assert.Contains(errors, l => l.StartsWith("sluice env: sh: type: https: Python urllib and wget cannot speak TLS to a proxy", StringComparison.Ordinal));

        (exit, output, _) = Env(new EnvCommand.EnvRequest("git", From: file, Ca: ca));
        Assert.Equal(0, exit);
        Assert.Contains($"git config --global http.proxySSLCAInfo '{ca.FullName}'", output);
    }

    [Fact]
    public void A_vendor_block_with_an_inline_ca_and_skip_verify_is_linted()
    {
        FileInfo file = Write("vendor.yaml", "externalProxy:\n  host: p.example\n  port: 3128\n  sslRejectUnauthorized: false\n  sslCA: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n");
        (int exit, _, string[] errors) = Env(new EnvCommand.EnvRequest("python", From: file));
        Assert.Equal(0, exit);
        Assert.Contains(errors, l => l.StartsWith("sluice env: python: sslCA: the CA is inline", StringComparison.Ordinal));
        Assert.Contains(errors, l => l.StartsWith("sluice env: python: sslRejectUnauthorized: false: Python cannot skip verification", StringComparison.Ordinal));
    }

    /// <summary>A vendor block whose sslCA is a path, as the vendor's documentation describes it, next to a real CA file.</summary>
    private (FileInfo Block, string CaPath) VendorWithCaPath(string sslCA, string? caText = null)
    {
        using var pki = new Sluice.Proxy.Tests.Infrastructure.TestPki("Proxy CA");
        string caPath = Path.Combine(_dir, "certs", "proxy-ca.pem");
        Directory.CreateDirectory(Path.GetDirectoryName(caPath)!);
        File.WriteAllText(caPath, caText ?? File.ReadAllText(pki.CaPath));
        return (Write("vendor.yaml", $"externalProxy:\n  host: p.example\n  port: 3129\n  type: https\n  sslCA: {sslCA}\n"), caPath);
    }

    [Fact]
    public void A_vendor_ca_given_as_a_relative_path_is_read_beside_the_block_and_emitted_by_its_path()
    {
        (FileInfo file, string caPath) = VendorWithCaPath("certs/proxy-ca.pem");
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", From: file));
        Assert.Equal(0, exit);
        Assert.Contains($"export SSL_CERT_FILE='{caPath}'", output);
        Assert.DoesNotContain(errors, l => l.Contains("inline", StringComparison.Ordinal));
        Assert.Contains(errors, l => l.StartsWith($"sluice env: sh: sslCA: the block names the CA file {caPath}", StringComparison.Ordinal));

        (exit, output, _) = Env(new EnvCommand.EnvRequest("git", From: file));
        Assert.Equal(0, exit);
        Assert.Contains($"git config --global http.proxySSLCAInfo '{caPath}'", output);
    }

    [Fact]
    public void A_vendor_ca_path_that_cannot_be_read_or_holds_no_certificate_exits_2_naming_the_path()
    {
        (FileInfo file, _) = VendorWithCaPath("certs/missing.pem");
        string missing = Path.Combine(_dir, "certs", "missing.pem");
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", From: file));
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.StartsWith($"sluice env: {file.FullName}: externalProxy.sslCA: cannot read {missing}", errors.Single(), StringComparison.Ordinal);

        (file, string caPath) = VendorWithCaPath("certs/proxy-ca.pem", caText: "not a certificate\n");
        (exit, output, errors) = Env(new EnvCommand.EnvRequest("sh", From: file));
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Equal($"sluice env: {file.FullName}: externalProxy.sslCA: {caPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", errors.Single());
    }

    [Fact]
    public async Task The_executable_takes_both_forms_of_the_vendor_ca_and_names_a_bad_path()
    {
        // A path, relative to the block's folder (the process runs elsewhere).
        (FileInfo file, string caPath) = VendorWithCaPath("certs/proxy-ca.pem");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("env", "--from", file.FullName, "--format", "sh");
        Assert.True(exit == 0, stderr);
        Assert.Contains($"export SSL_CERT_FILE='{caPath}'", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("inline", stderr, StringComparison.Ordinal);
        Assert.Contains($"sslCA: the block names the CA file {caPath}", stderr, StringComparison.Ordinal);

        // Inline PEM: still inline, and still linted as such.
        string pem = File.ReadAllText(caPath);
        string indented = string.Join("\n", pem.TrimEnd().Split('\n').Select(l => "    " + l));
        FileInfo inline = Write("inline.yaml", $"externalProxy:\n  host: p.example\n  port: 3129\n  type: https\n  sslCA: |\n{indented}\n");
        (exit, stdout, stderr) = await SluiceProcess.RunAsync("env", "--from", inline.FullName, "--format", "sh");
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("SSL_CERT_FILE", stdout, StringComparison.Ordinal);
        Assert.Contains("sslCA: the CA is inline", stderr, StringComparison.Ordinal);

        // A path to something that is not a certificate, and one that does not exist.
        File.WriteAllText(caPath, "hello\n");
        (exit, stdout, stderr) = await SluiceProcess.RunAsync("env", "--from", file.FullName, "--format", "sh");
        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains($"externalProxy.sslCA: {caPath} holds no PEM certificate", stderr, StringComparison.Ordinal);

        File.Delete(caPath);
        (exit, _, stderr) = await SluiceProcess.RunAsync("env", "--from", file.FullName, "--format", "sh");
        Assert.Equal(2, exit);
        Assert.Contains($"externalProxy.sslCA: cannot read {caPath}", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disabled_vendor_block_prints_nothing_and_exits_1()
    {
        FileInfo file = Write("vendor.yaml", "externalProxy:\n  enabled: false\n  host: p\n  port: 1\n");
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", From: file));
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.Contains("externalProxy.enabled is false", errors.Single());
    }

    [Theory]
    [InlineData(null, false, "give the proxy with exactly one of --proxy URL or --from FILE")]
    [InlineData("http://p:3128", true, "give the proxy with exactly one of --proxy URL or --from FILE")]
    [InlineData("ftp://p:21", false, "'ftp://p:21' is not a proxy URL")]
    [InlineData("http://", false, "is not a proxy URL")]
    public void Usage_errors_exit_2(string? proxy, bool from, string message)
    {
        FileInfo? file = from ? Write("vendor.yaml", "externalProxy:\n  host: p\n  port: 1\n") : null;
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", proxy, file));
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains(message, errors.Single());
    }

    [Fact]
    public void Missing_or_malformed_files_exit_2_naming_the_file()
    {
        var missing = new FileInfo(Path.Combine(_dir, "nope.pem"));
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", "http://p:3128", Ca: missing));
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Equal($"sluice env: --ca {missing.FullName}: no such file", errors.Single());

        (exit, _, errors) = Env(new EnvCommand.EnvRequest("sh", "http://p:3128", Ca: Write("not.pem", "hello")));
        Assert.Equal(2, exit);
        Assert.Contains("no PEM certificate", errors.Single());

        (exit, _, errors) = Env(new EnvCommand.EnvRequest("sh", From: new FileInfo(Path.Combine(_dir, "none.yaml"))));
        Assert.Equal(2, exit);
        Assert.Contains("none.yaml: no such file", errors.Single());

        (exit, _, errors) = Env(new EnvCommand.EnvRequest("sh", From: Write("bad.yaml", "externalProxy:\n  host: p\n  port: 1\n  type: socks5\n")));
        Assert.Equal(2, exit);
        Assert.Contains("externalProxy.type 'socks5' must be http or https", errors.Single());

        (exit, _, errors) = Env(new EnvCommand.EnvRequest("cmd", "http://p:3128"));
        Assert.Equal(2, exit);
        Assert.StartsWith("sluice env: unknown format 'cmd'", errors.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_command_line_parses_into_the_same_run()
    {
        var root = new System.CommandLine.RootCommand { EnvCommand.Create() };
        System.CommandLine.ParseResult parsed = root.Parse(["env", "--proxy", "http://p:3128", "--no-proxy", "a.example", "--no-proxy", "b.example", "--format", "dotenv"]);
        Assert.Empty(parsed.Errors);
        Assert.NotEmpty(root.Parse(["env", "--proxy", "http://p:3128", "--format", "cmd"]).Errors);
        Assert.NotEmpty(root.Parse(["env", "--proxy", "http://p:3128"]).Errors);
        Assert.Equal(14, ProxyExporters.Formats.Count);
        Assert.Empty(root.Parse(["env", "--proxy", "http://p:3128", "--inspection-ca", "ca.crt", "--bundle-out", "b.pem", "--system-roots", "r.pem", "--format", "sh"]).Errors);
    }

    private (FileInfo Ca, FileInfo Roots) InspectionFiles(Sluice.Proxy.Tests.Infrastructure.TestPki ca, Sluice.Proxy.Tests.Infrastructure.TestPki root)
    {
        FileInfo caFile = Write("inspect-ca.crt", File.ReadAllText(ca.CaPath));
        return (caFile, Write("roots.pem", File.ReadAllText(root.CaPath) + "\n"));
    }

    [Fact]
    public void The_inspection_ca_is_checked_and_its_bundle_written_beside_it_or_where_asked()
    {
        using var ca = new Sluice.Proxy.Tests.Infrastructure.TestPki("Inspecting proxy CA");
        using var root = new Sluice.Proxy.Tests.Infrastructure.TestPki("Public root");
        (FileInfo caFile, FileInfo roots) = InspectionFiles(ca, root);
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("sh", "http://proxy.test:3128", InspectionCa: caFile, SystemRoots: roots));
        string bundle = Path.Combine(_dir, "inspect-ca-bundle.pem");
        Assert.Equal(0, exit);
        Assert.Contains($"export SSL_CERT_FILE='{bundle}'", output);
        Assert.Contains($"export NODE_EXTRA_CA_CERTS='{caFile.FullName}'", output);
        Assert.Equal($"sluice env: wrote {bundle}: the system roots of {roots.FullName} (1 certificate) and the inspecting proxy's CA", errors[0]);
        var inBundle = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        inBundle.ImportFromPem(File.ReadAllText(bundle));
        Assert.Equal([root.Ca.Thumbprint, ca.Ca.Thumbprint], inBundle.Select(c => c.Thumbprint));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(bundle));
        }

        string elsewhere = Path.Combine(_dir, "elsewhere.pem");
        (exit, output, _) = Env(new EnvCommand.EnvRequest("git", "http://proxy.test:3128", InspectionCa: caFile, BundleOut: new FileInfo(elsewhere), SystemRoots: roots));
        Assert.Equal(0, exit);
        Assert.Contains($"git config --global http.sslCAInfo '{elsewhere}'", output);
        Assert.True(File.Exists(elsewhere));

        // java builds its store with keytool from the JDK's roots: no bundle is written for it.
        File.Delete(elsewhere);
        (exit, output, errors) = Env(new EnvCommand.EnvRequest("java", "http://proxy.test:3128", InspectionCa: caFile, BundleOut: new FileInfo(elsewhere), SystemRoots: roots));
        Assert.Equal(0, exit);
        Assert.Contains(output, l => l.Contains("-Djavax.net.ssl.trustStore=" + Path.Combine(_dir, "elsewhere.p12"), StringComparison.Ordinal));
        Assert.False(File.Exists(elsewhere));
        Assert.DoesNotContain(errors, l => l.Contains("wrote", StringComparison.Ordinal));
    }

    [Fact]
    public void A_vendor_blocks_sslInspectionCA_is_the_default()
    {
        using var ca = new Sluice.Proxy.Tests.Infrastructure.TestPki("Inspecting proxy CA");
        using var root = new Sluice.Proxy.Tests.Infrastructure.TestPki("Public root");
        (FileInfo caFile, FileInfo roots) = InspectionFiles(ca, root);
        FileInfo block = Write("vendor.yaml", "externalProxy:\n  host: proxy.test\n  port: 3128\n  sslInspectionCA: inspect-ca.crt\n");
        (int exit, string[] output, string[] errors) = Env(new EnvCommand.EnvRequest("python", From: block, SystemRoots: roots));
        Assert.Equal(0, exit);
        Assert.Contains($"export REQUESTS_CA_BUNDLE='{Path.Combine(_dir, "inspect-ca-bundle.pem")}'", output);
        Assert.Contains($"sluice env: python: sslInspectionCA: the block names the inspection CA file {caFile.FullName}; it is used as --inspection-ca would be", errors);
    }

    [Fact]
    public void A_file_that_is_not_a_ca_or_cannot_be_used_exits_2_saying_why()
    {
        using var ca = new Sluice.Proxy.Tests.Infrastructure.TestPki("Inspecting proxy CA");
        using var root = new Sluice.Proxy.Tests.Infrastructure.TestPki("Public root");
        (FileInfo caFile, FileInfo roots) = InspectionFiles(ca, root);
        (string server, string key, _) = ca.Server();
        var cases = new (EnvCommand.EnvRequest Request, string Error)[]
        {
            (new("sh", "http://p:3128", InspectionCa: new FileInfo(Path.Combine(_dir, "none.crt"))), $"sluice env: --inspection-ca {Path.Combine(_dir, "none.crt")}: no such file"),
            (new("sh", "http://p:3128", InspectionCa: Write("hello.crt", "hello")), $"sluice env: --inspection-ca {Path.Combine(_dir, "hello.crt")}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            (new("sh", "http://p:3128", InspectionCa: new FileInfo(server)), $"sluice env: --inspection-ca {server}: the certificate CN=sluice-test-proxy is not a CA certificate (no basicConstraints CA:TRUE): a proxy cannot issue certificates with it; give the CA the proxy signs with, not a server certificate"),
            (new("sh", "http://p:3128", InspectionCa: Write("with-key.crt", File.ReadAllText(ca.CaPath) + "\n" + File.ReadAllText(key))), $"sluice env: --inspection-ca {Path.Combine(_dir, "with-key.crt")}: holds a private key: give clients the CA certificate only (the key stays with the proxy)"),
            (new("sh", "http://p:3128", InspectionCa: caFile, SystemRoots: new FileInfo(Path.Combine(_dir, "no-roots.pem"))), $"sluice env: --system-roots {Path.Combine(_dir, "no-roots.pem")}: no such file"),
            (new("sh", "http://p:3128", InspectionCa: caFile, SystemRoots: Write("empty.pem", "")), $"sluice env: the system roots {Path.Combine(_dir, "empty.pem")} hold no PEM certificate"),
            (new("sh", "http://p:3128", BundleOut: new FileInfo("b.pem")), "sluice env: --bundle-out and --system-roots go with --inspection-ca"),
            (new("sh", "http://p:3128", InspectionCa: caFile, BundleOut: new FileInfo(Path.Combine(_dir, "no-such-folder", "b.pem")), SystemRoots: roots), $"sluice env: cannot write {Path.Combine(_dir, "no-such-folder", "b.pem")}: "),
        };
        foreach ((EnvCommand.EnvRequest request, string error) in cases)
        {
            (int exit, string[] output, string[] errors) = Env(request);
            Assert.True(exit == 2, $"{error}: exit {exit}");
            Assert.Empty(output);
            Assert.StartsWith(error, errors.Single(), StringComparison.Ordinal);
        }
    }
}
