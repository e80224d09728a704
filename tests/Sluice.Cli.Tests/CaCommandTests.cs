using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Sluice.Proxy.Inspection;

namespace Sluice.Cli.Tests;

/// <summary>
/// <c>sluice ca init</c> and <c>sluice ca show</c> as an operator runs them: the built executable as a child process,
/// the files it leaves (modes included) read back by the proxy's loader and by openssl, and its output checked for
/// what it must say and for the one thing it must never say, the private key.
/// </summary>
public sealed class CaCommandTests : IDisposable
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0644 = Mode0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Mode0700 = Mode0600 | UnixFileMode.UserExecute;

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-ca-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Init_writes_the_certificate_0644_and_the_key_0600_in_a_new_0700_folder_and_prints_the_next_steps()
    {
        string dir = Path.Combine(_dir, "new", "inspect");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir, "--org", "Acme");
        Assert.True(exit == 0, $"ca init failed ({exit}): {stderr}");
        string certificate = Path.Combine(dir, "ca.crt");
        string key = Path.Combine(dir, "ca.key");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(Mode0600, File.GetUnixFileMode(key));
            Assert.Equal(Mode0644, File.GetUnixFileMode(certificate));
            Assert.Equal(Mode0700, File.GetUnixFileMode(dir));
        }

        Assert.Equal(["ca.crt", "ca.key"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal)); // no temporary file left
        using X509Certificate2 ca = InspectionCa.Load(certificate, key);
        Assert.Equal("CN=Acme Sluice inspection CA, O=Acme", ca.Subject);
        using (ECDsa? ec = ca.GetECDsaPublicKey())
        {
            Assert.NotNull(ec);
            Assert.Equal(256, ec.KeySize);
        }

        Assert.InRange((ca.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalDays, 729.9, 730.01);
        Assert.Contains($"wrote {certificate}", stdout, StringComparison.Ordinal);
        Assert.Contains($"wrote {key}", stdout, StringComparison.Ordinal);
        Assert.Contains($"fingerprint: SHA256 {await OpensslFingerprintAsync(certificate)}", stdout, StringComparison.Ordinal);
        Assert.Contains($"expires:     {ca.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC (in 729 days)", stdout, StringComparison.Ordinal);
        Assert.Contains($"""
                   tls:
                     inspection:
                       ca: {certificate}
                       key: {key}
            """.ReplaceLineEndings("\n"), stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains($"sluice env --format FORMAT --proxy URL --inspection-ca {certificate}", stdout, StringComparison.Ordinal);
        AssertKeyNotIn(key, stdout, stderr);
    }

    [Fact]
    public async Task Init_refuses_to_overwrite_without_force_and_replaces_both_files_with_it()
    {
        string dir = Path.Combine(_dir, "ca");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir);
        Assert.True(exit == 0, $"ca init failed ({exit}): {stderr}");
        string certificate = Path.Combine(dir, "ca.crt");
        string key = Path.Combine(dir, "ca.key");
        string firstCertificate = File.ReadAllText(certificate);
        string firstKey = File.ReadAllText(key);

        (exit, string stdout, stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir);
        Assert.Equal(2, exit);
        Assert.Contains($"sluice ca init: {certificate} already exists: nothing written. Pass --force to replace both files", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.Equal(firstCertificate, File.ReadAllText(certificate));
        Assert.Equal(firstKey, File.ReadAllText(key));

        File.Delete(certificate); // a key alone is refused just the same
        (exit, _, stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir);
        Assert.Equal(2, exit);
        Assert.Contains($"{key} already exists", stderr, StringComparison.Ordinal);
        Assert.Equal(firstKey, File.ReadAllText(key));

        (exit, stdout, stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir, "--force");
        Assert.True(exit == 0, $"ca init --force failed ({exit}): {stderr}");
        Assert.NotEqual(firstKey, File.ReadAllText(key));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(Mode0600, File.GetUnixFileMode(key));
            Assert.Equal(Mode0644, File.GetUnixFileMode(certificate));
        }

        InspectionCa.Load(certificate, key).Dispose(); // the new pair matches
        Assert.Contains($"fingerprint: SHA256 {await OpensslFingerprintAsync(certificate)}", stdout, StringComparison.Ordinal);
        AssertKeyNotIn(key, stdout, stderr);
    }

    [Fact]
    public async Task Init_with_rsa_makes_an_rsa_3072_ca()
    {
        string dir = Path.Combine(_dir, "rsa");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir, "--rsa", "--days", "90");
        Assert.True(exit == 0, $"ca init --rsa failed ({exit}): {stderr}");
        using X509Certificate2 ca = InspectionCa.Load(Path.Combine(dir, "ca.crt"), Path.Combine(dir, "ca.key"));
        using (RSA? rsa = ca.GetRSAPublicKey())
        {
            Assert.NotNull(rsa);
            Assert.Equal(3072, rsa.KeySize);
        }

        Assert.Equal("1.2.840.113549.1.1.11", ca.SignatureAlgorithm.Value); // sha256WithRSAEncryption
        Assert.Contains("key:         RSA 3072", stdout, StringComparison.Ordinal);
        Assert.Contains("(in 89 days)", stdout, StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(Path.Combine(dir, "ca.key")), StringComparison.Ordinal);
        AssertKeyNotIn(Path.Combine(dir, "ca.key"), stdout, stderr);
    }

    [Theory]
    [InlineData("--days", "0", "sluice ca init: the validity must be between 1 and 7305 days (20 years); 0 days is not")]
    [InlineData("--days", "7306", "7306 days is not")]
    [InlineData("--days", "2147483647", "sluice ca init: --days 2147483647 is far beyond the 20 years a CA may last")]
    [InlineData("--org", "", "sluice ca init: the organization is empty")]
    [InlineData("--org", "Acme\nEvil", "sluice ca init: the organization holds a control character")]
    public async Task Init_refuses_bad_options_as_usage_errors_and_writes_nothing(string option, string value, string message)
    {
        string dir = Path.Combine(_dir, "refused");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir, option, value);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public async Task Show_prints_the_fingerprint_and_expiry_as_text_and_as_json()
    {
        string dir = Path.Combine(_dir, "show");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir, "--org", "Acme", "--days", "365");
        Assert.True(exit == 0, $"ca init failed ({exit}): {stderr}");
        string certificate = Path.Combine(dir, "ca.crt");
        string key = Path.Combine(dir, "ca.key");
        string fingerprint = await OpensslFingerprintAsync(certificate);
        using X509Certificate2 ca = X509CertificateLoader.LoadCertificateFromFile(certificate);
        DateTime notAfter = ca.NotAfter.ToUniversalTime();

        (exit, string stdout, stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", certificate);
        Assert.True(exit == 0, $"ca show failed ({exit}): {stderr}");
        Assert.Equal("", stderr);
        string[] lines = stdout.Split('\n');
        Assert.Equal(certificate, lines[0]);
        Assert.Contains("subject:     CN=Acme Sluice inspection CA, O=Acme", lines);
        Assert.Contains($"fingerprint: SHA256 {fingerprint}", lines);
        Assert.Contains($"expires:     {notAfter:yyyy-MM-dd HH:mm:ss} UTC (in 364 days)", lines);
        Assert.Contains("key:         ECDSA P-256", lines);
        Assert.Contains($"serial:      {ca.SerialNumber}", lines);
        Assert.Contains("CA:          yes, pathlen 0, may sign certificates (keyCertSign)", lines);
        AssertKeyNotIn(key, stdout, stderr);

        (exit, stdout, stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", certificate, "--json");
        Assert.True(exit == 0, $"ca show --json failed ({exit}): {stderr}");
        JsonElement json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(certificate, json.GetProperty("file").GetString());
        Assert.Equal(fingerprint, json.GetProperty("sha256Fingerprint").GetString());
        Assert.Equal($"{notAfter:yyyy-MM-dd'T'HH:mm:ss'Z'}", json.GetProperty("notAfter").GetString());
        Assert.Equal(364, json.GetProperty("daysLeft").GetInt32());
        Assert.Equal("ECDSA P-256", json.GetProperty("keyAlgorithm").GetString());
        Assert.Equal(256, json.GetProperty("keyBits").GetInt32());
        Assert.True(json.GetProperty("ca").GetBoolean());
        Assert.Equal(0, json.GetProperty("pathLength").GetInt32());
        Assert.True(json.GetProperty("usable").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("problem").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("warning").ValueKind);
        AssertKeyNotIn(key, stdout, stderr);
    }

    [Fact]
    public async Task Show_reads_the_ca_a_configuration_names_and_refuses_a_pair_whose_key_is_another_cas()
    {
        string dir = Path.Combine(_dir, "config");
        string other = Path.Combine(_dir, "config-other");
        Assert.Equal(0, (await SluiceProcess.RunAsync("ca", "init", "--out", dir)).Exit);
        Assert.Equal(0, (await SluiceProcess.RunAsync("ca", "init", "--out", other)).Exit);
        string config = Path.Combine(_dir, "sluice.yaml");
        File.WriteAllText(config, $"tls:\n  inspection: {{ ca: {dir}/ca.crt, key: {dir}/ca.key }}\nrules:\n  - {{ name: gh, action: allow, destinations: [github.com], tls: inspect }}\n");

        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("ca", "show", "--config", config);
        Assert.True(exit == 0, $"ca show --config failed ({exit}): {stderr}");
        Assert.Contains($"fingerprint: SHA256 {await OpensslFingerprintAsync(Path.Combine(dir, "ca.crt"))}", stdout);
        AssertKeyNotIn(Path.Combine(dir, "ca.key"), stdout, stderr);

        File.WriteAllText(config, $"tls:\n  inspection: {{ ca: {dir}/ca.crt, key: {other}/ca.key }}\n");
        (exit, stdout, stderr) = await SluiceProcess.RunAsync("ca", "show", "--config", config);
        Assert.Equal(1, exit);
        Assert.Contains("the proxy would refuse this pair", stderr);
        AssertKeyNotIn(Path.Combine(other, "ca.key"), stdout, stderr);

        (exit, _, stderr) = await SluiceProcess.RunAsync("ca", "show", "--config", config, "--ca", Path.Combine(dir, "ca.crt"));
        Assert.Equal(2, exit);
        Assert.Contains("exactly one of --ca FILE or --config FILE", stderr);
    }

    [Fact]
    public async Task Show_warns_on_stderr_and_exits_0_when_the_ca_expires_within_30_days()
    {
        string dir = Path.Combine(_dir, "soon");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir, "--days", "10");
        Assert.True(exit == 0, $"ca init failed ({exit}): {stderr}");
        string certificate = Path.Combine(dir, "ca.crt");

        (exit, string stdout, stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", certificate);
        Assert.Equal(0, exit);
        Assert.Contains($"sluice ca show: warning: {certificate} expires in 9 days (", stderr, StringComparison.Ordinal);
        Assert.Contains("fingerprint: SHA256 ", stdout, StringComparison.Ordinal);

        (exit, stdout, _) = await SluiceProcess.RunAsync("ca", "show", "--ca", certificate, "--json");
        Assert.Equal(0, exit);
        Assert.StartsWith("expires in 9 days", JsonDocument.Parse(stdout).RootElement.GetProperty("warning").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_exits_1_on_an_expired_ca_and_on_a_certificate_that_is_not_a_ca()
    {
        string expired = WriteSelfSigned("expired", ca: true, DateTimeOffset.UtcNow.AddDays(-400), DateTimeOffset.UtcNow.AddDays(-35));
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", expired);
        Assert.Equal(1, exit);
        Assert.Contains($"sluice ca show: {expired}: expired on ", stderr, StringComparison.Ordinal);
        Assert.Contains("(35 days ago)", stdout, StringComparison.Ordinal);

        (exit, stdout, _) = await SluiceProcess.RunAsync("ca", "show", "--ca", expired, "--json");
        Assert.Equal(1, exit);
        JsonElement json = JsonDocument.Parse(stdout).RootElement;
        Assert.False(json.GetProperty("usable").GetBoolean());
        Assert.StartsWith("expired on ", json.GetProperty("problem").GetString(), StringComparison.Ordinal);
        Assert.True(json.GetProperty("daysLeft").GetInt32() < 0);

        string leaf = WriteSelfSigned("leaf", ca: false, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(300));
        (exit, stdout, stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", leaf);
        Assert.Equal(1, exit);
        Assert.Contains($"sluice ca show: {leaf}: not a CA (no basicConstraints CA:TRUE): the proxy refuses it", stderr, StringComparison.Ordinal);
        Assert.Contains("CA:          no, may not sign certificates (no keyCertSign)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_exits_2_on_a_file_that_holds_no_single_certificate()
    {
        string empty = Path.Combine(_dir, "empty.crt");
        File.WriteAllText(empty, "");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", empty);
        Assert.Equal(2, exit);
        Assert.Contains($"sluice ca show: {empty}: the file is empty", stderr, StringComparison.Ordinal);

        string missing = Path.Combine(_dir, "missing.crt");
        (exit, _, stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", missing);
        Assert.Equal(2, exit);
        Assert.Contains($"sluice ca show: {missing}: no such file", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await SluiceProcess.RunAsync("ca", "show");
        Assert.Equal(2, exit);
        Assert.Contains("--ca", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_given_the_key_file_by_mistake_names_the_mistake_and_never_prints_the_key()
    {
        string dir = Path.Combine(_dir, "mistake");
        (int exit, _, string stderr) = await SluiceProcess.RunAsync("ca", "init", "--out", dir);
        Assert.True(exit == 0, $"ca init failed ({exit}): {stderr}");
        string key = Path.Combine(dir, "ca.key");

        (exit, string stdout, stderr) = await SluiceProcess.RunAsync("ca", "show", "--ca", key, "--json");
        Assert.Equal(2, exit);
        Assert.Contains($"{key}: holds a private key, not a certificate: is it the key file?", stderr, StringComparison.Ordinal);
        AssertKeyNotIn(key, stdout, stderr);
    }

    /// <summary>Neither the PEM label nor any line of the key's base64 appears in what the command printed.</summary>
    private static void AssertKeyNotIn(string keyPath, string stdout, string stderr)
    {
        string printed = stdout + "\n" + stderr;
        Assert.DoesNotContain("PRIVATE KEY-----", printed, StringComparison.Ordinal);
        foreach (string line in File.ReadAllLines(keyPath).Where(l => !l.StartsWith("-----", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(line, printed, StringComparison.Ordinal);
        }
    }

    private string WriteSelfSigned(string name, bool ca, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, ca, 0, true));
        if (ca)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        }

        using X509Certificate2 certificate = request.CreateSelfSigned(notBefore, notAfter);
        string path = Path.Combine(_dir, $"{name}.crt");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    /// <summary>What <c>openssl x509 -noout -fingerprint -sha256</c> prints after the <c>=</c>.</summary>
    private static async Task<string> OpensslFingerprintAsync(string certificate)
    {
        var info = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])["x509", "-in", certificate, "-noout", "-fingerprint", "-sha256"])
        {
            info.ArgumentList.Add(arg);
        }

        using Process openssl = Process.Start(info) ?? throw new InvalidOperationException("openssl did not start");
        string output = await openssl.StandardOutput.ReadToEndAsync();
        await openssl.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(openssl.ExitCode == 0, $"openssl x509 failed: {await openssl.StandardError.ReadToEndAsync()}");
        return output.Trim().Split('=')[1];
    }
}
