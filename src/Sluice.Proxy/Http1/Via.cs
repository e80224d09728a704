namespace Sluice.Proxy.Http1;

/// <summary>The Via field: this proxy's entry, and loop detection by looking for it.</summary>
internal static class Via
{
    public static void Append(HttpFields fields, int minorVersion, string proxyName) => fields.Add("Via", $"1.{minorVersion} {proxyName}");

    /// <summary>True when a Via entry names this proxy as a recipient: the request has been here before.</summary>
    public static bool HasBeenHere(HttpFields fields, string proxyName)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            KeyValuePair<string, string> field = fields[i];
            if (field.Key.Equals("Via", StringComparison.OrdinalIgnoreCase) && NamesRecipient(field.Value, proxyName))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether one of the value's entries (commas inside comments do not separate) has this received-by.</summary>
    private static bool NamesRecipient(ReadOnlySpan<char> value, string proxyName)
    {
        int depth = 0;
        int start = 0;
        for (int i = 0; i <= value.Length; i++)
        {
            char c = i < value.Length ? value[i] : ',';
            if (c == '(')
            {
                depth++;
            }
            else if (c == ')')
            {
                depth = Math.Max(0, depth - 1);
            }
            else if (c == ',' && (depth == 0 || i == value.Length))
            {
                if (ReceivedBy(value[start..i]).Equals(proxyName, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }

                start = i + 1;
            }
        }

        return false;
    }

    /// <summary>The second whitespace-separated word of an entry (<c>1.1 proxy-name (comment)</c>), or empty.</summary>
    private static ReadOnlySpan<char> ReceivedBy(ReadOnlySpan<char> entry)
    {
        entry = entry.TrimStart(" \t");
        int gap = entry.IndexOfAny(' ', '\t');
        if (gap < 0)
        {
            return [];
        }

        entry = entry[gap..].TrimStart(" \t");
        int end = entry.IndexOfAny(' ', '\t');
        return end < 0 ? entry : entry[..end];
    }
}
