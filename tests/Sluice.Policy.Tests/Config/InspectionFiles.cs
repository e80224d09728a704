using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

/// <summary>
/// A folder holding a configuration's CA, key and extra roots (the reader checks that they exist, not what they hold;
/// the proxy loads them), with the configuration parsed as if it were a file beside them.
/// </summary>
internal sealed class InspectionFiles : IDisposable
{
    /// <summary>Five lines: tls (1), inspection (2), ca (3), key (4), neverInspect (5). Rules start on line 6.</summary>
    public const string Header = "tls:\n  inspection:\n    ca: ca.pem\n    key: key.pem\n    neverInspect: [.bank.example]\n";

    public InspectionFiles()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("sluice-inspection-").FullName;
        foreach (string name in new[] { "ca.pem", "key.pem", "extra-roots.pem" })
        {
            File.WriteAllText(Path.Combine(Directory, name), "-----BEGIN PLACEHOLDER-----\n");
        }
    }

    public string Directory { get; }

    public string ConfigPath => Path.Combine(Directory, "sluice.yaml");

    public string PathOf(string name) => Path.Combine(Directory, name);

    public SluiceConfig Parse(string yaml) => ConfigLoader.Parse(yaml, ConfigPath);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
