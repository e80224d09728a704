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
}
