namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// A configuration with two upstreams in a folder of its own: corp (parents by name, the user from the environment,
/// the password from a file, a CA) and vendor (parents by address, a literal user, the password from the
/// environment). Every secret value it can reach is one of <see cref="SecretValues"/>, which no rendering may contain.
/// </summary>
internal sealed class UpstreamsConfig : IDisposable
{
    public const string UserVariable = "SLUICE_K8S_TEST_CORP_PROXY_USER";
    public const string PasswordVariable = "SLUICE_K8S_TEST_VENDOR_PROXY_PASSWORD";

    public UpstreamsConfig()
    {
        File.WriteAllText(System.IO.Path.Combine(Dir, "corp.pass"), "SECRET-CORP-PASSWORD\n");
        File.WriteAllText(System.IO.Path.Combine(Dir, "corp-ca.pem"), CaPem);
        Environment.SetEnvironmentVariable(UserVariable, "SECRET-CORP-USER");
        Environment.SetEnvironmentVariable(PasswordVariable, "SECRET-VENDOR-PASSWORD");
        File.WriteAllText(Path, $$"""
            name: branch-egress
            listeners:
              - address: 0.0.0.0:3128
            upstreams:
              - name: corp
                proxies: ["http://proxy-a.corp.example:3128", "https://proxy-b.corp.example:3129"]
                credentials: { userEnv: {{UserVariable}}, passwordFile: corp.pass }
                ca: corp-ca.pem
              - name: vendor
                proxies: ["http://198.51.100.7:8080", "http://[2001:db8::7]:8080", "http://198.51.100.7:8081"]
                balance: round-robin
                credentials: { user: svc-branch, passwordEnv: {{PasswordVariable}} }
            rules:
              - { name: vendor-api, action: allow, destinations: [".vendor.example"], ports: [443], via: vendor }
              - { name: updates, action: allow, destinations: [".debian.org"], ports: [80], via: direct }
              - { name: web, action: allow, ports: [443] }
            route: { default: corp }
            """);
    }

    // A real certificate (the loader parses the CA), made here; only its public part is written. Its body stands for
    // file contents no rendering may copy.
    private static readonly string CaPem = SelfSignedPem();

    public static string[] SecretValues => ["SECRET-CORP-PASSWORD", CaPem.Split('\n')[1], "SECRET-CORP-USER", "SECRET-VENDOR-PASSWORD"];

    internal static string SelfSignedPem()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=corp proxy test CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using System.Security.Cryptography.X509Certificates.X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return certificate.ExportCertificatePem() + "\n";
    }

    public string Dir { get; } = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public string Path => System.IO.Path.Combine(Dir, "upstreams.yaml");

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
