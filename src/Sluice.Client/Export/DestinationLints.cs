using System.Globalization;

namespace Sluice.Client.Export;

/// <summary>
/// Lints about destinations rather than entries, and the Unicode spelling of internationalised entries, which the
/// formats share: what the runtime matrix found each client doing with them.
/// </summary>
internal static class DestinationLints
{
    /// <summary>
    /// A URL that writes a name with a trailing dot (<c>www.example.com.</c>) names the same host, and Sluice
    /// ignores the dot; the runtimes given compare it as written, so an excluded name still goes through the proxy.
    /// </summary>
    public static void TrailingDot(List<ExportLint> lints, NoProxyList list, string runtimes, params ClientRuntime[] differs)
    {
        if (list.Entries.Any(e => e.Kind is NoProxyKind.Domain or NoProxyKind.SubdomainsOnly))
        {
            lints.Add(new ExportLint(ExportLintSubjects.TrailingDot, $"a URL that writes the name with a trailing dot (www.example.com.) still goes through the proxy in {runtimes}, which compare the name with its dot; write URLs without it") { Differs = differs });
        }
    }

    /// <summary>The Unicode spelling of an internationalised name entry (<c>bücher.example</c> for <c>xn--bcher-kva.example</c>), else null.</summary>
    public static string? Unicode(NoProxyEntry entry)
    {
        if (entry.Kind is not (NoProxyKind.Domain or NoProxyKind.SubdomainsOnly) || !entry.Name.Contains("xn--", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            string unicode = new IdnMapping().GetUnicode(entry.Name);
            return unicode == entry.Name ? null : unicode;
        }
        catch (ArgumentException)
        {
            return null; // an xn-- label that is no valid punycode: the name stands as written
        }
    }
}
