using System.Collections.Immutable;
using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
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
        var json = new Option<bool>("--json") { Description = "Print the results as one JSON document, for scripts." };
        var parallel = new Option<int>("--parallel") { Description = "How many targets to check at once.", DefaultValueFactory = _ => 8 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds each network phase may take.", DefaultValueFactory = _ => 10 };
        var command = new Command("doctor", "Check destinations through the proxy: proxy reachable, TLS to the proxy, authentication, CONNECT status (with the proxy's Proxy-Status), the origin's TLS handshake and certificate issuer (flagging TLS interception), with timings per phase and a hint for each failure. Exit code 0 when every check passes, 1 when any fails, 2 on a usage error.")
        {
            targets, proxy, ca, user, passwordStdin, targetsFile, fromPolicy, client, json, parallel, timeout,
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
                Json = result.GetValue(json),
                Parallel = result.GetValue(parallel),
                Timeout = result.GetValue(timeout),
            };
            var io = new DoctorIo(Console.Out, Console.Error)
            {
                Input = Console.In,
                Terminal = !Console.IsOutputRedirected,
                PromptPassword = Console.IsInputRedirected ? null : PromptPassword,
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
        if (!TryBuild(request, io, notes, out ProbeOptions? options, out List<ProbeTarget> targets, out SluiceConfig? policy, out string problem))
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
            if (request.Json)
            {
                DoctorReport.WriteJson(io.Output, options!.Proxy, results, notes);
            }
            else
            {
                DoctorReport.WriteText(io.Output, options!.Proxy, results);
            }
        }

        return results.All(r => r.Passed) ? 0 : 1;
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

    private static bool TryBuild(DoctorRequest request, DoctorIo io, List<string> notes, out ProbeOptions? options, out List<ProbeTarget> targets, out SluiceConfig? policy, out string problem)
    {
        options = null;
        policy = null;
        targets = [];
        foreach (string text in request.Targets)
        {
            if (!ProbeTarget.TryParse(text, out ProbeTarget? target, out problem))
            {
                return false;
            }

            targets.Add(target!);
        }

        if (request.TargetsFile is not null && !DoctorTargets.TryReadFile(request.TargetsFile, targets, out problem))
        {
            return false;
        }

        if (request.FromPolicy is not null)
        {
            if (!DoctorTargets.TryFromPolicy(request.FromPolicy, targets, notes, out SluiceConfig config, out problem))
            {
                return false;
            }

            if (!IPAddress.TryParse(request.Client, out _))
            {
                problem = $"--client '{request.Client}' is not an IP address";
                return false;
            }

            policy = config;
        }

        targets = targets.DistinctBy(t => (t.Host, t.Port)).ToList();
        if (targets.Count == 0)
        {
            problem = request.FromPolicy is not null && request.Targets.Length == 0 && request.TargetsFile is null
                ? $"{request.FromPolicy} allows no exact host name to check"
                : "nothing to check: give TARGET (host:port or https://host), --targets FILE or --from-policy CONFIG";
            return false;
        }

        if (request.Parallel < 1 || request.Timeout <= 0 || double.IsNaN(request.Timeout) || request.Timeout > 3600)
        {
            problem = "--parallel must be at least 1 and --timeout between 0 and 3600 seconds";
            return false;
        }

        if (!TryProxy(request, io, out ProxySettings? proxy, out problem) || !TryCa(request.Ca, out X509Certificate2Collection? ca, out problem))
        {
            return false;
        }

        options = new ProbeOptions
        {
            Proxy = proxy!,
            TrustedCa = ca,
            MaxConcurrency = request.Parallel,
            Timeout = TimeSpan.FromSeconds(request.Timeout),
        };
        return true;
    }

    private static bool TryProxy(DoctorRequest request, DoctorIo io, out ProxySettings? proxy, out string problem)
    {
        problem = "";
        try
        {
            proxy = request.Proxy is not null ? ProxySettings.FromUrl(request.Proxy) : ProxyEnvironment.ForHttps(io.Environment);
        }
        catch (FormatException e)
        {
            proxy = null;
            problem = request.Proxy is null ? $"the proxy in the environment: {e.Message}" : $"--proxy: {e.Message}";
            return false;
        }

        if (proxy is null)
        {
            problem = "no proxy: pass --proxy URL, or set https_proxy";
            return false;
        }

        if (request.User is null)
        {
            if (request.PasswordStdin)
            {
                problem = "--password-stdin needs --user";
                return false;
            }

            return true;
        }

        string? password = request.PasswordStdin ? io.Input.ReadLine() : io.Environment(PasswordVariable);
        password ??= io.PromptPassword?.Invoke($"Proxy password for {request.User}: ");
        if (password is null)
        {
            problem = $"--user {request.User} needs a password: set {PasswordVariable}, pass --password-stdin, or run on a terminal to be asked";
            return false;
        }

        proxy = proxy with { Credentials = new NetworkCredential(request.User, password) };
        return true;
    }

    private static bool TryCa(string? path, out X509Certificate2Collection? ca, out string problem)
    {
        ca = null;
        problem = "";
        if (path is null)
        {
            return true;
        }

        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPemFile(path);
            if (collection.Count == 0)
            {
                problem = $"--ca {path} holds no PEM certificate";
                return false;
            }

            ca = collection;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            problem = $"--ca {path}: {e.Message}";
            return false;
        }
    }

    private static string? PromptPassword(string prompt)
    {
        Console.Error.Write(prompt);
        var password = new StringBuilder();
        while (true)
        {
            ConsoleKeyInfo key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                password.Length = Math.Max(0, password.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return password.ToString();
    }
}
