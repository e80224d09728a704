using System.Security.Cryptography;

namespace Sluice.Proxy.Reload;

/// <summary>One version of a file: its bytes, and what tells versions apart (length, modification time, hash).</summary>
internal sealed record FileVersion(long Length, DateTime Modified, byte[] Bytes, byte[] Hash)
{
    public bool SameAs(FileVersion other) =>
        Length == other.Length && Modified == other.Modified && Hash.AsSpan().SequenceEqual(other.Hash);
}

/// <summary>What <see cref="StableFile.ReadAsync"/> found.</summary>
internal enum SettleOutcome
{
    /// <summary>Two reads a settle apart agreed.</summary>
    Stable,

    /// <summary>The file could not be read, twice in a row.</summary>
    Unreadable,

    /// <summary>It was different on every read: someone is still writing it.</summary>
    StillChanging,
}

/// <summary>
/// Reads a file only once it has stopped changing: an editor, <c>cp</c> or a deployment tool may be halfway
/// through writing it when its change is noticed (or when SIGHUP arrives), and half a config file can be a valid
/// config file that says something else.
/// </summary>
internal static class StableFile
{
    /// <summary>Reads until two reads <paramref name="settle"/> apart agree, at most <paramref name="attempts"/> reads.</summary>
    public static async Task<(SettleOutcome Outcome, FileVersion? Version)> ReadAsync(Func<FileVersion?> read, Func<Task> settle, int attempts)
    {
        FileVersion? previous = read();
        for (int i = 1; i < attempts; i++)
        {
            await settle().ConfigureAwait(false);
            FileVersion? current = read();
            if (current is null && previous is null)
            {
                return (SettleOutcome.Unreadable, null);
            }

            if (current is not null && previous is not null && current.SameAs(previous))
            {
                return (SettleOutcome.Stable, current);
            }

            previous = current;
        }

        return (SettleOutcome.StillChanging, previous);
    }

    /// <summary>The file as it is now, or null when it cannot be read (missing, being replaced, no permission).</summary>
    public static FileVersion? TryRead(string path)
    {
        try
        {
            var info = new FileInfo(path);
            byte[] bytes = File.ReadAllBytes(path);
            info.Refresh();
            return new FileVersion(info.Length, info.LastWriteTimeUtc, bytes, SHA256.HashData(bytes));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
