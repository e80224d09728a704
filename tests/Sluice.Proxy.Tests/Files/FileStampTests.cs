using Sluice.Proxy.Files;

namespace Sluice.Proxy.Tests.Files;

/// <summary>
/// A watched file in a Kubernetes Secret mount: <c>ca.crt -> ..data/ca.crt</c>, <c>..data -> ..2026_12_01_1</c>. The
/// kubelet writes a new timestamped folder and swaps <c>..data</c>; the stamp must move although no link changed.
/// </summary>
public sealed class FileStampTests : IDisposable
{
    private readonly string _mount = Directory.CreateTempSubdirectory("sluice-stamp-").FullName;

    public void Dispose() => Directory.Delete(_mount, recursive: true);

    [Fact]
    public void A_secret_mount_update_moves_the_stamp_of_the_file_the_link_names()
    {
        Publish("..2026_12_01_1", "first version");
        File.CreateSymbolicLink(Path.Combine(_mount, "ca.crt"), Path.Combine("..data", "ca.crt"));
        string watched = Path.Combine(_mount, "ca.crt");
        FileStamp before = FileStamp.Of(watched);

        Publish("..2026_12_01_2", "the second, longer version", writtenAt: DateTime.UtcNow.AddMinutes(5));

        Assert.Equal("the second, longer version", File.ReadAllText(watched));
        Assert.NotEqual(before, FileStamp.Of(watched));
    }

    [Fact]
    public void A_missing_file_or_a_dangling_link_has_the_empty_stamp_and_no_file_none_at_all()
    {
        File.CreateSymbolicLink(Path.Combine(_mount, "dangling"), Path.Combine(_mount, "nowhere"));

        Assert.Equal(default, FileStamp.Of(Path.Combine(_mount, "absent")));
        Assert.Equal(default, FileStamp.Of(Path.Combine(_mount, "dangling")));
        Assert.Equal(default, FileStamp.Of(null));
    }

    [Fact]
    public void A_plain_file_rewritten_in_place_moves_the_stamp()
    {
        string file = Path.Combine(_mount, "users.htpasswd");
        File.WriteAllText(file, "alice:x");
        FileStamp before = FileStamp.Of(file);

        File.WriteAllText(file, "alice:y\nbob:z");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));

        Assert.NotEqual(before, FileStamp.Of(file));
    }

    // What the kubelet does: the files in a new folder, then ..data re-pointed at it in one rename.
    private void Publish(string version, string content, DateTime? writtenAt = null)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_mount, version)).FullName;
        string file = Path.Combine(folder, "ca.crt");
        File.WriteAllText(file, content);
        if (writtenAt is { } at)
        {
            File.SetLastWriteTimeUtc(file, at);
        }

        string next = Path.Combine(_mount, "..data_tmp");
        File.CreateSymbolicLink(next, version);
        Assert.Equal(0, rename(next, Path.Combine(_mount, "..data"))); // rename(2) replaces the link itself, as the kubelet does
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int rename([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string oldPath, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string newPath);
}
