using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Addresses;
using Sluice.Policy.Rules;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>
/// Reads <c>bypass:</c>, the direct destinations clients may reach without the proxy:
/// <c>bypass: [{ name: postgres, cidrs: [10.0.5.0/24], ports: [5432] }]</c>.
/// </summary>
internal static class BypassReader
{
    public static ImmutableArray<BypassConfig> Read(YamlSection top)
    {
        IReadOnlyList<YamlNode> items = top.List("bypass");
        var bypasses = ImmutableArray.CreateBuilder<BypassConfig>(items.Count);
        var names = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            string where = $"bypass[{i}]";
            YamlSection item = top.Item(items[i], i, "bypass");
            string name = item.String("name") ?? throw top.Error(items[i], $"{where}: 'name' is required (what the direct path is for, e.g. postgres)");
            if (!IsName(name))
            {
                throw top.Error(item.Get("name")!, $"{where}: the name '{name}' must be letters, digits, '.', '-' or '_' (at most 63)");
            }

            if (names.TryGetValue(name, out long line))
            {
                throw top.Error(item.Get("name")!, $"{where}: the name '{name}' is already used by the bypass on line {line}");
            }

            ImmutableArray<IPNetwork> cidrs = ReadList(item, items[i], "cidrs", where, "an address range such as 10.0.5.0/24 or 2001:db8::/64 (host bits zero)", "add cidrs: [the destination's address range]",
                (string text, out IPNetwork value, out string problem) =>
                {
                    problem = "";
                    return Networks.TryParse(text, out value);
                },
                n => n.ToString());
            ImmutableArray<PortRange> ports = ReadList(item, items[i], "ports", where, "a port or range such as 5432 or 8000-8100", "list the ports, e.g. ports: [5432]: a bypass never opens every port",
                (string text, out PortRange value, out string problem) => PortRange.TryParse(text, out value, out problem),
                p => p.ToString());
            item.RejectUnknownKeys();
            names[name] = items[i].Start.Line;
            bypasses.Add(new BypassConfig { Name = name, Cidrs = cidrs, Ports = ports, Line = items[i].Start.Line });
        }

        return bypasses.ToImmutable();
    }

    private delegate bool EntryParser<T>(string text, out T value, out string problem);

    private static ImmutableArray<T> ReadList<T>(YamlSection item, YamlNode owner, string key, string where, string expected, string hint, EntryParser<T> parse, Func<T, string> identity)
    {
        YamlNode node = item.Get(key) ?? throw item.Error(owner, $"{where}: '{key}' is required; {hint}");
        IReadOnlyList<YamlNode> entries = item.List(key);
        if (entries.Count == 0)
        {
            throw item.Error(node, $"{where}.{key} is empty; {hint}");
        }

        var values = ImmutableArray.CreateBuilder<T>(entries.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (YamlNode entry in entries)
        {
            if (entry is not YamlScalarNode { Value: { } text } || !parse(text, out T value, out string problem))
            {
                string why = entry is YamlScalarNode { Value: { } t } && !parse(t, out _, out string p) && p.Length > 0 ? p : $"expected {expected}, got {YamlSection.Show(entry)}";
                throw item.Error(entry, $"{where}.{key}: {why}");
            }

            if (!seen.Add(identity(value)))
            {
                throw item.Error(entry, $"{where}.{key}: '{text}' is listed twice");
            }

            values.Add(value);
        }

        return values.ToImmutable();
    }

    private static bool IsName(string text) =>
        text.Length is > 0 and <= 63 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}
