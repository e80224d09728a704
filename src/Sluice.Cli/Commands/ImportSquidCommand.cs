using System.CommandLine;
using Sluice.Deploy.Squid;
using Sluice.Policy.Config;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice import-squid squid.conf [-o out.yaml]</c>: a Sluice configuration from a Squid one. What does not
/// translate is listed on standard error with its line number and the reason.
/// </summary>
internal static class ImportSquidCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("squid.conf") { Description = "The Squid configuration to convert." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write the Sluice configuration here instead of standard output." };
        var command = new Command("import-squid", "Convert a Squid configuration (http_port, https_port, acl, http_access, auth_param basic, timeouts, parents: cache_peer, cache_peer_access, always_direct, never_direct, and TLS inspection: http_port ssl-bump, ssl_bump, tls_outgoing_options cafile=) into a Sluice configuration. Directives that do not translate are listed on standard error with their line numbers. The translation never allows what Squid would deny. Exit code 0 when the result loads as a Sluice configuration, 1 when it does not yet (a file it names is missing here), 2 on a usage error.")
        {
            file, output,
        };
        command.SetAction(result => Run(result.GetValue(file)!, result.GetValue(output), Console.Out, Console.Error));
        return command;
    }

    internal static int Run(FileInfo file, FileInfo? outputFile, TextWriter output, TextWriter errors)
    {
        string text;
        try
        {
            text = File.ReadAllText(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.WriteLine($"sluice import-squid: cannot read {file.FullName}: {e.Message}");
            return 2;
        }

        SquidTranslation translation = SquidTranslator.Translate(SquidReader.Read(text));
        string yaml = SquidWriter.Write(translation, file.Name);
        foreach (SquidNote note in translation.Notes)
        {
            errors.WriteLine($"{file.Name}:{note}");
        }

        // Relative paths in the result are resolved against the folder of the file it is written to.
        string source = outputFile?.FullName ?? Path.Combine(file.DirectoryName ?? ".", "sluice.yaml");
        int status = 0;
        try
        {
            ConfigLoader.Parse(yaml, source);
        }
        catch (ConfigException e)
        {
            errors.WriteLine($"sluice import-squid: the converted configuration does not load yet: {e.Problem} (line {e.Line} of the output)");
            status = 1;
        }

        if (outputFile is null)
        {
            output.Write(yaml);
        }
        else
        {
            File.WriteAllText(outputFile.FullName, yaml);
            errors.WriteLine($"wrote {outputFile.FullName}");
        }

        return status;
    }
}
