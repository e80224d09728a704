using System.Globalization;
using System.Text.Json;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Proxy.Admin;

/// <summary>
/// <c>/api/rules</c>: the rules in force in their order, each with its action, line and figures since the start, then
/// the default's. What <c>sluice check --usage</c> reads to list the rules never hit.
/// </summary>
internal static class RuleUsageJson
{
    public static void Write(Utf8JsonWriter json, SluiceConfig config, RuleUsage usage, long generation)
    {
        json.WriteStartObject();
        json.WriteString("since", Time(usage.Since));
        json.WriteString("mode", config.Mode == PolicyMode.Report ? "report" : "enforce");
        json.WriteNumber("configGeneration", generation);
        json.WriteStartArray("rules");
        foreach (Rule rule in config.Rules)
        {
            json.WriteStartObject();
            json.WriteString("name", rule.Name);
            json.WriteString("action", Action(rule.Action));
            json.WriteNumber("line", rule.Line);
            WriteHits(json, usage.For(rule.Name));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("default");
        json.WriteString("action", Action(config.Default));
        WriteHits(json, usage.ForDefault());
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteHits(Utf8JsonWriter json, RuleHits hits)
    {
        json.WriteNumber("hits", hits.Hits);
        json.WriteNumber("wouldDeny", hits.WouldDeny);
        if (hits.LastHit is { } last)
        {
            json.WriteString("lastHit", Time(last));
        }
        else
        {
            json.WriteNull("lastHit");
        }
    }

    private static string Action(RuleAction action) => action switch
    {
        RuleAction.Allow => "allow",
        RuleAction.Report => "report",
        _ => "deny",
    };

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
