using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Sluice.Policy.Addresses;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;
using Sluice.Proxy.Errors;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice explain</c>: what the proxy would do with one request, and why: every rule tried, the addresses the
/// name resolves to and how the guard classifies them, and the status a client would get.
/// </summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var config = ConfigOption.Create();
        var target = new Argument<string>("target") { Description = "A URL (http://host/path is forwarded, https://host is a CONNECT tunnel) or host:port (a CONNECT tunnel)." };
        var client = new Option<string>("--client") { Description = "Client address the request comes from.", DefaultValueFactory = _ => "127.0.0.1" };
        var user = new Option<string?>("--user") { Description = "Authenticated user name, for rules with users:." };
        var method = new Option<string?>("--method", "-X") { Description = "HTTP method of a forwarded request (default GET; tunnels are CONNECT)." };
        var resolve = new Option<string[]>("--resolve") { Description = "NAME=IP: use this address for NAME instead of asking DNS (repeatable).", AllowMultipleArgumentsPerToken = false };
        var noResolve = new Option<bool>("--no-resolve") { Description = "Do not resolve the name: stop after the policy decision." };
        var json = new Option<bool>("--json") { Description = "Print the explanation as one JSON object, for scripts." };
        var command = new Command("explain", "Explain the decision for one request: the rule that matched and why each earlier rule did not, the resolved addresses and their classification, and the status code a client would get. Exit code 0 when the request would be let through, 1 when refused, 2 on a usage or configuration error.")
        {
            config, target, client, user, method, resolve, noResolve, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var request = new ExplainRequest(result.GetValue(target)!, result.GetValue(client)!, result.GetValue(user), result.GetValue(method),
                result.GetValue(resolve) ?? [], result.GetValue(noResolve));
            return await RunAsync(result.GetValue(config), request, result.GetValue(json), Console.Out, Console.Error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record ExplainRequest(string Target, string Client, string? User, string? Method, string[] Resolve, bool NoResolve);

    internal static async Task<int> RunAsync(FileInfo? file, ExplainRequest input, bool json, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        if (!ConfigOption.TryLoad(file, errors, out SluiceConfig config))
        {
            return 2;
        }

        if (!TryBuildFacts(input, out RequestFacts? facts, out string problem) || !TryParseOverrides(input.Resolve, out Dictionary<string, IPAddress[]> overrides, out problem))
        {
            errors.WriteLine($"sluice explain: {problem}");
            return 2;
        }

        var policy = new RulePolicy(config.Rules, config.Default);
        Explanation explanation = policy.Explain(facts!);
        var report = new Report(facts!, explanation);
        if (explanation.Decision.Allowed)
        {
            await CheckAddressesAsync(config, facts!, overrides, input.NoResolve, report, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            report.Fail(ProxyErrorKind.PolicyDenied);
        }

        if (json)
        {
            report.WriteJson(output);
        }
        else
        {
            report.WriteText(output);
        }

        return report.Refused ? 1 : 0;
    }

    private static async Task CheckAddressesAsync(SluiceConfig config, RequestFacts facts, Dictionary<string, IPAddress[]> overrides, bool noResolve, Report report, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        if (facts.Address is not null)
        {
            addresses = [facts.Address];
        }
        else if (overrides.TryGetValue(facts.Host, out IPAddress[]? given))
        {
            addresses = given;
        }
        else if (noResolve)
        {
            report.Note = "not resolved (--no-resolve): the address guard decides after resolution";
            return;
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(facts.Host, cancellationToken).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                report.Note = $"{facts.Host} does not resolve: {e.Message}";
                report.Fail(ProxyErrorKind.DnsError);
                return;
            }
        }

        // Own listeners are not known here (no server is running); the guard checks them in the proxy.
        var guard = new AddressGuard(config.Addresses, []);
        foreach (IPAddress address in addresses)
        {
            report.Addresses.Add((address, guard.Check(address, facts.Port)));
        }

        if (!report.Addresses.Any(a => a.Decision.Allowed))
        {
            report.Fail(ProxyErrorKind.DestinationProhibited);
        }
    }

    private static bool TryBuildFacts(ExplainRequest input, out RequestFacts? facts, out string problem)
    {
        facts = null;
        if (!IPAddress.TryParse(input.Client, out IPAddress? client))
        {
            problem = $"--client '{input.Client}' is not an IP address";
            return false;
        }

        string target = input.Target;
        RequestScheme scheme = RequestScheme.Tunnel;
        string authority = target;
        int defaultPort = 0;
        int schemeEnd = target.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd > 0)
        {
            string name = target[..schemeEnd].ToLowerInvariant();
            (scheme, defaultPort) = name switch
            {
                "http" or "ws" => (RequestScheme.Http, 80),
                "https" or "wss" => (RequestScheme.Tunnel, 443),
                _ => (RequestScheme.Http, -1),
            };
            if (defaultPort < 0)
            {
                problem = $"'{name}://' is not a scheme the proxy handles (http, https, ws, wss)";
                return false;
            }

            authority = target[(schemeEnd + 3)..];
            int end = authority.IndexOfAny(['/', '?', '#']);
            authority = end < 0 ? authority : authority[..end];
        }

        int colon = authority.LastIndexOf(':');
        bool hasPort = colon > 0 && !authority[colon..].Contains(']');
        string host = hasPort ? authority[..colon] : authority;
        int port = defaultPort;
        if (hasPort && (!int.TryParse(authority[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"'{authority}' has an invalid port";
            return false;
        }

        if (port == 0)
        {
            problem = $"'{target}' needs a port (host:port) or a URL scheme";
            return false;
        }

        if (!HostNames.TryNormalize(host, out string normalized, out IPAddress? literal, out problem))
        {
            return false;
        }

        string method = scheme == RequestScheme.Tunnel ? "CONNECT" : (input.Method ?? "GET").ToUpperInvariant();
        facts = new RequestFacts(method, scheme, normalized, literal, port, client) { User = input.User };
        return true;
    }

    private static bool TryParseOverrides(string[] entries, out Dictionary<string, IPAddress[]> overrides, out string problem)
    {
        overrides = new Dictionary<string, IPAddress[]>(StringComparer.Ordinal);
        problem = "";
        foreach (string entry in entries)
        {
            int eq = entry.IndexOf('=');
            if (eq <= 0 || !IPAddress.TryParse(entry[(eq + 1)..], out IPAddress? address)
                || !HostNames.TryNormalize(entry[..eq], out string name, out _, out _))
            {
                problem = $"--resolve '{entry}' is not NAME=IP";
                return false;
            }

            overrides[name] = overrides.TryGetValue(name, out IPAddress[]? more) ? [.. more, address] : [address];
        }

        return true;
    }

    /// <summary>What explain found, printed as text or JSON.</summary>
    private sealed class Report(RequestFacts facts, Explanation explanation)
    {
        public List<(IPAddress Address, Decision Decision)> Addresses { get; } = [];

        public string? Note { get; set; }

        public ProxyErrorKind? Error { get; private set; }

        public bool Refused => Error is not null;

        public void Fail(ProxyErrorKind kind) => Error = kind;

        private string Request => $"{facts.Method} {(facts.Address is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? $"[{facts.Host}]" : facts.Host)}:{facts.Port} ({(facts.Scheme == RequestScheme.Tunnel ? "tunnel" : "http")}) from {facts.Client}{(facts.User is null ? "" : $" as {facts.User}")}";

        private string Outcome => Error is { } kind
            ? $"{ProxyErrors.Describe(kind).Status} {ProxyErrors.Describe(kind).Reason} (Proxy-Status error={ProxyErrors.Describe(kind).ProxyStatusError})"
            : facts.Scheme == RequestScheme.Tunnel ? "200 Connection established: the proxy opens the tunnel" : "forwarded: the client gets the origin's response";

        public void WriteText(TextWriter output)
        {
            output.WriteLine($"request:  {Request}");
            for (int i = 0; i < explanation.Evaluated.Length; i++)
            {
                RuleEvaluation e = explanation.Evaluated[i];
                output.WriteLine($"rule {i + 1}:   {e.Rule.Name} ({e.Rule.Action.ToString().ToLowerInvariant()}, line {e.Rule.Line}): {e.Mismatch ?? "MATCHES"}");
            }

            output.WriteLine($"decision: {(explanation.Decision.Allowed ? "allow" : "deny")}: {explanation.Decision.Detail}");
            foreach ((IPAddress address, Decision decision) in Addresses)
            {
                output.WriteLine($"address:  {address}: {(decision.Allowed ? "permitted" : "refused")}: {decision.Detail}");
            }

            if (Note is not null)
            {
                output.WriteLine($"address:  {Note}");
            }

            output.WriteLine($"result:   {Outcome}");
        }

        public void WriteJson(TextWriter output)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("method", facts.Method);
                w.WriteString("host", facts.Host);
                w.WriteNumber("port", facts.Port);
                w.WriteString("scheme", facts.Scheme == RequestScheme.Tunnel ? "tunnel" : "http");
                w.WriteString("client", facts.Client.ToString());
                w.WriteStartArray("rules");
                foreach (RuleEvaluation e in explanation.Evaluated)
                {
                    w.WriteStartObject();
                    w.WriteString("name", e.Rule.Name);
                    w.WriteString("action", e.Rule.Action.ToString().ToLowerInvariant());
                    w.WriteNumber("line", e.Rule.Line);
                    w.WriteBoolean("matched", e.Mismatch is null);
                    if (e.Mismatch is not null)
                    {
                        w.WriteString("reason", e.Mismatch);
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteBoolean("allowedByPolicy", explanation.Decision.Allowed);
                if (explanation.Decision.Rule is not null)
                {
                    w.WriteString("rule", explanation.Decision.Rule);
                }

                w.WriteString("decision", explanation.Decision.Detail);
                w.WriteStartArray("addresses");
                foreach ((IPAddress address, Decision decision) in Addresses)
                {
                    w.WriteStartObject();
                    w.WriteString("address", address.ToString());
                    w.WriteBoolean("permitted", decision.Allowed);
                    w.WriteString("detail", decision.Detail);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                if (Note is not null)
                {
                    w.WriteString("note", Note);
                }

                w.WriteBoolean("refused", Refused);
                if (Error is { } kind)
                {
                    w.WriteNumber("status", ProxyErrors.Describe(kind).Status);
                    w.WriteString("proxyStatus", ProxyErrors.Describe(kind).ProxyStatusError);
                }

                w.WriteEndObject();
            }

            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }
    }
}
