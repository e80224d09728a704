using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("250ms", 250, "milliseconds")]
    [InlineData("30s", 30_000, "seconds")]
    [InlineData("5m", 300_000, "minutes")]
    [InlineData("1h", 3_600_000, "hours")]
    [InlineData("1.5s", 1_500, "decimal seconds")]
    [InlineData("0.5ms", 0.5, "sub-millisecond")]
    [InlineData(".5s", 500, "no digit before the point")]
    [InlineData(" 30s ", 30_000, "surrounding spaces trimmed")]
    [InlineData("90m", 5_400_000, "more than an hour in minutes")]
    [InlineData("48h", 172_800_000, "more than a day in hours")]
    public void Parses(string text, double milliseconds, string why)
    {
        Assert.True(Durations.TryParse(text, out TimeSpan value), $"{why}: '{text}' refused");
        Assert.True(TimeSpan.FromMilliseconds(milliseconds) == value, $"{why}: expected {milliseconds}ms, got {value}");
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("30", "no unit")]
    [InlineData("s", "no number")]
    [InlineData("ms", "no number before ms")]
    [InlineData("0s", "zero is not a timeout")]
    [InlineData("0ms", "zero milliseconds")]
    [InlineData("-1s", "negative")]
    [InlineData("+1s", "signed")]
    [InlineData("1 s", "space before the unit")]
    [InlineData("1e3ms", "exponent")]
    [InlineData("1,5s", "decimal comma")]
    [InlineData("1_000ms", "digit separator")]
    [InlineData("30S", "units are lower-case")]
    [InlineData("5d", "days are not a unit")]
    [InlineData("1h30m", "compound durations are not supported")]
    [InlineData("Infinitys", "infinity is a double, not a duration")]
    [InlineData("NaNms", "NaN is a double, not a duration")]
    [InlineData("99999999999999999999h", "beyond TimeSpan.MaxValue")]
    [InlineData("0.00001ms", "rounds to zero ticks")]
    public void Refuses(string text, string why)
    {
        Assert.False(Durations.TryParse(text, out TimeSpan value), $"{why}: '{text}' accepted as {value}");
    }

    [Theory]
    [InlineData(250, "250ms", "below a second")]
    [InlineData(1_000, "1s", "one second")]
    [InlineData(1_500, "1500ms", "fractional seconds in milliseconds")]
    [InlineData(90_000, "90s", "fractional minutes in seconds")]
    [InlineData(300_000, "5m", "whole minutes")]
    [InlineData(5_400_000, "90m", "fractional hours in minutes")]
    [InlineData(86_400_000, "24h", "a day in hours")]
    [InlineData(0, "0ms", "zero")]
    public void Formats_in_the_largest_whole_unit(double milliseconds, string expected, string why)
    {
        string actual = Durations.Format(TimeSpan.FromMilliseconds(milliseconds));
        Assert.True(expected == actual, $"{why}: expected {expected}, got {actual}");
    }

    [Theory]
    [InlineData("250ms")]
    [InlineData("1500ms")]
    [InlineData("30s")]
    [InlineData("90s")]
    [InlineData("5m")]
    [InlineData("90m")]
    [InlineData("1h")]
    [InlineData("36h")]
    public void Round_trips(string text)
    {
        Assert.True(Durations.TryParse(text, out TimeSpan value));
        Assert.Equal(text, Durations.Format(value));
    }
}
