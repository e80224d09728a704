namespace Sluice.Proxy.Files;

/// <summary>
/// What says a file the proxy watches (a certificate, a key, a users file, a CRL) has changed: the time and length of
/// the file it finally names. A Kubernetes Secret or ConfigMap mount is a link (<c>ca.crt -> ..data/ca.crt</c>) whose
/// update swaps <c>..data</c>; the link's own time never moves, so the link is followed to the file it names now.
/// </summary>
internal readonly record struct FileStamp(DateTime Written, long Length)
{
    /// <summary>The stamp of <paramref name="path"/>; the default stamp for no file, or one that cannot be looked at.</summary>
    public static FileStamp Of(string? path)
    {
        if (path is null)
        {
            return default;
        }

        try
        {
            var file = new FileInfo(path);
            FileSystemInfo target = file.LinkTarget is null ? file : file.ResolveLinkTarget(returnFinalTarget: true) ?? file;
            return target is FileInfo { Exists: true } found ? new FileStamp(found.LastWriteTimeUtc, found.Length) : default;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return default; // a link that points nowhere (mid-swap): looked at again on the next check
        }
    }
}
