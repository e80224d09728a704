using Sluice.Policy.Names;

namespace Sluice.Policy.Config;

/// <summary>
/// Reads <c>limits.perDestination</c>. <c>key: domain</c> needs libpsl: without it the file is refused here, with the
/// package to install, rather than every request failing later.
/// </summary>
internal static class PerDestinationReader
{
    private const int Most = 10_000_000;

    /// <param name="registrableDomains">Whether registrable domains can be computed (<see cref="RegistrableDomains.Available"/>).</param>
    public static PerDestinationLimits? Read(YamlSection limits, Func<bool> registrableDomains)
    {
        if (limits.Section("perDestination") is not { } section)
        {
            return null;
        }

        var d = new PerDestinationLimits();
        int rate = section.Int("requestsPerSecond", d.RequestsPerSecond, 0, Most);
        if (rate == 0 && section.Get("burst") is { } burst)
        {
            throw section.Error(burst, "limits.perDestination.burst does nothing without requestsPerSecond; set a rate, or remove it");
        }

        var config = new PerDestinationLimits
        {
            RequestsPerSecond = rate,
            Burst = section.Int("burst", d.Burst, 1, Most),
            Tunnels = section.Int("tunnels", d.Tunnels, 0, Most),
            Key = section.Parse("key", d.Key, TryParseKey, "host or domain"),
            MaxDestinations = section.Int("maxDestinations", d.MaxDestinations, 1, Most),
        };
        if (config.Key == DestinationKeyKind.Domain && !registrableDomains())
        {
            throw section.Error(section.Get("key")!, $"limits.perDestination.key: domain {RegistrableDomains.Missing}; or use key: host");
        }

        section.RejectUnknownKeys();
        return config;
    }

    private static bool TryParseKey(string text, out DestinationKeyKind key)
    {
        (bool known, key) = text switch
        {
            "host" => (true, DestinationKeyKind.Host),
            "domain" => (true, DestinationKeyKind.Domain),
            _ => (false, DestinationKeyKind.Host),
        };
        return known;
    }
}
