namespace Sluice.Proxy.Http1;

/// <summary>The Via field: this proxy's entry, and loop detection by looking for it.</summary>
internal static class Via
{
    public static void Append(HttpFields fields, int minorVersion, string proxyName) => fields.Add("Via", $"1.{minorVersion} {proxyName}");

    /// <summary>True when a Via entry names this proxy as a recipient: the request has been here before.</summary>
    public static bool HasBeenHere(HttpFields fields, string proxyName)
    {
        foreach (string value in fields.All("Via"))
        {
            foreach (string entry in SplitOutsideComments(value))
            {
                string[] parts = entry.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[1].Equals(proxyName, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static IEnumerable<string> SplitOutsideComments(string value)
    {
        int depth = 0;
        int start = 0;
        for (int i = 0; i < value.Length; i++)
        {
            switch (value[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth = Math.Max(0, depth - 1);
                    break;
                case ',' when depth == 0:
                    yield return value[start..i].Trim();
                    start = i + 1;
                    break;
            }
        }

        yield return value[start..].Trim();
    }
}
