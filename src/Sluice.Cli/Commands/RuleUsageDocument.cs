using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;

namespace Sluice.Cli.Commands;

/// <summary>One rule's figures in <c>/api/rules</c>, or the default's (then <see cref="Name"/> is null and <see cref="Line"/> 0).</summary>
internal sealed record RuleUsageRow(string? Name, string Action, int Line, long Hits, long WouldDeny, DateTimeOffset? LastHit);

/// <summary>
/// The running proxy's <c>/api/rules</c> document, read strictly: the rules in force in their order with their hits,
/// would-denies and last hit since <see cref="Since"/>, and the default's. A document of another shape is refused with
/// what was missing, so a wrong URL is never read as "nothing was hit".
/// </summary>
internal sealed record RuleUsageDocument(DateTimeOffset Since, string Mode, long ConfigGeneration, ImmutableArray<RuleUsageRow> Rules, RuleUsageRow Default)
{
    /// <summary>The rules that decided nothing since the start, in their order.</summary>
    public IEnumerable<RuleUsageRow> NeverHit => Rules.Where(r => r.Hits == 0);

    public static bool TryParse(string text, out RuleUsageDocument? document, out string problem)
    {
        document = null;
        try
        {
            using JsonDocument json = JsonDocument.Parse(text);
            JsonElement root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = $"expected a JSON object, got {root.ValueKind.ToString().ToLowerInvariant()}";
                return false;
            }

            var rules = ImmutableArray.CreateBuilder<RuleUsageRow>();
            foreach (JsonElement rule in Property(root, "rules", JsonValueKind.Array).EnumerateArray())
            {
                rules.Add(Row(rule, String(rule, "name")));
            }

            document = new RuleUsageDocument(Time(root, "since") ?? throw new FormatException("'since' is null"), String(root, "mode"),
                Property(root, "configGeneration", JsonValueKind.Number).GetInt64(), rules.ToImmutable(), Row(Property(root, "default", JsonValueKind.Object), null));
            problem = "";
            return true;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            problem = e.Message;
            return false;
        }
    }

    private static RuleUsageRow Row(JsonElement e, string? name) => new(name, String(e, "action"),
        name is null ? 0 : Property(e, "line", JsonValueKind.Number).GetInt32(),
        Property(e, "hits", JsonValueKind.Number).GetInt64(), Property(e, "wouldDeny", JsonValueKind.Number).GetInt64(), Time(e, "lastHit"));

    private static JsonElement Property(JsonElement e, string name, JsonValueKind kind) =>
        e.TryGetProperty(name, out JsonElement value) && value.ValueKind == kind ? value
            : throw new FormatException($"'{name}' is missing or not {(kind == JsonValueKind.Array ? "an" : "a")} {kind.ToString().ToLowerInvariant()}");

    private static string String(JsonElement e, string name) => Property(e, name, JsonValueKind.String).GetString()!;

    private static DateTimeOffset? Time(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Null ? null
            : DateTimeOffset.Parse(String(e, name), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
