using System.CommandLine;
using Sluice.Client;
using Sluice.Client.Export;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice env</c>: the proxy settings written in one runtime's syntax on stdout, and on stderr a lint for every
/// excluded entry that runtime reads differently or cannot express. With <c>--inspection-ca</c>, also the trust bundle
/// the lines name (system roots plus that CA), written here. The translations live in Sluice.Client.Export.
/// </summary>
internal static class EnvCommand
{
    public static Command Create()
    {
        var proxy = new Option<string?>("--proxy") { Description = "Proxy URL: http://host:3128, https://user:password@host:3129 (credentials percent-encoded)." };
        var from = new Option<FileInfo?>("--from") { Description = "A YAML file with the vendor externalProxy: block (host, port, type, excludedDomains, sslRejectUnauthorized, sslCA as inline PEM or a CA file path relative to the YAML file)." };
        var noProxy = new Option<string[]>("--no-proxy") { Description = "Destinations that bypass the proxy, comma-separated (repeatable): name, .name, *.name, *, address, CIDR, optionally :port.", AllowMultipleArgumentsPerToken = false };
        var ca = new Option<FileInfo?>("--ca") { Description = "PEM file of the HTTPS proxy's own CA, for the connection to the proxy (where a runtime has one trust store for both, the lints say it is trusted for origins too). Defaults to the file the vendor block's sslCA names." };
        var inspectionCa = new Option<FileInfo?>("--inspection-ca") { Description = "PEM file of a TLS-inspecting proxy's CA: each runtime is told to trust it for origins in addition to its roots (where a runtime's setting replaces its roots, through a bundle of the system roots and this CA). Defaults to the file the vendor block's sslInspectionCA names." };
        var bundleOut = new Option<FileInfo?>("--bundle-out") { Description = "Where to write that bundle (default: beside the CA, NAME-bundle.pem); the java format's trust store goes beside it, NAME-bundle.p12." };
        var systemRoots = new Option<FileInfo?>("--system-roots") { Description = "The roots the bundle starts from (default: the file SSL_CERT_FILE names, else the first of " + string.Join(", ", SystemRoots.Candidates) + ")." };
        var format = new Option<string>("--format", "-f") { Description = "Output format.", Required = true };
        format.AcceptOnlyFromAmong([.. ProxyExporters.Formats]);
        var command = new Command("env", "Print ready-to-use proxy settings for a runtime: " + string.Join("; ", ProxyExporters.All.Select(e => $"{e.Format}: {e.Description}"))
            + ". Excluded entries are translated into each runtime's syntax; what it reads differently is reported on stderr. Exit code 0 when printed, 1 when the vendor block is disabled, 2 on a usage error.")
        {
            proxy, from, noProxy, ca, inspectionCa, bundleOut, systemRoots, format,
        };
        command.SetAction(result => Run(
            new EnvRequest(result.GetValue(format)!, result.GetValue(proxy), result.GetValue(from), result.GetValue(noProxy) ?? [], result.GetValue(ca), result.GetValue(inspectionCa), result.GetValue(bundleOut), result.GetValue(systemRoots)),
            Console.Out,
            Console.Error));
        return command;
    }

    internal sealed record EnvRequest(string Format, string? Proxy = null, FileInfo? From = null, string[]? NoProxy = null, FileInfo? Ca = null, FileInfo? InspectionCa = null, FileInfo? BundleOut = null, FileInfo? SystemRoots = null);

