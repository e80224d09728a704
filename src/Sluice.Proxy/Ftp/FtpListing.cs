using System.Globalization;
using System.Text.RegularExpressions;

namespace Sluice.Proxy.Ftp;

/// <summary>One line of a directory listing, as far as it could be read; <see cref="Name"/> null when it could not.</summary>
/// <param name="Modified">As the server wrote it (MLSD's UTC timestamp formatted, LIST's text kept).</param>
/// <param name="Text">The line as received, for a line no format explains.</param>
internal sealed record FtpListingEntry(string? Name, bool IsDirectory, long? Size, string? Modified, string Text);

/// <summary>
/// Reads listing lines: MLSD's machine format (RFC 3659 §7: <c>fact=value;... name</c>), and LIST's, which no RFC
/// defines, best effort: Unix <c>ls -l</c> and DOS/IIS. A line neither explains keeps its text and no name.
/// </summary>
internal static partial class FtpListing
{
    public static FtpListingEntry ParseMachine(string line)
    {
        int space = line.IndexOf(' ');
        if (space <= 0 || space == line.Length - 1)
        {
            return new FtpListingEntry(null, false, null, null, line);
        }

        string name = line[(space + 1)..];
        bool directory = false;
        long? size = null;
        string? modified = null;
        foreach (string fact in line[..space].Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = fact.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            string value = fact[(eq + 1)..];
            switch (fact[..eq].ToLowerInvariant())
            {
                case "type":
                    directory = value.ToLowerInvariant() is "dir" or "cdir" or "pdir";
                    if (value.ToLowerInvariant() is "cdir" or "pdir")
                    {
                        return new FtpListingEntry(null, true, null, null, ""); // the directory itself or its parent
                    }

                    break;
                case "size":
                    size = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : null;
                    break;
                case "modify":
                    modified = DateTime.TryParseExact(value.Split('.')[0], "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime at)
                        ? at.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : null;
                    break;
            }
        }

        return new FtpListingEntry(name, directory, directory ? null : size, modified, line);
    }

    public static FtpListingEntry ParseList(string line)
    {
        if (UnixLine().Match(line) is { Success: true } unix)
        {
            string name = unix.Groups["name"].Value;
            bool link = unix.Groups["type"].Value == "l";
            if (link && name.IndexOf(" -> ", StringComparison.Ordinal) is int arrow and > 0)
            {
                name = name[..arrow];
            }

            bool directory = unix.Groups["type"].Value == "d";
            long? size = long.TryParse(unix.Groups["size"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long s) && !directory ? s : null;
            return new FtpListingEntry(name, directory, size, unix.Groups["date"].Value, line);
        }

        if (DosLine().Match(line) is { Success: true } dos)
        {
            bool directory = dos.Groups["size"].Value.Equals("<DIR>", StringComparison.OrdinalIgnoreCase);
            long? size = long.TryParse(dos.Groups["size"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : null;
            return new FtpListingEntry(dos.Groups["name"].Value, directory, size, $"{dos.Groups["date"].Value} {dos.Groups["time"].Value}", line);
        }

        return new FtpListingEntry(null, false, null, null, line);
    }

    /// <summary>A name a listing may show: not <c>.</c> or <c>..</c> (the page has its own way up), not empty.</summary>
    public static bool IsShown(FtpListingEntry entry) => entry.Name is null ? entry.Text.Length > 0 && !entry.Text.StartsWith("total ", StringComparison.Ordinal) : entry.Name is not ("." or "..");

    // drwxr-xr-x   2 owner group   4096 Jan 01 12:00 name  (owner and group may be numbers; the year replaces the time
    // for old files). The name is everything after the date: it may contain spaces.
    [GeneratedRegex(@"^(?<type>[-dlcbps])[-rwxsStTl]{9}[+@.]?\s+\d+\s+\S+\s+(?:\S+\s+)?(?<size>\d+)\s+(?<date>[A-Za-z]{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4}))\s(?<name>.+)$")]
    private static partial Regex UnixLine();

    // 01-31-24  09:15PM       <DIR>          name, or with a size instead of <DIR>.
    [GeneratedRegex(@"^(?<date>\d{2}-\d{2}-\d{2,4})\s+(?<time>\d{1,2}:\d{2}(?:[AP]M)?)\s+(?<size><DIR>|\d+)\s+(?<name>.+)$", RegexOptions.IgnoreCase)]
    private static partial Regex DosLine();
}
