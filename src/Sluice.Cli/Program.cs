using System.CommandLine;
using Sluice.Cli.Commands;

var root = new RootCommand("Sluice: an egress proxy for HTTP and HTTPS that decides, records and measures every outgoing connection.")
{
    RunCommand.Create(),
    CheckCommand.Create(),
    ExplainCommand.Create(),
    PasswdCommand.Create(),
    EnvCommand.Create(),
    DoctorCommand.Create(),
};

return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