    internal static int Run(EnvRequest input, TextWriter output, TextWriter errors)
    {
        if (ProxyExporters.Find(input.Format) is not { } exporter)
        {
            errors.WriteLine($"sluice env: unknown format '{input.Format}': one of {string.Join(", ", ProxyExporters.Formats)}");
            return 2;
        }

        if ((input.Proxy is null) == (input.From is null))
        {
            errors.WriteLine("sluice env: give the proxy with exactly one of --proxy URL or --from FILE");
            return 2;
        }

        ProxySettings settings;
        try
        {
            if (input.From is { } file)
            {
                if (!file.Exists)
                {
                    errors.WriteLine($"sluice env: {file.FullName}: no such file");
                    return 2;
                }

                if (VendorProxyConfig.LoadFile(file.FullName) is not { } parsed)
                {
                    errors.WriteLine($"sluice env: {file.FullName}: externalProxy.enabled is false: no proxy to configure");
                    return 1;
                }

                settings = parsed;
            }
            else
            {
                settings = ProxySettings.FromUrl(input.Proxy!);
            }
        }
        catch (FormatException e)
        {
            errors.WriteLine($"sluice env: {(input.From is { } f ? f.FullName + ": " : "")}{e.Message}");
            return 2;
        }

        if (input.NoProxy is { Length: > 0 } extra)
        {
            settings = settings with { Excluded = NoProxyList.Parse(settings.Excluded.Entries.Select(e => e.Text).Concat(settings.Excluded.Ignored).Concat(extra)) };
        }

        string? caFile = null; // without --ca, the export takes the file the block's sslCA names, if it names one
        if (input.Ca is { } caInfo)
        {
            if (!caInfo.Exists)
            {
                errors.WriteLine($"sluice env: --ca {caInfo.FullName}: no such file");
                return 2;
            }

            if (!File.ReadAllText(caInfo.FullName).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                errors.WriteLine($"sluice env: --ca {caInfo.FullName}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
                return 2;
            }

            caFile = caInfo.FullName;
        }

        var request = new ExportRequest(settings, caFile);
        if (input.InspectionCa is null && settings.InspectionCaFile is null && (input.BundleOut ?? input.SystemRoots) is not null)
        {
            errors.WriteLine("sluice env: --bundle-out and --system-roots go with --inspection-ca");
            return 2;
        }

        if ((input.InspectionCa?.FullName ?? settings.InspectionCaFile) is { } inspectionFile)
        {
            if (Trust(input, inspectionFile, request, errors) is not { } trust)
            {
                return 2;
            }

            request = request with { Inspection = trust };
        }

        ExportResult result = exporter.Export(request);
        foreach (ExportFile file in result.Files)
        {
            try
            {
                WriteAtomically(file.Path, file.Content);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.WriteLine($"sluice env: cannot write {file.Path}: {e.Message}{(input.BundleOut is null ? "; choose the place with --bundle-out FILE" : "")}");
                return 2;
            }

            errors.WriteLine($"sluice env: wrote {file.Path}: {file.Description}");
        }

        foreach (string line in result.Lines)
        {
            output.WriteLine(line);
        }

        foreach (ExportLint lint in result.Lints)
        {
            errors.WriteLine($"sluice env: {exporter.Format}: {lint}");
        }

        return 0;
    }

    /// <summary>The inspection CA checked, the system roots found, the bundle built; null after writing the error.</summary>
    private static InspectionTrust? Trust(EnvRequest input, string caFile, ExportRequest request, TextWriter errors)
    {
        if (!File.Exists(caFile))
        {
            errors.WriteLine($"sluice env: --inspection-ca {caFile}: no such file");
            return null;
        }

        try
        {
            foreach (System.Security.Cryptography.X509Certificates.X509Certificate2 certificate in InspectionCa.Parse(File.ReadAllText(caFile)))
            {
                certificate.Dispose();
            }
        }
        catch (FormatException e)
        {
            errors.WriteLine($"sluice env: --inspection-ca {caFile}: {e.Message}");
            return null;
        }

        string bundle = input.BundleOut?.FullName ?? InspectionTrust.DefaultBundleFile(caFile);
        if (input.SystemRoots is { Exists: false } missing)
        {
            errors.WriteLine($"sluice env: --system-roots {missing.FullName}: no such file");
            return null;
        }

        if ((input.SystemRoots?.FullName ?? SystemRoots.Find(ProxyEnvironment.Process, exclude: bundle)) is not { } roots)
        {
            errors.WriteLine($"sluice env: no system roots to build the bundle from (SSL_CERT_FILE is unset and none of {string.Join(", ", SystemRoots.Candidates)} exists): name them with --system-roots FILE");
            return null;
        }

        try
        {
            return InspectionTrust.Load(caFile, bundle, roots, request.Proxy, request.CaFile);
        }
        catch (FormatException e)
        {
            errors.WriteLine($"sluice env: {e.Message}");
            return null;
        }
    }

    /// <summary>A new file beside the old one, renamed over it: a runtime reading the bundle sees the old one or the new one, never half of one.</summary>
    private static void WriteAtomically(string path, string content)
    {
        string temporary = Path.Combine(Path.GetDirectoryName(path) ?? ".", $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temporary, content);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
