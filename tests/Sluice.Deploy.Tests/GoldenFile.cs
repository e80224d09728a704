using System.Runtime.CompilerServices;

namespace Sluice.Deploy.Tests;

/// <summary>
/// Reviewed output in Golden/, compared byte for byte. Set SLUICE_UPDATE_GOLDEN=1 to rewrite the files after an
/// intended change, then review the diff.
/// </summary>
internal static class GoldenFile
{
    public static void AssertMatches(string name, string actual)
    {
        string file = Path.Combine(Folder(), $"{name}.txt");
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("SLUICE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(file, actual);
            return;
        }

        Assert.True(File.Exists(file), $"golden file {file} is missing; run with SLUICE_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(file), actual);
    }

    private static string Folder([CallerFilePath] string self = "") => Path.Combine(Path.GetDirectoryName(self)!, "Golden");
}
