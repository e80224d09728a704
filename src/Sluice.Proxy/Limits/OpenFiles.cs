using System.Runtime.InteropServices;

namespace Sluice.Proxy.Limits;

/// <summary>
/// How many client connections fit in the open-file limit. Every client connection is a descriptor, and a tunnel
/// or forwarded request needs a second one upstream; besides connections the process holds its assemblies, log
/// files, watchers and the runtime's own, and assemblies loaded later need a few more. A process that runs out
/// cannot accept, dial, open a file, or even start a thread, so the connection limit is made to fit.
/// </summary>
internal readonly record struct DescriptorBudget(long Limit, int InUse, long Headroom, int ClientConnections, int Refusals)
{
    /// <param name="limit">The open-file limit in force (the soft one).</param>
    /// <param name="inUse">Descriptors open once the listeners and the admin endpoint are up.</param>
    public static DescriptorBudget For(long limit, int inUse)
    {
        long headroom = HeadroomFor(limit);
        long free = limit - inUse - headroom;
        int clients = (int)Math.Clamp(free / 2, 1, int.MaxValue); // the other half is for the upstream side
        int refusals = (int)Math.Clamp(headroom / 4, 4, 1024); // over-limit connections being answered 503, from the headroom
        return new DescriptorBudget(limit, inUse, headroom, clients, refusals);
    }

    /// <summary>Descriptors kept for files, the runtime and assemblies loaded later: 64, or 1/16 of the limit if more.</summary>
    public static long HeadroomFor(long limit) => Math.Max(64, limit / 16);
}

/// <summary>The process's open-file limit (RLIMIT_NOFILE) and the descriptors it has open, on Linux and macOS.</summary>
internal static partial class OpenFiles
{
    private const ulong Infinity = ulong.MaxValue; // RLIM_INFINITY on Linux and macOS

    /// <summary>Raises the soft limit to the hard one where it is lower. Returns the soft limit now in force, or null where unknown.</summary>
    public static long? RaiseSoftLimit()
    {
        int resource = Resource();
        if (resource < 0)
        {
            return null;
        }

        try
        {
            if (GetRLimit(resource, out RLimit limit) != 0)
            {
                return null;
            }

            if (limit.Soft < limit.Hard)
            {
                var raised = new RLimit { Soft = limit.Hard, Hard = limit.Hard };
                if (SetRLimit(resource, raised) == 0)
                {
                    limit = raised;
                }
            }

            return limit.Soft == Infinity ? long.MaxValue : (long)Math.Min(limit.Soft, long.MaxValue);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The soft limit in force now (another process may have changed it, with prlimit), or null where unknown.</summary>
    public static long? SoftLimit()
    {
        int resource = Resource();
        try
        {
            return resource >= 0 && GetRLimit(resource, out RLimit limit) == 0
                ? (limit.Soft == Infinity ? long.MaxValue : (long)Math.Min(limit.Soft, long.MaxValue))
                : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Descriptors open now (from /proc/self/fd or /dev/fd), or null where the system does not say.</summary>
    public static int? InUse()
    {
        foreach (string folder in (ReadOnlySpan<string>)["/proc/self/fd", "/dev/fd"])
        {
            try
            {
                if (Directory.Exists(folder))
                {
                    return Math.Max(0, Directory.EnumerateFileSystemEntries(folder).Count() - 1); // less the one that lists them
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not readable here: unknown.
            }
        }

        return null;
    }

    private static int Resource() =>
        OperatingSystem.IsLinux() ? 7 : OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 8 : -1; // RLIMIT_NOFILE

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Soft;
        public ulong Hard;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}
