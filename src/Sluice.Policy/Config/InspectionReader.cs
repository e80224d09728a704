using System.Collections.Immutable;
using Sluice.Policy.Rules;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>Reads the top-level <c>tls:</c> section: <c>tls.inspection</c>, the CA inspected tunnels are signed with.</summary>
internal static class InspectionReader
{
    public static InspectionConfig? Read(YamlSection top)
    {
        if (top.Section("tls") is not { } tls)
        {
            return null;
        }

        YamlNode node = top.Get("tls")!;
        YamlSection? inspection = tls.Section("inspection");
        tls.RejectUnknownKeys();
        if (inspection is null)
        {
            return null;
        }

        YamlNode at = tls.Get("inspection")!;
        const string where = "tls.inspection";
        string ca = TlsReader.RequiredFile(inspection, at, where, "ca", top.BaseDirectory);
        string key = TlsReader.RequiredFile(inspection, at, where, "key", top.BaseDirectory);
        string? upstreamCa = TlsReader.OptionalFile(inspection, "upstreamCa", where, top.BaseDirectory);
        ImmutableArray<DestinationPattern> never = ReadNeverInspect(inspection, where);
        inspection.RejectUnknownKeys();
        return new InspectionConfig { Ca = ca, Key = key, UpstreamCa = upstreamCa, NeverInspect = never, Line = node.Start.Line };
    }

    // "never-inspect" is the spelling of the first design sketch; the file uses camelCase everywhere else.
    private static ImmutableArray<DestinationPattern> ReadNeverInspect(YamlSection inspection, string where)
    {
        bool camel = inspection.Get("neverInspect") is not null;
        bool dashed = inspection.Get("never-inspect") is not null;
        if (camel && dashed)
        {
            throw inspection.Error(inspection.Get("never-inspect")!, $"{where}: give neverInspect once (never-inspect is the same key)");
        }

        string key = dashed ? "never-inspect" : "neverInspect";
        if (!camel && !dashed)
        {
            return [];
        }

        var patterns = ImmutableArray.CreateBuilder<DestinationPattern>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (YamlNode entry in inspection.List(key))
        {
            if (entry is not YamlScalarNode { Value: { } text })
            {
                throw inspection.Error(entry, $"{where}.{key}: expected a destination such as .bank.example, got {YamlSection.Show(entry)}");
            }

            if (!DestinationPattern.TryParse(text, out DestinationPattern pattern, out string problem))
            {
                throw inspection.Error(entry, $"{where}.{key}: {problem}");
            }

            // By meaning, as in rules: ".bank.example" and ".Bank.Example." are one entry.
            string meaning = $"{pattern.Kind} {pattern.Name} {pattern.Network} {pattern.Port}";
            if (!seen.TryAdd(meaning, text))
            {
                string first = seen[meaning];
                throw inspection.Error(entry, first == text
                    ? $"{where}.{key}: '{text}' is listed twice"
                    : $"{where}.{key}: '{text}' is listed twice (the same as '{first}')");
            }

            patterns.Add(pattern);
        }

        return patterns.ToImmutable();
    }
}
