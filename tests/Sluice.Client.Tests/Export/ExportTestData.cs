using Sluice.Client.Export;

namespace Sluice.Client.Tests.Export;

internal static class ExportTestData
{
    public const string Password = "s3cr3t!pw";

    /// <summary>A representative request: credentials, a name, a subdomains-only wildcard, a CIDR, a host:port.</summary>
    public static ExportRequest Representative(string? ca = null) => new(
        ProxySettings.FromUrl($"http://etl:{Password}@proxy.test:3128", NoProxyList.Parse("localhost,*.corp.example,10.0.0.0/8,db.internal:5432")),
        ca);

    public static ExportRequest With(string excluded, string url = "http://proxy.test:3128", string? ca = null) =>
        new(ProxySettings.FromUrl(url, NoProxyList.Parse(excluded)), ca);

    public static string[] Lints(ExportResult result) => result.Lints.Select(l => l.ToString()).ToArray();

    /// <summary>
    /// A translated excluded list: exactly these entries, and either no lint about an entry (lints about kinds of
    /// destination, such as trailing dots, may be there) or one that says <paramref name="lint"/>.
    /// </summary>
    public static void AssertTranslation(NoProxyTranslation translation, string separator, string written, string? lint)
    {
        Assert.Equal(written, translation.Join(separator));
        if (lint is null)
        {
            Assert.DoesNotContain(translation.Lints, l => l.Subject is not (ExportLintSubjects.TrailingDot or ExportLintSubjects.Loopback));
        }
        else
        {
            Assert.Contains(translation.Lints, l => l.Message.Contains(lint, StringComparison.Ordinal));
        }
    }
}
