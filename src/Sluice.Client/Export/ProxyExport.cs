namespace Sluice.Client.Export;

/// <summary>What to export: the proxy (with its excluded list) and, optionally, the path of a PEM file of the HTTPS
/// proxy's CA that runtimes should trust, and what they need to trust a TLS-inspecting proxy's CA for origins.</summary>
public sealed record ExportRequest(ProxySettings Proxy, string? CaFile = null)
{
    /// <summary>The CA file runtimes are told to trust: the one given, else the one the settings were read from.</summary>
    public string? CaFile { get; init; } = CaFile ?? Proxy.CaFile;

    /// <summary>The inspecting proxy's CA and the bundle built with it (<c>--inspection-ca</c>), or null.</summary>
    public InspectionTrust? Inspection { get; init; }
}

/// <summary>A file the lines refer to, for the caller to write before they are used (the trust bundle).</summary>
public sealed record ExportFile(string Path, string Content, string Description);

/// <summary>
/// One place where a runtime will read the settings differently from Sluice's semantics (or cannot express them),
/// and what was emitted instead. <see cref="Subject"/> is the excluded entry (or the setting) concerned; it never
/// carries credentials.
/// </summary>
public sealed record ExportLint(string Subject, string Message)
{
    /// <summary>
    /// The clients this lint says do not do what Sluice's semantics say for <see cref="Subject"/>, each named in
    /// <see cref="Message"/>: a claim the runtime matrix (tests/Sluice.Cli.Tests/EnvMatrix) checks against the real clients.
    /// </summary>
    public IReadOnlyList<ClientRuntime> Differs { get; init; } = [];

    public override string ToString() => $"{Subject}: {Message}";
}

/// <summary>The clients behind the formats, as a lint names them when they read an entry differently.</summary>
public enum ClientRuntime
{
    Curl,
    Wget,
    PythonUrllib,
    PythonRequests,
    NodeFetch,
    Npm,
    Java,
    Git,
    DotNet,
    Apt,
    Go,

    /// <summary>Sluice.Client reading the environment back (<see cref="ProxyEnvironment"/>).</summary>
    SluiceClient,
}

/// <summary>Subjects of lints about a kind of destination rather than an excluded entry.</summary>
public static class ExportLintSubjects
{
    /// <summary>Destinations written with a trailing dot (<c>www.example.com.</c>).</summary>
    public const string TrailingDot = "destinations ending in a dot";

    /// <summary>Loopback destinations (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>) that the list does not exclude.</summary>
    public const string Loopback = "loopback destinations";

    /// <summary>Lints whose subject is a setting that decides for every destination (Node's <c>NODE_USE_ENV_PROXY</c>).</summary>
    public static IReadOnlyList<string> EveryDestination { get; } = [NodeExporter.NodeEnvProxy];
}

/// <summary>The ready-to-use lines (for stdout), the lints (for stderr), and the files the lines refer to.</summary>
public sealed record ExportResult(IReadOnlyList<string> Lines, IReadOnlyList<ExportLint> Lints)
{
    public IReadOnlyList<ExportFile> Files { get; init; } = [];
}

/// <summary>One output format of <c>sluice env</c>: a runtime family's syntax for the proxy, the excluded list and the CA.</summary>
public interface IProxyExporter
{
    /// <summary>The <c>--format</c> name.</summary>
    string Format { get; }

    /// <summary>One line for the command's help.</summary>
    string Description { get; }

    ExportResult Export(ExportRequest request);
}

/// <summary>Every format, by name.</summary>
public static class ProxyExporters
{
    public static IReadOnlyList<IProxyExporter> All { get; } =
    [
        new EnvExporter(EnvStyle.Sh),
        new EnvExporter(EnvStyle.Fish),
        new EnvExporter(EnvStyle.PowerShell),
        new EnvExporter(EnvStyle.Dotenv),
        new EnvExporter(EnvStyle.Systemd),
        new DockerExporter(),
        new KubernetesExporter(),
        new JavaExporter(),
        new NodeExporter(),
        new PythonExporter(),
        new GitExporter(),
        new AptExporter(),
        new SystemExporter(),
        new PacExporter(),
    ];

    public static IReadOnlyList<string> Formats { get; } = All.Select(e => e.Format).ToArray();

    public static IProxyExporter? Find(string format) =>
        All.FirstOrDefault(e => string.Equals(e.Format, format, StringComparison.OrdinalIgnoreCase));
}
