using System.CommandLine;
using Sluice.Client;
using Sluice.Client.Export;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice env</c>: the proxy settings written in one runtime's syntax on stdout, and on stderr a lint for every
/// excluded entry that runtime reads differently or cannot express. The translations live in Sluice.Client.Export.
/// </summary>
internal static class EnvCommand
{
    public static Command Create()
    {
        var proxy = new Option<string?>("--proxy") { Description = "Proxy URL: http://host:3128, https://user:password@host:3129 (credentials percent-encoded)." };
        var from = new Option<FileInfo?>("--from") { Description = "A YAML file with the vendor externalProxy: block (host, port, type, excludedDomains, sslRejectUnauthorized, sslCA as inline PEM or a CA file path relative to the YAML file)." };
        var noProxy = new Option<string[]>("--no-proxy") { Description = "Destinations that bypass the proxy, comma-separated (repeatable): name, .name, *.name, *, address, CIDR, optionally :port.", AllowMultipleArgumentsPerToken = false };
        var ca = new Option<FileInfo?>("--ca") { Description = "PEM file of the CA runtimes should trust: the HTTPS proxy's CA, or the CA of a TLS-inspecting proxy. Defaults to the file the vendor block's sslCA names." };
        var format = new Option<string>("--format", "-f") { Description = "Output format.", Required = true };
        format.AcceptOnlyFromAmong([.. ProxyExporters.Formats]);
        var command = new Command("env", "Print ready-to-use proxy settings for a runtime: " + string.Join("; ", ProxyExporters.All.Select(e => $"{e.Format}: {e.Description}"))
            + ". Excluded entries are translated into each runtime's syntax; what it reads differently is reported on stderr. Exit code 0 when printed, 1 when the vendor block is disabled, 2 on a usage error.")
        {
            proxy, from, noProxy, ca, format,
        };
        command.SetAction(result => Run(new EnvRequest(result.GetValue(format)!, result.GetValue(proxy), result.GetValue(from), result.GetValue(noProxy) ?? [], result.GetValue(ca)), Console.Out, Console.Error));
        return command;
    }

    internal sealed record EnvRequest(string Format, string? Proxy = null, FileInfo? From = null, string[]? NoProxy = null, FileInfo? Ca = null);

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

        ExportResult result = exporter.Export(new ExportRequest(settings, caFile));
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
}
