using Microsoft.Win32.SafeHandles;

namespace Sluice.Proxy.Listening;

/// <summary>
/// Whether the process is close to its open-file limit, read from descriptor numbers: a new descriptor gets the
/// lowest free number (POSIX), so a socket numbered N means descriptors 0 to N-1 are all open. Accepting stops while
/// fewer than <c>margin</c> numbers are left below the limit, leaving them to the runtime and the open connections
/// (a thread that cannot start, or an assembly that cannot load, brings the whole process down), and resumes once a
/// probe descriptor lands well below the limit again. The limit can be changed from outside (prlimit), and the margin
/// follows it (a margin sized for the limit at start could leave a lowered one no room to resume in), so it is read
/// again at most a second after the last read, and always before a descriptor is taken for near it: the accept path
/// makes no system call for it, and a lowered limit is in force within a second (until then an accept beyond it fails
/// with EMFILE, which pauses accepting as well).
/// </summary>
internal sealed class DescriptorPressure(Func<long?> limit)
{
    private const long ReadEvery = 1000; // milliseconds
    private const long Unknown = -1;

    // Shared by every listener's accept loop without a lock: each field is one 64-bit word, so a race only means one
    // read more or fewer.
    private long _limit = Unknown;
    private long _readAt = Environment.TickCount64 - ReadEvery; // due at the first accept

    /// <summary>The numbers kept free below this limit: half its headroom, at most 1024.</summary>
    public static int MarginFor(long limit) => (int)Math.Min(Limits.DescriptorBudget.HeadroomFor(limit) / 2, 1024);

    /// <summary>Whether this new descriptor is within the margin of the limit; the limit when it is.</summary>
    public long? Near(nint descriptor)
    {
        long now = Environment.TickCount64;
        long known = _limit;
        if (now - _readAt >= ReadEvery || IsNear(descriptor, known))
        {
            known = Read(now); // fresh before saying yes: a limit raised since the last read counts at once
        }

        return IsNear(descriptor, known) ? known : null;
    }

    /// <summary>Opens and closes one descriptor to see where the lowest free number is now.</summary>
    public bool HasEased()
    {
        try
        {
            using SafeFileHandle probe = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
            long now = Read(Environment.TickCount64);
            return now == Unknown || probe.DangerousGetHandle() < now - 2L * MarginFor(now);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // none free at all
        }
    }

    private long Read(long now)
    {
        long known = limit() ?? Unknown;
        _limit = known;
        _readAt = now;
        return known;
    }

    private static bool IsNear(nint descriptor, long limit) => limit != Unknown && descriptor >= limit - MarginFor(limit);
}
