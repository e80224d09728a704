using Sluice.Policy.Config;
using Sluice.Proxy.Limits;

namespace Sluice.Proxy.Tests.Attacks;

/// <summary>
/// A flood of distinct names, with the table at its bound, never forgets a destination with tunnels open (its count
/// would go, and the limit with it), and the table stays bounded by its size plus the destinations holding tunnels.
/// </summary>
public sealed class Attack2DestinationFloodTests
{
    [Fact]
    public void Attack2_a_flood_of_names_never_frees_a_destination_with_tunnels_open()
    {
        var table = new DestinationLimits();
        var limits = new PerDestinationLimits { Tunnels = 1, RequestsPerSecond = 1000, MaxDestinations = 8 };
        Assert.True(table.TryOpenTunnel("held.test", null, limits, out DestinationLimits.Entry? held));

        for (int round = 0; round < 50; round++)
        {
            for (int i = 0; i < 100; i++)
            {
                table.TryTakeRequest($"n{round}-{i}.test", null, limits, out _);
                Assert.False(table.TryOpenTunnel("held.test", null, limits, out _), "held.test's tunnel was forgotten");
            }

            Assert.True(table.Count <= limits.MaxDestinations + 1, $"{table.Count} destinations tracked");
        }

        Assert.Equal(1, table.TunnelsOpen("held.test", null, DestinationKeyKind.Host));
        DestinationLimits.CloseTunnel(held!);
        Assert.True(table.TryOpenTunnel("held.test", null, limits, out _));
    }
}
