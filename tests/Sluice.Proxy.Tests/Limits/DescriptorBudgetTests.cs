using Sluice.Proxy.Limits;

namespace Sluice.Proxy.Tests.Limits;

public sealed class DescriptorBudgetTests
{
    [Theory]
    [InlineData(1024, 185, 387)] // ulimit -n 1024 with the framework-dependent build: (1024 - 185 - 64) / 2
    [InlineData(1024, 12, 474)] // the same limit with a native build, which holds few descriptors
    [InlineData(512, 190, 129)]
    [InlineData(65536, 200, 30620)] // headroom grows with the limit: 65536 / 16 = 4096
    [InlineData(1048576, 200, 491420)] // a typical systemd hard limit: the default 20000 fits
    [InlineData(256, 250, 1)] // nothing left: still one, never zero or negative
    [InlineData(long.MaxValue, 200, int.MaxValue)] // unlimited
    public void Client_connections_get_half_of_what_is_left_after_what_is_open_and_the_headroom(long limit, int inUse, int clients) =>
        Assert.Equal(clients, DescriptorBudget.For(limit, inUse).ClientConnections);

    [Theory]
    [InlineData(256, 16)]
    [InlineData(1024, 16)]
    [InlineData(65536, 1024)]
    public void Refusals_being_answered_are_bounded_from_the_headroom(long limit, int refusals) =>
        Assert.Equal(refusals, DescriptorBudget.For(limit, 0).Refusals);

    [Fact]
    public void The_limit_in_force_and_the_descriptors_open_are_known_on_linux()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        long? limit = OpenFiles.RaiseSoftLimit();
        int? inUse = OpenFiles.InUse();
        Assert.NotNull(limit);
        Assert.NotNull(inUse);
        Assert.InRange(inUse!.Value, 3, limit!.Value); // at least standard input, output and error
        string limits = File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        Assert.Contains($" {limit} ", limits); // the soft limit the process reports
    }
}
