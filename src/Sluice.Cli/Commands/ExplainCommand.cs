using System.CommandLine;
using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Resolution;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice explain</c>: what the proxy would do with one request, and why. The answer is the proxy's own
/// <see cref="RequestPipeline"/> (identity, rules, resolution through an <see cref="IResolver"/>, address guard),
/// so it cannot differ from what a client gets; this file only turns options into request facts. An https:// or wss://
/// URL whose tunnel would be inspected is explained twice, as the proxy decides it: the CONNECT, then the request inside
/// (scheme https, the method, the normalised path, the CONNECT's destination, client and identity).
/// </summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var config = ConfigOption.Create();
        var target = new Argument<string>("target") { Description = "A URL (http://host/path is forwarded; https://, ws:// and wss:// URLs are the CONNECT tunnel a client opens for them, and for an inspected tunnel also the request inside) or host:port (a CONNECT tunnel)." };
        var client = new Option<string>("--client") { Description = "Client address the request comes from.", DefaultValueFactory = _ => "127.0.0.1" };
        var user = new Option<string?>("--user") { Description = "The user the request authenticates as (with auth.basic: taken as the right password unless --password-stdin gives one; without it: the client certificate's name)." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password for --user from the first line of standard input and check it against the users file, as the proxy would." };
        var method = new Option<string?>("--method", "-X") { Description = "HTTP method of a forwarded request or of the request inside an inspected tunnel, case-sensitive as in HTTP (default GET; the tunnel itself is a CONNECT)." };
        var resolve = new Option<string[]>("--resolve") { Description = "NAME=IP: use this address for NAME instead of asking DNS (repeatable).", AllowMultipleArgumentsPerToken = false };
        var maxForwards = new Option<int?>("--max-forwards") { Description = "Max-Forwards of a TRACE or OPTIONS request: at 0 the proxy answers it itself." };
        var noResolve = new Option<bool>("--no-resolve") { Description = "Do not resolve the name: stop after the policy decision." };
        var json = new Option<bool>("--json") { Description = "Print the explanation as one JSON object, for scripts." };
        var command = new Command("explain", "Explain the decision for one request: who the client is taken to be, the rule that matched and why each earlier rule did not, the resolved addresses and their classification, and the status code a client would get; for an inspected tunnel, the same again for the request inside it. A would-deny of a policy in report mode (action: report, mode: report) is let through, and says what enforcing would answer. Exit code 0 when the request (inside, if inspected) would be let through, a would-deny too, 1 when refused, 2 on a usage or configuration error.")
        {
            config, target, client, user, passwordStdin, method, maxForwards, resolve, noResolve, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string? password = result.GetValue(passwordStdin) ? Console.In.ReadLine() ?? "" : null;
            var request = new ExplainRequest(result.GetValue(target)!, result.GetValue(client)!, result.GetValue(user), result.GetValue(method),
                result.GetValue(resolve) ?? [], result.GetValue(noResolve)) { Password = password, MaxForwards = result.GetValue(maxForwards) };
            return await RunAsync(result.GetValue(config), request, result.GetValue(json), Console.Out, Console.Error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record ExplainRequest(string Target, string Client, string? User, string? Method, string[] Resolve, bool NoResolve)
    {
        /// <summary>The password to check for <see cref="User"/>; null: the user is taken to have sent the right one.</summary>
        public string? Password { get; init; }

        /// <summary>A TRACE or OPTIONS request's Max-Forwards, as the request would carry it.</summary>
        public int? MaxForwards { get; init; }
    }

    internal static Task<int> RunAsync(FileInfo? file, ExplainRequest input, bool json, TextWriter output, TextWriter errors, CancellationToken cancellationToken) =>
        RunAsync(file, input, json, output, errors, null, cancellationToken);

    /// <param name="resolver">
    /// Where names not given with --resolve are looked up: null builds the proxy's from the file's <c>resolver:</c> (its
    /// hosts file, servers and cache rules, through the same factory); a test passes its own.
    /// </param>
    internal static async Task<int> RunAsync(FileInfo? file, ExplainRequest input, bool json, TextWriter output, TextWriter errors, IResolver? resolver, CancellationToken cancellationToken)
    {
        if (!ConfigOption.TryLoad(file, errors, out SluiceConfig config))
        {
            return 2;
        }

        if (!TryBuildFacts(input, out RequestFacts? facts, out Target target, out string problem) || !TryParseOverrides(input.Resolve, out Dictionary<string, IPAddress[]> overrides, out problem))
        {
            errors.WriteLine($"sluice explain: {problem}");
            return 2;
        }

        if (input.Password is not null && input.User is null)
        {
            errors.WriteLine("sluice explain: --password-stdin needs --user");
            return 2;
        }

        AuthResult? identity = await SupposedIdentity.FindAsync(config, input.User, input.Password, facts!.Client, message => errors.WriteLine($"sluice explain: {message}")).ConfigureAwait(false);
        if (identity is { } known)
        {
            facts = facts with { User = known.Outcome == AuthOutcome.Authenticated ? known.User : null, Groups = known.Groups };
        }

        var pipeline = new RequestPipeline(config, OwnEndpoints.Of(config));
        Verdict decided = pipeline.Decide(facts, identity);
        Verdict verdict = decided;
        bool resolved = !verdict.Refused && (facts.Address is not null || !input.NoResolve);
        if (resolved)
        {
            try
            {
                resolver ??= ResolverFactory.Create(config.Resolver);
            }
            catch (ConfigException e)
            {
                errors.WriteLine($"sluice explain: {e.Message}");
                return 2;
            }

            verdict = await pipeline.ResolveAsync(verdict, new OverridingResolver(overrides, resolver), cancellationToken).ConfigureAwait(false);
        }

        // The request inside is decided only once the tunnel would open: allowed, resolved (or not asked to be) and checked.
        bool inspected = decided.Tls == TlsHandling.Inspect && !verdict.Refused;
        InsideRequest? inside = inspected && target.Inside is { } pathAndQuery ? Inside(pipeline, facts, identity, input, pathAndQuery) : null;
        var report = new ExplainReport(verdict, pipeline.Policy.Explain(pipeline.FactsForRules(facts)), identity, input.User)
        {
            Note = !verdict.Refused && !resolved ? "not resolved (--no-resolve): the address guard decides after resolution" : null,
            Tls = config.Inspection is not null && facts.Scheme == RequestScheme.Tunnel ? new TlsChoice(decided, pipeline.IsNeverInspected(facts)) : null,
            RawPath = target.RawPath,
            Inside = inside,
            InsideNote = !inspected || inside is not null ? null
                : target.Scheme == "ws" ? "a ws:// client speaks plain HTTP in its tunnel, but the proxy speaks TLS in an inspected one: the origin's TLS handshake fails (502); use wss://"
                : "give the URL (https://host/path, and -X) to explain a request inside the tunnel",
        };
        if (json)
        {
            report.WriteJson(output);
        }
        else
        {
            report.WriteText(output);
        }

        return verdict.Refused || inside is { Refused: true } ? 1 : 0;
    }

    /// <summary>
    /// A request inside an inspected tunnel, as the proxy decides each one: the CONNECT's destination, client and identity,
    /// scheme https, its own method and normalised path (a path that cannot be normalised is a 400, before any rule).
    /// </summary>
    private static InsideRequest Inside(RequestPipeline pipeline, RequestFacts connect, AuthResult? identity, ExplainRequest input, string pathAndQuery)
    {
        string method = input.Method ?? "GET";
        if (!RequestPath.TryNormalise(pathAndQuery, out string path, out string problem))
        {
            return new InsideRequest(method, pathAndQuery, null, null, null) { Malformed = problem };
        }

        RequestFacts request = connect with
        {
            Method = method,
            Scheme = RequestScheme.Https,
            Path = path,
            MaxForwards = method is "TRACE" or "OPTIONS" ? input.MaxForwards : null,
        };
        Verdict verdict = pipeline.Decide(request, identity);
        return new InsideRequest(method, pathAndQuery, path, verdict, pipeline.Policy.Explain(pipeline.FactsForRules(request)));
    }

    /// <summary>What the target says beyond the facts: its URL scheme, the path as written, the request inside a tunnel.</summary>
    /// <param name="Scheme">The URL's scheme, lower-case; null for host:port.</param>
    /// <param name="RawPath">A forwarded request's path and query as written, for the report to show what it was read as.</param>
    /// <param name="Inside">For https:// and wss://: the path and query of the request a client sends inside the tunnel.</param>
    private readonly record struct Target(string? Scheme, string? RawPath, string? Inside);

    private static bool TryBuildFacts(ExplainRequest input, out RequestFacts? facts, out Target target, out string problem)
    {
        facts = null;
        target = default;
        if (!IPAddress.TryParse(input.Client, out IPAddress? client))
        {
            problem = $"--client '{input.Client}' is not an IP address";
            return false;
        }

        if (!RequestTargets.TryReadRequest(input.Target, input.Method, client, out RequestFacts request, out problem))
        {
            return false;
        }

        if (input.MaxForwards is < 0)
        {
            problem = "--max-forwards must be 0 or more";
            return false;
        }

        // A URL read again by the same parser, for what the facts of its CONNECT do not carry: scheme and path.
        if (input.Target.Contains("://", StringComparison.Ordinal) && HostPort.TryParseUri(input.Target, out UriTarget uri, out _))
        {
            target = new Target(uri.Scheme, request.Scheme is RequestScheme.Http or RequestScheme.Ftp ? uri.PathAndQuery : null, uri.Scheme is "https" or "wss" ? uri.PathAndQuery : null);
        }

        if (request.Scheme == RequestScheme.Http)
        {
            // As the proxy reads a forwarded request: paths: rules see the normalised path; one that cannot be read is a 400.
            if (!RequestPath.TryNormalise(target.RawPath ?? "/", out string path, out string why))
            {
                problem = $"the proxy answers 400 to this URL: {why}";
                return false;
            }

            request = request with { Path = path };
        }
        else if (target.Inside is not null && input.Method is { } method && !TryCheckInsideMethod(request, method, client, out problem))
        {
            return false;
        }

        facts = request with { User = input.User, MaxForwards = request.Method is "TRACE" or "OPTIONS" ? input.MaxForwards : null };
        return true;
    }

    // -X for the request inside a tunnel: checked as a forwarded request's method is (an HTTP token, case kept).
    private static bool TryCheckInsideMethod(RequestFacts connect, string method, IPAddress client, out string problem)
    {
        if (method == "CONNECT")
        {
            problem = "-X CONNECT: the proxy answers 400 to a CONNECT inside a tunnel; to explain the tunnel itself, give host:port or leave -X out";
            return false;
        }

        return RequestTargets.TryReadRequest($"http://{connect.Destination}/", method, client, out _, out problem);
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
}
