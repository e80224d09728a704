using Microsoft.Win32.SafeHandles;
using Sluice.Proxy.Listening;

namespace Sluice.Proxy.Tests.Listening;

public sealed class DescriptorPressureTests
{
    [Theory]
    [InlineData(256, 32)]
    [InlineData(1024, 32)]
    [InlineData(20_000, 625)]
    [InlineData(1_048_576, 1024)]
    public void The_margin_is_half_the_headroom_of_the_limit_in_force_and_at_most_1024(long limit, int margin) =>
        Assert.Equal(margin, DescriptorPressure.MarginFor(limit));

    [Fact]
    public void A_limit_lowered_far_below_the_one_at_start_pauses_near_it_and_eases_once_descriptors_are_free()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        long limit = 20_000;
        var pressure = new DescriptorPressure(() => limit);
        long lowest;
        using (SafeFileHandle probe = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read))
        {
            lowest = probe.DangerousGetHandle();
        }

        // Room for 300 more: a margin sized for 20,000 (625, eased below limit - 1250) would never ease again.
        limit = lowest + 300;
        Assert.Null(pressure.Near((nint)lowest));
        Assert.Equal(limit, pressure.Near((nint)(limit - 1)));
        Assert.True(pressure.HasEased(), "with 300 descriptors free below the lowered limit, accepting must resume");
    }

    [Fact]
    public void Accepts_far_from_the_limit_read_it_at_most_once_a_second_and_one_near_it_reads_it_again_first()
    {
        long limit = 20_000;
        int reads = 0;
        var pressure = new DescriptorPressure(() => { reads++; return limit; });

        for (int i = 0; i < 1000; i++)
        {
            Assert.Null(pressure.Near(100 + i));
        }

        Assert.Equal(1, reads);

        // Near the limit read a moment ago, but the limit has been raised since: the fresh read lets it through.
        limit = 40_000;
        Assert.Null(pressure.Near(19_900));
        Assert.Equal(2, reads);

        // Lowered from outside: seen once a second has passed since the last read, without any descriptor near the old one.
        limit = 150;
        Thread.Sleep(TimeSpan.FromMilliseconds(1100));
        Assert.Equal(150, pressure.Near(130));
        Assert.Equal(3, reads);
    }

    [Fact]
    public void An_unknown_limit_never_pauses_accepting()
    {
        var pressure = new DescriptorPressure(() => null);

        Assert.Null(pressure.Near(1_000_000));
        Assert.True(OperatingSystem.IsWindows() || pressure.HasEased());
    }
}
