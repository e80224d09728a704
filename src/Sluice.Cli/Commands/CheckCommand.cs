using System.CommandLine;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Cli.Commands;

/// <summary><c>sluice check</c>: validate a configuration, summarise what it does, warn about what is risky.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var config = ConfigOption.Create();
        var usage = new Option<string?>("--usage") { Description = "URL of a running proxy's admin endpoint (e.g. http://127.0.0.1:9090): list the rules never hit since it started, in order with their lines, and every rule's hits, would-denies and last hit, from its /api/rules. Alone, only the endpoint is read; with --config, the file is checked first and rules not in force there are named." };
        var token = new Option<string?>("--token") { Description = $"With --usage: the admin endpoint's token (admin.token). Prefer {CheckUsage.TokenVariable}, which it defaults to: a flag shows in the process list. Never printed." };
        var json = new Option<bool>("--json") { Description = "With --usage: print the rule usage as one JSON object, for scripts (neverHit, rules, default)." };
        var command = new Command("check", "Validate a configuration file: print a summary of listeners, rules, mode and default, and warnings about risky settings; or every error with file, line and column. Exit code 0 when valid, 1 when not, 2 on a usage error. "
            + "With --usage URL: exit code 0 whenever the endpoint answered, rules never hit or not: a rule may wait weeks for the event it is for, and a proxy just restarted has hit nothing, so a script that prunes decides from the list (neverHit in --json, with since), not from the exit code; 3 when the endpoint cannot be read (unreachable, 401 without the right token, not the rule usage JSON), so a script never prunes on a failed read.")
        {
            config, usage, token, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string? url = result.GetValue(usage);
            if (url is null)
            {
                if (result.GetValue(json) || result.GetValue(token) is not null)
                {
                    await Console.Error.WriteLineAsync("sluice check: --json and --token go with --usage URL").ConfigureAwait(false);
                    return 2;
                }

                return Run(result.GetValue(config), Console.Out, Console.Error);
            }

            string? variable = Environment.GetEnvironmentVariable(CheckUsage.TokenVariable);
            string? secret = result.GetValue(token) ?? (string.IsNullOrEmpty(variable) ? null : variable);
            return await RunUsageAsync(result.GetValue(config), url, secret, result.GetValue(json), Console.Out, Console.Error, CheckUsage.DefaultTimeout, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>
    /// <c>--usage</c>: the rule usage of a running proxy; with a file, that file checked first (its summary and warnings,
    /// or its errors and exit code 1) and its rules compared with those in force.
    /// </summary>
    internal static async Task<int> RunUsageAsync(FileInfo? file, string url, string? token, bool json, TextWriter output, TextWriter errors, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string[]? configured = null;
        if (file is not null)
        {
            // With --json the JSON document is the only output: the file's summary is not printed, its errors are.
            int valid = Run(file, json ? TextWriter.Null : output, errors);
            if (valid != 0)
            {
                return valid;
            }

            _ = ConfigOption.TryLoad(file, errors, out SluiceConfig config);
            configured = [.. config.Rules.Select(r => r.Name)];
        }

        return await CheckUsage.RunAsync(url, token, json, configured, output, errors, timeout, cancellationToken).ConfigureAwait(false);
    }

    internal static int Run(FileInfo? file, TextWriter output, TextWriter errors)
    {
        if (!ConfigOption.TryLoad(file, errors, out SluiceConfig config))
        {
            return 1;
        }

        var warnings = new List<string>();
        if (!CheckUpstreams.TryReadSecrets(config, warnings, errors))
        {
            return 1;
        }

        if (!CheckInspection.TryLoad(config, out string? inspection, warnings, errors))
        {
            return 1;
        }

        if (!CheckResolver.TryBuild(config, out string resolver, errors))
        {
            return 1;
        }

        output.WriteLine($"{config.Source}: valid");
        output.WriteLine($"listeners: {string.Join(", ", config.Listeners.Select(l => $"{l.Scheme}://{Endpoints.Format(l.Address)}{(l.Tls?.ClientCertificate is { } m && m != ClientCertificateMode.None ? $" (client certificate {m.ToString().ToLowerInvariant()})" : "")}"))}");
        bool reporting = config.Mode == PolicyMode.Report;
        output.WriteLine(reporting
            ? "mode: REPORT: nothing is refused by the rules; every deny (of a rule or of the default) lets the request through and is recorded as a would-deny (identity, the address guard and limits still refuse)"
            : "mode: enforce");
        output.WriteLine($"rules: {config.Rules.Length}, first match wins");
        for (int i = 0; i < config.Rules.Length; i++)
        {
            Rule rule = config.Rules[i];
            string trial = rule.Action == RuleAction.Report ? " [report: a deny on trial; what it matches is let through by route.default and recorded as its would-deny]"
                : rule.Action == RuleAction.Deny && reporting ? " [reported only: mode: report]"
                : "";
            output.WriteLine($"  {i + 1}. {Describe(rule)}{trial}");
        }

        output.WriteLine(config.Default == RuleAction.Allow ? "default: allow (a request no rule matches is let through)"
            : reporting ? "default: deny, reported only (mode: report): a request no rule matches is let through and recorded as a would-deny of the default"
            : "default: deny (a request no rule matches is refused with 403)");
        output.WriteLine(config.Addresses.Allow.IsEmpty
            ? "address guard: every private, loopback, link-local and reserved destination is refused"
            : $"address guard: non-public destinations refused except {string.Join(", ", config.Addresses.Allow)}");
        if (!config.Addresses.Deny.IsEmpty)
        {
            output.WriteLine($"always refused: {string.Join(", ", config.Addresses.Deny)}");
        }

        foreach (BypassConfig bypass in config.Bypass)
        {
            output.WriteLine($"bypass (direct, not through the proxy; opened by sluice k8s): {bypass.Name} (line {bypass.Line}): {string.Join(", ", bypass.Cidrs)} ports {string.Join(", ", bypass.Ports)}");
        }

        if (config.Clients.ProxyAddress is not null || !config.Clients.Excluded.IsEmpty)
        {
            string proxy = config.Clients.ProxyAddress is { } address ? $"{(config.Clients.ProxyTls ? "https" : "http")}://{address}" : "the first listener";
            output.WriteLine($"clients (the PAC file at the admin endpoint's /proxy.pac): proxy {proxy}; also direct: {(config.Clients.Excluded.IsEmpty ? "nothing" : string.Join(", ", config.Clients.Excluded))}");
        }

        output.WriteLine(resolver);
        foreach (string line in CheckUpstreams.Summary(config))
        {
            output.WriteLine(line);
        }

        if (inspection is not null)
        {
            output.WriteLine(inspection);
        }

        warnings.AddRange(CheckUpstreams.RefusedParents(config));
        warnings.InsertRange(0, ConfigAdvisor.Warnings(config));
        foreach (string warning in warnings)
        {
            output.WriteLine($"warning: {warning}");
        }

        return 0;
    }

    internal static string Describe(Rule rule)
    {
        var parts = new List<string> { $"{rule.Name} ({rule.Action.ToString().ToLowerInvariant()}, line {rule.Line})" };
        void Add<T>(string key, IEnumerable<T> values)
        {
            string text = string.Join(", ", values);
            if (text.Length > 0)
            {
                parts.Add($"{key} {text}");
            }
        }

        Add("destinations", rule.Destinations);
        Add("ports", rule.Ports);
        Add("methods", rule.Methods);
        Add("schemes", rule.Schemes.Select(s => s.ToString().ToLowerInvariant()));
        Add("paths", rule.Paths);
        Add<string>("tls", rule.Tls == TlsMode.Inspect ? ["inspect"] : []);
        Add<string>("ftp", rule.Ftp == FtpMode.Passive ? ["passive"] : []);
        Add("clients", rule.Clients);
        Add("users", rule.Users);
        Add("groups", rule.Groups);
        Add<string>("via", rule.Via is null ? [] : [rule.Via]);
        return parts.Count == 1 ? $"{parts[0]}: every request" : $"{parts[0]}: {string.Join("; ", parts.Skip(1))}";
    }
}
