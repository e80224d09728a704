using Sluice.Policy.Config;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>
/// Every file a configuration names that the pods read from a Secret (TLS keys, users, upstream credentials and CAs,
/// the inspection CA and its key): not one line of it, nor the folder it is in, is in any rendered document.
/// </summary>
public sealed class SecretsTests
{
    public static TheoryData<string> Folders => new() { "tls-and-users", "upstreams", "inspection" };

    [Theory]
    [MemberData(nameof(Folders))]
    public void No_document_holds_a_line_of_a_file_the_configuration_names(string folder)
    {
        (IDisposable owner, string dir, string path) = folder switch
        {
            "tls-and-users" => Open(new TlsAndUsersConfig()),
            "upstreams" => Open(new UpstreamsConfig()),
            _ => Open(new InspectingConfig()),
        };
        using (owner)
        {
            string yaml = Manifests.Render(path, istio: true);
            Assert.DoesNotContain(dir, yaml, StringComparison.Ordinal);
            Assert.DoesNotContain("PRIVATE KEY", yaml, StringComparison.Ordinal);
            Assert.DoesNotContain("BEGIN CERTIFICATE", yaml, StringComparison.Ordinal);
            string config = Path.GetFullPath(path);
            foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(f => f != config))
            {
                foreach (string line in File.ReadAllLines(file).Where(l => l.Length >= 8 && !l.StartsWith("-----", StringComparison.Ordinal)))
                {
                    Assert.False(yaml.Contains(line, StringComparison.Ordinal), $"the rendering holds a line of {Path.GetFileName(file)}: {line}");
                }
            }
        }
    }

    [Fact]
    public void A_configuration_without_inspection_has_no_inspection_secret()
    {
        string yaml = Manifests.Render(Manifests.ExamplePath("vendor-allowlist"), istio: true);
        Assert.DoesNotContain("inspection", yaml, StringComparison.Ordinal);
        Assert.Null(ConfigLoader.LoadFile(Manifests.ExamplePath("vendor-allowlist")).Inspection);
    }

    private static (IDisposable, string, string) Open(TlsAndUsersConfig f) => (f, f.Dir, f.Path);

    private static (IDisposable, string, string) Open(UpstreamsConfig f) => (f, f.Dir, f.Path);

    private static (IDisposable, string, string) Open(InspectingConfig f) => (f, f.Dir, f.Path);
}
