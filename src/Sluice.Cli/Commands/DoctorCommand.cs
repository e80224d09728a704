using System.Collections.Immutable;
using System.CommandLine;
using System.Net;
using Sluice.Client;
using Sluice.Client.Diagnostics;
using Sluice.Policy.Config;
using Spectre.Console;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice doctor</c>: checks destinations through the proxy phase by phase (TCP and TLS to the proxy,
/// authentication, CONNECT, the origin's TLS handshake and who issued its certificate) and prints one row per
/// destination with a hint for each failure. The probing is <see cref="ProxyProbe"/>; this file only gathers the
/// inputs and renders.
/// </summary>
internal static class DoctorCommand
{
    public const string PasswordVariable = "SLUICE_PROXY_PASSWORD";

    public static Command Create()
    {
        var targets = new Argument<string[]>("target") { Description = "host:port or a URL (https://host means port 443).", Arity = ArgumentArity.ZeroOrMore };
        var proxy = new Option<string?>("--proxy") { Description = "Proxy URL: http://host:3128, or https://host:3129 for TLS to the proxy. Default: https_proxy / HTTPS_PROXY / all_proxy from the environment." };
        var ca = new Option<string?>("--ca") { Description = "PEM file of CA certificates to trust for the proxy's certificate; on the origin leg a certificate chaining only to it is reported as intercepted but trusted." };
        var user = new Option<string?>("--user") { Description = $"Proxy user for Basic authentication; the password comes from {PasswordVariable}, --password-stdin, or a prompt." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the proxy password from the first line of standard input." };
        var targetsFile = new Option<string?>("--targets") { Description = "File with one target per line ('#' starts a comment)." };
        var fromPolicy = new Option<string?>("--from-policy") { Description = "Sluice config file: check the exact host names its allow rules let through (wildcards are skipped with a note)." };
        var client = new Option<string>("--client") { Description = "With --from-policy: the address the proxy sees this machine as, for rules with clients:.", DefaultValueFactory = _ => "127.0.0.1" };
        var parents = new Option<bool>("--parents") { Description = "With --from-policy: also connect to each parent proxy of the policy's upstreams from here, with the upstream's credentials and ca, and ask it for a tunnel to a target the policy sends through it. Run it where the proxy runs: it needs the proxy's secrets and its network." };
        var json = new Option<bool>("--json") { Description = "Print the results as one JSON document, for scripts." };
        var parallel = new Option<int>("--parallel") { Description = "How many targets to check at once.", DefaultValueFactory = _ => 8 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds each network phase may take.", DefaultValueFactory = _ => 10 };
        var command = new Command("doctor", "Check destinations through the proxy: proxy reachable, TLS to the proxy, authentication, CONNECT status (with the proxy's Proxy-Status), the origin's TLS handshake and certificate issuer (flagging TLS interception), with timings per phase and a hint for each failure. Exit code 0 when every check passes, 1 when any fails, 2 on a usage error.")
        {
            targets, proxy, ca, user, passwordStdin, targetsFile, fromPolicy, client, parents, json, parallel, timeout,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var request = new DoctorRequest(result.GetValue(targets) ?? [])
            {
                Proxy = result.GetValue(proxy),
                Ca = result.GetValue(ca),
                User = result.GetValue(user),
                PasswordStdin = result.GetValue(passwordStdin),
                TargetsFile = result.GetValue(targetsFile),
                FromPolicy = result.GetValue(fromPolicy),
                Client = result.GetValue(client)!,
                Parents = result.GetValue(parents),
                Json = result.GetValue(json),
                Parallel = result.GetValue(parallel),
                Timeout = result.GetValue(timeout),
            };
            var io = new DoctorIo(Console.Out, Console.Error)
            {
                Input = Console.In,
                Terminal = !Console.IsOutputRedirected,
                PromptPassword = Console.IsInputRedirected ? null : DoctorInputs.PromptPassword,
            };
            return await RunAsync(request, io, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record DoctorRequest(string[] Targets)
    {
        public string? Proxy { get; init; }

        public string? Ca { get; init; }

        public string? User { get; init; }

        public bool PasswordStdin { get; init; }

        public string? TargetsFile { get; init; }

        public string? FromPolicy { get; init; }

        /// <summary>The address the proxy sees this machine as, for the policy's expectations.</summary>
        public string Client { get; init; } = "127.0.0.1";

        /// <summary>Probe each parent proxy of the policy's upstreams too (needs <see cref="FromPolicy"/>).</summary>
        public bool Parents { get; init; }

        public bool Json { get; init; }

        public int Parallel { get; init; } = 8;

        public double Timeout { get; init; } = 10;
    }

    /// <summary>Where doctor reads and writes, so tests run it in-process.</summary>
    internal sealed record DoctorIo(TextWriter Output, TextWriter Errors)
    {
        public TextReader Input { get; init; } = TextReader.Null;

        public Func<string, string?> Environment { get; init; } = ProxyEnvironment.Process;

        /// <summary>True when stdout is a terminal: Spectre table and progress.</summary>
        public bool Terminal { get; init; }

        /// <summary>Asks for the password without echo; null when there is no terminal to ask on.</summary>
        public Func<string, string?>? PromptPassword { get; init; }
    }

    internal static async Task<int> RunAsync(DoctorRequest request, DoctorIo io, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        if (!DoctorInputs.TryBuild(request, io, notes, out ProbeOptions? options, out List<ProbeTarget> targets, out SluiceConfig? policy, out string problem))
        {
            io.Errors.WriteLine($"sluice doctor: {problem}");
            return 2;
        }

        DoctorExpectations? expectations = policy is null ? null : await DoctorExpectations.DecideAsync(request.FromPolicy!, policy, targets,
            options!.Proxy.Credentials?.UserName, options.Proxy.Credentials?.Password, IPAddress.Parse(request.Client), notes).ConfigureAwait(false);

        foreach (string note in notes)
        {
            io.Errors.WriteLine($"sluice doctor: note: {note}");
        }

        var probe = new ProxyProbe(options!);
        Task<IReadOnlyList<ParentCheck>>? parents = request.Parents
            ? DoctorParents.CheckAsync(policy!, expectations!, options!.Timeout, cancellationToken)
            : null;
        ImmutableArray<ProbeResult> results;
        if (io.Terminal && !request.Json)
        {
            results = await ProbeWithProgressAsync(probe, targets, io.Output, cancellationToken).ConfigureAwait(false);
            DoctorReport.WriteTable(io.Output, options!.Proxy, results);
            _ = Surprises(expectations, results, io).ToList();
        }
        else
        {
            results = await probe.ProbeAllAsync(targets, null, cancellationToken).ConfigureAwait(false);
            notes.AddRange(Surprises(expectations, results, io));
            if (!request.Json)
            {
                DoctorReport.WriteText(io.Output, options!.Proxy, results);
            }
        }

        IReadOnlyList<ParentCheck>? parentChecks = parents is null ? null : await parents.ConfigureAwait(false);
        if (request.Json)
        {
            DoctorJson.Write(io.Output, options!.Proxy, results, notes, parentChecks);
        }
        else if (parentChecks is not null)
        {
            DoctorReport.WriteParents(io.Output, parentChecks);
        }

        return results.All(r => r.Passed) && (parentChecks ?? []).All(p => p.Passed) ? 0 : 1;
    }

    /// <summary>Answers the policy did not expect, each also said on standard error.</summary>
    private static IEnumerable<string> Surprises(DoctorExpectations? expectations, ImmutableArray<ProbeResult> results, DoctorIo io)
    {
        foreach (string surprise in expectations?.Surprises(results) ?? [])
        {
            io.Errors.WriteLine($"sluice doctor: unexpected: {surprise}");
            yield return surprise;
        }
    }

    private static async Task<ImmutableArray<ProbeResult>> ProbeWithProgressAsync(ProxyProbe probe, List<ProbeTarget> targets, TextWriter output, CancellationToken cancellationToken)
    {
        ImmutableArray<ProbeResult> results = [];
        await DoctorReport.Terminal(output).Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                ProgressTask task = context.AddTask($"checking {targets.Count} target{(targets.Count == 1 ? "" : "s")}", maxValue: targets.Count);
                results = await probe.ProbeAllAsync(targets, _ => task.Increment(1), cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        return results;
    }
}
