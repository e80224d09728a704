namespace Sluice.Client.Export;

/// <summary>What to export: the proxy (with its excluded list) and, optionally, the path of a PEM file of the CA that
/// runtimes should trust (the HTTPS proxy's CA, or the CA of a TLS-inspecting proxy).</summary>
public sealed record ExportRequest(ProxySettings Proxy, string? CaFile = null)
{
    /// <summary>The CA file runtimes are told to trust: the one given, else the one the settings were read from.</summary>
    public string? CaFile { get; init; } = CaFile ?? Proxy.CaFile;
}

/// <summary>
/// One place where a runtime will read the settings differently from Sluice's semantics (or cannot express them),
/// and what was emitted instead. <see cref="Subject"/> is the excluded entry (or the setting) concerned; it never
/// carries credentials.
/// </summary>
public sealed record ExportLint(string Subject, string Message)
{
    public override string ToString() => $"{Subject}: {Message}";
}

/// <summary>The ready-to-use lines (for stdout) and the lints (for stderr).</summary>
public sealed record ExportResult(IReadOnlyList<string> Lines, IReadOnlyList<ExportLint> Lints);

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
    ];

    public static IReadOnlyList<string> Formats { get; } = All.Select(e => e.Format).ToArray();

    public static IProxyExporter? Find(string format) =>
        All.FirstOrDefault(e => string.Equals(e.Format, format, StringComparison.OrdinalIgnoreCase));
}
