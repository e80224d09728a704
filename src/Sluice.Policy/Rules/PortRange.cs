using System.Globalization;

namespace Sluice.Policy.Rules;

/// <summary>A port or an inclusive range of ports: <c>443</c>, <c>"1024-65535"</c>.</summary>
public readonly record struct PortRange(int First, int Last)
{
    public bool Contains(int port) => port >= First && port <= Last;

    /// <summary>The same ports as the given ranges, as few ranges as possible, in order (overlapping and adjacent ones joined).</summary>
    public static List<PortRange> Merge(IEnumerable<PortRange> ranges)
    {
        var merged = new List<PortRange>();
        foreach (PortRange range in ranges.OrderBy(r => r.First))
        {
            if (merged.Count > 0 && range.First <= merged[^1].Last + 1)
            {
                merged[^1] = new PortRange(merged[^1].First, Math.Max(merged[^1].Last, range.Last));
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }

    public override string ToString() => First == Last ? First.ToString(CultureInfo.InvariantCulture) : $"{First}-{Last}";

    public static bool TryParse(string text, out PortRange range, out string problem)
    {
        range = default;
        problem = "";
        string[] parts = text.Trim().Split('-');
        if (parts.Length is < 1 or > 2 || !TryPort(parts[0], out int first) || !TryPort(parts[^1], out int last))
        {
            problem = $"'{text}' is not a port (1-65535) or a range such as 1024-65535";
            return false;
        }

        if (first > last)
        {
            problem = $"'{text}' is an empty range: {first} is greater than {last}";
            return false;
        }

        range = new PortRange(first, last);
        return true;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
