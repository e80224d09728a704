using Sluice.Policy.Config;

namespace Sluice.Cli.Commands;

/// <summary>The configuration used when no file is given: a YAML file compiled into the executable.</summary>
internal static class DefaultConfig
{
    public static string Yaml()
    {
        using Stream stream = typeof(DefaultConfig).Assembly.GetManifestResourceStream("default.yaml")
            ?? throw new InvalidOperationException("the embedded default configuration is missing from this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static SluiceConfig Load() => ConfigLoader.Parse(Yaml(), "embedded default");
}
