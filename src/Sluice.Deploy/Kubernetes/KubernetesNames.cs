using System.Text.RegularExpressions;

namespace Sluice.Deploy.Kubernetes;

/// <summary>Kubernetes' rules for namespace names and labels, and the object name a configuration gets.</summary>
public static partial class KubernetesNames
{
    public const string DefaultClientsSelector = "egress.sluice.io/client=true";

    /// <summary>An RFC 1123 label, as namespace names are: lower-case letters, digits and '-', at most 63.</summary>
    public static bool IsDnsLabel(string text) => text.Length is > 0 and <= 63 && DnsLabel().IsMatch(text);

    /// <summary><c>k=v[,k2=v2]</c> as label selectors: keys with an optional DNS prefix, each key once.</summary>
    public static bool TryParseSelector(string text, out Dictionary<string, string> labels, out string problem)
    {
        labels = new Dictionary<string, string>(StringComparer.Ordinal);
        problem = "";
        foreach (string pair in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=');
            string key = eq > 0 ? pair[..eq] : "";
            string value = eq > 0 ? pair[(eq + 1)..] : "";
            if (!LabelKey().IsMatch(key) || key.Split('/')[^1].Length > 63 || !LabelValue().IsMatch(value) || value.Length > 63)
            {
                problem = $"'{pair}' is not a label key=value (e.g. {DefaultClientsSelector})";
                return false;
            }

            if (!labels.TryAdd(key, value))
            {
                problem = $"the label {key} is given twice";
                return false;
            }
        }

        return true;
    }

    /// <summary>The config's name as a Kubernetes object name: lower case, letters, digits and '-'.</summary>
    public static string ResourceName(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        string text = new string(chars).Trim('-');
        if (text.Length > 40)
        {
            text = text[..40].TrimEnd('-');
        }

        return text.Length == 0 || !char.IsAsciiLetter(text[0]) ? "sluice" + (text.Length == 0 ? "" : "-" + text) : text;
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelKey();

    [GeneratedRegex(@"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")]
    private static partial Regex LabelValue();
}
