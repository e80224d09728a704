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
        var command = new Command("check", "Validate a configuration file: print a summary of listeners, rules and default, and warnings about risky settings; or every error with file, line and column. Exit code 0 when valid, 1 when not.")
        {
            config,
        };
        command.SetAction(result => Run(result.GetValue(config), Console.Out, Console.Error));
        return command;
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
        output.WriteLine($"rules: {config.Rules.Length}, first match wins");
        for (int i = 0; i < config.Rules.Length; i++)
        {
            output.WriteLine($"  {i + 1}. {Describe(config.Rules[i])}");
        }

        output.WriteLine(config.Default == RuleAction.Deny
            ? "default: deny (a request no rule matches is refused with 403)"
            : "default: allow (a request no rule matches is let through)");
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
