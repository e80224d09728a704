using Sluice.Proxy.Memory;

namespace Sluice.Proxy.Tests.Memory;

public class MemoryTrimTests
{
    // The process allocates on every test thread at once, so "quiet" is not something a test can arrange: these tests
    // set the quiet bound out of reach or the busy bound out of reach and check each half of the rule on its own.

    [Fact]
    public async Task A_busy_period_followed_by_a_quiet_interval_is_trimmed()
    {
        using var trimmed = new SemaphoreSlim(0);
        using var trim = new MemoryTrim(TimeSpan.FromMilliseconds(100), () => trimmed.Release(), busyBytes: 1024 * 1024, quietBytes: long.MaxValue);
        Garbage(4 * 1024 * 1024);
        Assert.True(await trimmed.WaitAsync(TimeSpan.FromSeconds(30)), "no trim after a busy period");
    }

    [Fact]
    public async Task Nothing_is_trimmed_without_a_busy_period()
    {
        int trims = 0;
        using (new MemoryTrim(TimeSpan.FromMilliseconds(50), () => Interlocked.Increment(ref trims), busyBytes: long.MaxValue, quietBytes: long.MaxValue))
        {
            Garbage(4 * 1024 * 1024);
            await Task.Delay(500);
        }

        Assert.Equal(0, Volatile.Read(ref trims));
    }

    [Fact]
    public async Task An_interval_that_allocates_more_than_the_quiet_bound_is_not_trimmed()
    {
        int trims = 0;
        using (new MemoryTrim(TimeSpan.FromMilliseconds(50), () => Interlocked.Increment(ref trims), busyBytes: 1, quietBytes: -1))
        {
            Garbage(1024 * 1024);
            await Task.Delay(500);
        }

        Assert.Equal(0, Volatile.Read(ref trims));
    }

    private static void Garbage(int bytes)
    {
        for (int made = 0; made < bytes; made += 4096)
        {
            GC.KeepAlive(new byte[4096]);
        }
    }
}
