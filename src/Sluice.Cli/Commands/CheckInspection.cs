using Sluice.Policy.Config;
using Sluice.Policy.Rules;
using Sluice.Proxy.Inspection;

namespace Sluice.Cli.Commands;

/// <summary>
/// What <c>sluice check</c> says about <c>tls.inspection</c>: the CA loaded as the proxy loads it (a pair the proxy
/// would refuse is an error), its fingerprint and expiry, and what is never inspected. The key is read, never printed.
/// </summary>
internal static class CheckInspection
{
    private const int WarnDays = 30;

    /// <param name="summary">One line for the output; null when nothing is inspected.</param>
    /// <returns>False when the proxy would refuse the CA pair.</returns>
    public static bool TryLoad(SluiceConfig config, out string? summary, List<string> warnings, TextWriter errors)
    {
        summary = null;
        if (config.Inspection is not { } inspection)
        {
            return true;
        }

        CaDescription ca;
        try
        {
            using var pair = InspectionCa.Load(inspection.Ca, inspection.Key);
            ca = InspectionCa.Describe(pair);
        }
        catch (InvalidOperationException e)
        {
            errors.WriteLine($"sluice: {config.Source}: tls.inspection (line {inspection.Line}): {e.Message}");
            return false;
        }

        if (ca.DaysLeft < WarnDays)
        {
            warnings.Add($"the inspection CA {inspection.Ca} expires in {ca.DaysLeft} days: make a new one (sluice ca init), have clients trust it, then replace the files");
        }

        string[] inspecting = [.. config.Rules.Where(r => r.Tls == TlsMode.Inspect).Select(r => r.Name)];
        string never = inspection.NeverInspect.IsEmpty ? "nothing" : string.Join(", ", inspection.NeverInspect);
        string upstream = inspection.UpstreamCa is { } extra ? $"; origins trusted by the system roots and {extra}" : "; origins trusted by the system roots";
        summary = $"tls inspection: CA {ca.Subject} (SHA256 {ca.Sha256Fingerprint}, expires {ca.NotAfter:yyyy-MM-dd}, in {ca.DaysLeft} days); "
            + $"inspecting rules: {(inspecting.Length == 0 ? "none" : string.Join(", ", inspecting))}; never inspected: {never}{upstream}";
        return true;
    }
}
