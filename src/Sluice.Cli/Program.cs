using System.CommandLine;
using Sluice.Cli.Commands;

var root = new RootCommand("Sluice: an egress proxy for HTTP and HTTPS that decides, records and measures every outgoing connection.")
{
    RunCommand.Create(),
    CheckCommand.Create(),
    ExplainCommand.Create(),
    PasswdCommand.Create(),
    CaCommand.Create(),
    EnvCommand.Create(),
    DoctorCommand.Create(),
    K8sCommand.Create(),
    ImportSquidCommand.Create(),
};

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Usage errors exit 2 in every command, as their help says (the parser's default would be 1, the code for
    // "checked and refused").
    foreach (System.CommandLine.Parsing.ParseError error in parsed.Errors)
    {
        await Console.Error.WriteLineAsync($"sluice: {error.Message}").ConfigureAwait(false);
    }

    await Console.Error.WriteLineAsync("run 'sluice --help' or 'sluice COMMAND --help' for usage").ConfigureAwait(false);
    return 2;
}

return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
