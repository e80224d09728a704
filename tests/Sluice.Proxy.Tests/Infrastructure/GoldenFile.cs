using System.Runtime.CompilerServices;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// Reviewed output in the Golden/ folder of the calling test project, compared byte for byte. Set SLUICE_UPDATE_GOLDEN=1 to rewrite the files after an
/// intended change, then review the diff.
/// </summary>
public static class GoldenFile
{
    public static void AssertMatches(string name, string actual, [CallerFilePath] string caller = "")
    {
        string file = Path.Combine(Folder(caller), $"{name}.txt");
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("SLUICE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(file, actual);
            return;
        }

        Assert.True(File.Exists(file), $"golden file {file} is missing; run with SLUICE_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(file), actual);
    }

    // The test project's folder: the nearest one above the calling source file that holds a project file.
    private static string Folder(string caller)
    {
        var folder = new DirectoryInfo(Path.GetDirectoryName(caller)!);
        while (folder.GetFiles("*.csproj").Length == 0)
        {
            folder = folder.Parent ?? throw new InvalidOperationException($"no test project above {caller}");
        }

        return Path.Combine(folder.FullName, "Golden");
    }
}
