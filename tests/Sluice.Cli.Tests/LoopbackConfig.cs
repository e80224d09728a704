namespace Sluice.Cli.Tests;

/// <summary>
/// The config file most executable tests start from: one listener on 127.0.0.1, the admin endpoint on 127.0.0.1 (or
/// off), the loopback range origins live in allowed through the guard (or not), access log off; then the test's own
/// lines (a default, timeouts, limits).
/// </summary>
internal static class LoopbackConfig
{
    public static string[] Lines(int proxyPort, int? adminPort, string? allow, params string[] more) =>
    [
        "listeners:",
        $"  - address: 127.0.0.1:{proxyPort}",
        .. adminPort is { } admin ? ["admin:", $"  address: 127.0.0.1:{admin}"] : new[] { "admin: off" },
        .. allow is null ? [] : new[] { "addresses:", $"  allow: [{allow}]" },
        "log:",
        "  access: off",
        .. more,
    ];
}
