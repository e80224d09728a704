using Sluice.Client.Export;

namespace Sluice.Cli.Tests.EnvMatrix;

/// <summary>One excluded list and the destinations that tell whether a runtime reads it as Sluice does.</summary>
/// <param name="Id">Short, stable: the doc table's column.</param>
/// <param name="Entries">As a user passes it to <c>--no-proxy</c>.</param>
/// <param name="Destinations"><c>host:port</c> as a URL writes it (IPv6 in brackets, IDNs in Unicode).</param>
/// <param name="DestinationLint">For a case about the destination rather than the entry (a trailing dot, loopback):
/// the subject of the lint that may name what a runtime does with such destinations.</param>
internal sealed record MatrixCase(string Id, string Entries, IReadOnlyList<string> Destinations, string? DestinationLint = null)
{
    /// <summary>The subjects a lint may have to explain this case: its entries, or the kind of destination.</summary>
    public bool Explains(string subject) =>
        Entries.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).Contains(subject) || subject == DestinationLint || ExportLintSubjects.EveryDestination.Contains(subject);
}

/// <summary>
/// The excluded-list cases of the matrix, and the names and addresses the namespace gives their destinations. Names
/// resolve to 10.7.0.x, outside every address entry, so a name is never excluded by an address entry by accident.
/// </summary>
internal static class MatrixCases
{
    public const int Port = 8080;

    public const int OtherPort = 8081;

    public static IReadOnlyList<MatrixCase> All { get; } =
    [
        new("name", "example.test", ["example.test:8080", "www.example.test:8080", "a.www.example.test:8080", "badexample.test:8080"]),
        new(".name", ".example.test", ["example.test:8080", "www.example.test:8080"]),
        new("*.name", "*.example.test", ["example.test:8080", "www.example.test:8080"]),
        new("*", "*", ["example.test:8080", "10.1.2.3:8080"]),
        new("IPv4", "10.1.2.3", ["10.1.2.3:8080", "10.1.2.4:8080"]),
        new("IPv4 CIDR", "10.1.2.0/24", ["10.1.2.3:8080", "10.1.3.1:8080"]),
        new("IPv6", "fd00::5", ["[fd00::5]:8080", "[fd00::6]:8080"]),
        new("IPv6 CIDR", "fd00::/64", ["[fd00::5]:8080", "[fd00:0:0:1::5]:8080"]),
        new("name:port", "example.test:8080", ["example.test:8080", "example.test:8081"]),
        new("IPv4:port", "10.1.2.3:8080", ["10.1.2.3:8080", "10.1.2.3:8081"]),
        new("[IPv6]:port", "[fd00::5]:8080", ["[fd00::5]:8080", "[fd00::5]:8081"]),
        new("name.", "example.test.", ["example.test:8080", "www.example.test:8080"]),
        new("dest.", "www.example.test", ["www.example.test.:8080"], ExportLintSubjects.TrailingDot),
        new("IDN", "bücher.test", ["bücher.test:8080", "xn--bcher-kva.test:8080"]),
        new("whitespace", "example.test other.test", ["example.test:8080", "other.test:8080"]),
        new("IPv6 zone", "fe80::%en0/10", ["other.test:8080"]),
        new("localhost", "localhost", ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"], ExportLintSubjects.Loopback),
        new("loopback unlisted", "other.test", ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"], ExportLintSubjects.Loopback),
    ];

    /// <summary>The namespace's /etc/hosts: each name, and its trailing-dot spelling, to its own address.</summary>
    public static IReadOnlyList<(string Address, string Name)> Names { get; } =
    [
        ("10.7.0.1", "example.test"),
        ("10.7.0.2", "www.example.test"),
        ("10.7.0.3", "badexample.test"),
        ("10.7.0.4", "other.test"),
        ("10.7.0.5", "xn--bcher-kva.test"),
        ("10.7.0.6", "a.www.example.test"),
    ];
}
