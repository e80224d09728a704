using Microsoft.Win32.SafeHandles;

namespace Sluice.Proxy.Listening;

/// <summary>
/// Whether the process is close to its open-file limit, read from descriptor numbers: a new descriptor gets the
/// lowest free number (POSIX), so a socket numbered N means descriptors 0 to N-1 are all open. Accepting stops while
/// fewer than <c>margin</c> numbers are left below the limit, leaving them to the runtime and the open connections
/// (a thread that cannot start, or an assembly that cannot load, brings the whole process down), and resumes once a
/// probe descriptor lands well below the limit again. The limit is read each time: it can be changed from outside,
/// and the margin follows it (a margin sized for the limit at start could leave a lowered one no room to resume in).
/// </summary>
internal sealed class DescriptorPressure(Func<long?> limit)
{
    /// <summary>The numbers kept free below this limit: half its headroom, at most 1024.</summary>
    public static int MarginFor(long limit) => (int)Math.Min(Limits.DescriptorBudget.HeadroomFor(limit) / 2, 1024);

    /// <summary>Whether this new descriptor is within the margin of the limit; the limit when it is.</summary>
    public long? Near(nint descriptor) => limit() is { } now && descriptor >= now - MarginFor(now) ? now : null;

    /// <summary>Opens and closes one descriptor to see where the lowest free number is now.</summary>
    public bool HasEased()
    {
        try
        {
            using SafeFileHandle probe = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
            return limit() is not { } now || probe.DangerousGetHandle() < now - 2L * MarginFor(now);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // none free at all
        }
    }
}
