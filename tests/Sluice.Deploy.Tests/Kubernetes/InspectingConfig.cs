namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// A configuration that inspects some tunnels, in a folder of its own: the CA pair made by <c>sluice ca init --out
/// inspect</c>, extra origin roots, neverInspect, rules with <c>tls: inspect</c> and <c>paths:</c>. The files hold
/// stand-ins (the loader only checks that they are there); no rendering may contain a line of any of them.
/// </summary>
internal sealed class InspectingConfig : IDisposable
{
    public InspectingConfig()
    {
        Directory.CreateDirectory(System.IO.Path.Combine(Dir, "inspect"));
        File.WriteAllText(System.IO.Path.Combine(Dir, "inspect", "ca.crt"), "-----BEGIN CERTIFICATE-----\nSECRET-INSPECTION-CA-CERTIFICATE\n-----END CERTIFICATE-----\n");
        File.WriteAllText(System.IO.Path.Combine(Dir, "inspect", "ca.key"), "-----BEGIN PRIVATE KEY-----\nSECRET-INSPECTION-CA-KEY\n-----END PRIVATE KEY-----\n");
        File.WriteAllText(System.IO.Path.Combine(Dir, "internal-roots.pem"), "-----BEGIN CERTIFICATE-----\nSECRET-INTERNAL-ROOTS\n-----END CERTIFICATE-----\n");
        File.WriteAllText(Path, """
            name: dev-egress
            listeners:
              - address: 0.0.0.0:3128
            tls:
              inspection:
                ca: inspect/ca.crt
                key: inspect/ca.key
                upstreamCa: internal-roots.pem
                neverInspect: [".bank.example", "health.example.com"]
            rules:
              - name: our-org-on-github
                action: allow
                destinations: ["github.com"]
                tls: inspect
                paths: ["/our-org/*"]
              - name: storage-read
                action: allow
                destinations: ["storage.example.com"]
                tls: inspect
                methods: [GET, HEAD]
              - name: no-admin-pages
                action: deny
                destinations: [".intranet-mirror.example"]
                paths: ["/admin"]
              - name: web
                action: allow
                ports: [443]
            """);
    }

    public string Dir { get; } = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public string Path => System.IO.Path.Combine(Dir, "inspecting.yaml");

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
