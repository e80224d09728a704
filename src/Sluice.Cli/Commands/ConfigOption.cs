using System.CommandLine;
using Sluice.Policy.Config;

namespace Sluice.Cli.Commands;

/// <summary>The <c>--config</c> option, spelled and loaded the same way by every command.</summary>
internal static class ConfigOption
{
    private const string Default = "Without it, the embedded default: 127.0.0.1:3128, public destinations on ports 80 and 443.";

    public static Option<FileInfo?> Create(string what = "Configuration file (YAML).") => new("--config", "-c")
    {
        Description = $"{what} {Default}",
    };

    public static bool TryLoad(FileInfo? file, TextWriter errors, out SluiceConfig config)
    {
        try
        {
            config = file is null ? DefaultConfig.Load() : ConfigLoader.LoadFile(file.FullName);
            return true;
        }
        catch (ConfigException e)
        {
            errors.WriteLine($"sluice: {e.Message}");
            config = null!;
            return false;
        }
    }
}
