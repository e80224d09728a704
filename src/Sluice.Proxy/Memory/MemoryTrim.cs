using System.Runtime.InteropServices;

namespace Sluice.Proxy.Memory;

/// <summary>
/// Gives memory back after a busy period. Under load the garbage collector sizes its youngest generation for the
/// allocation rate and keeps what it committed, and the C library keeps the native memory TLS used: a proxy that
/// served a burst would stay at its peak resident size for good, which is what a pod's memory limit counts. Once the
/// proxy has been quiet for a whole interval after allocating a lot, one aggressive collection (which compacts and
/// returns free heap to the system) and <c>malloc_trim</c> bring it back near its size at start. Never during load: a
/// quiet interval allocates almost nothing, and the collection of a small live heap takes milliseconds.
/// </summary>
internal sealed partial class MemoryTrim : IDisposable
{
    /// <summary>Allocated since the last trim before another one is worth it (below this nothing much grew).</summary>
    internal const long BusyBytes = 64L * 1024 * 1024;

    /// <summary>Allocated during one interval for it to still count as quiet.</summary>
    internal const long QuietBytes = 2L * 1024 * 1024;

    private readonly Timer _timer;
    private readonly Action _trimmed;
    private readonly long _busyBytes;
    private readonly long _quietBytes;
    private long _lastTotal = GC.GetTotalAllocatedBytes();
    private long _sinceTrim;
    private int _running;
    private static bool _nativeTrim = OperatingSystem.IsLinux();

    /// <param name="interval">How long the proxy must be quiet before a trim, and how often that is checked.</param>
    /// <param name="trimmed">Called after each trim (the metric).</param>
    public MemoryTrim(TimeSpan interval, Action trimmed, long busyBytes = BusyBytes, long quietBytes = QuietBytes)
    {
        _trimmed = trimmed;
        _busyBytes = busyBytes;
        _quietBytes = quietBytes;
        _timer = new Timer(_ => Check(), null, interval, interval);
    }

    private void Check()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        try
        {
            long total = GC.GetTotalAllocatedBytes();
            long interval = total - _lastTotal;
            _lastTotal = total;
            _sinceTrim += interval;
            if (interval > _quietBytes || _sinceTrim < _busyBytes)
            {
                return;
            }

            _sinceTrim = 0;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            TrimNative();
            _lastTotal = GC.GetTotalAllocatedBytes();
            _trimmed();
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>glibc keeps freed native memory in its arenas; malloc_trim returns what it can. Other C libraries lack it.</summary>
    private static void TrimNative()
    {
        if (!_nativeTrim)
        {
            return;
        }

        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _nativeTrim = false; // musl and others: nothing to call
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    public void Dispose() => _timer.Dispose();
}
