using System.Globalization;

namespace Sluice.Policy.Config;

/// <summary>Durations as operators write them: <c>250ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>.</summary>
public static class Durations
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        (string unit, double scaleMs) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => ("ms", 1d),
            _ when text.EndsWith('s') => ("s", 1000d),
            _ when text.EndsWith('m') => ("m", 60_000d),
            _ when text.EndsWith('h') => ("h", 3_600_000d),
            _ => ("", 0d),
        };
        if (unit.Length == 0)
        {
            return false;
        }

        string number = text[..^unit.Length];
        // double.TryParse reads "Infinity" and "NaN" whatever the styles, and a long digit string overflows
        // TimeSpan: both must be a refusal, not an exception out of the config loader.
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double amount)
            || !double.IsFinite(amount) || amount <= 0 || amount * scaleMs >= TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(amount * scaleMs);

        // Below one tick ("0.00001ms") rounds to zero, which is not the positive duration that was asked for.
        return value > TimeSpan.Zero;
    }

    public static string Format(TimeSpan value) => value switch
    {
        { TotalHours: >= 1 } when value.TotalHours == Math.Floor(value.TotalHours) => $"{value.TotalHours:0}h",
        { TotalMinutes: >= 1 } when value.TotalMinutes == Math.Floor(value.TotalMinutes) => $"{value.TotalMinutes:0}m",
        { TotalSeconds: >= 1 } when value.TotalSeconds == Math.Floor(value.TotalSeconds) => $"{value.TotalSeconds:0}s",
        _ => $"{value.TotalMilliseconds:0}ms",
    };
}
