using System.Text.Json;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice explain</c>'s output: the pipeline's verdict, with the rules tried on the way, as text or one JSON
/// object. Rendering only; every answer in it comes from the <see cref="Verdict"/> (and, for an inspected tunnel, from the
/// verdict on the request inside).
/// </summary>
internal sealed class ExplainReport(Verdict verdict, Explanation trail, AuthResult? identity, string? user)
{
    // The route the pipeline chose; a refusal at resolution or the guard keeps it.
    private Route Route => verdict.Route;

    public string? Note { get; init; }

    /// <summary>For a tunnel when <c>tls.inspection</c> is configured: what the rules chose for its TLS, and why.</summary>
    public TlsChoice? Tls { get; init; }

    /// <summary>A forwarded request's path and query as written (the facts carry it normalised).</summary>
    public string? RawPath { get; init; }

    /// <summary>The request inside an inspected tunnel, decided as the proxy decides it.</summary>
    public InsideRequest? Inside { get; init; }

    /// <summary>Why an inspected tunnel has no request inside explained (a host:port target, a ws:// URL).</summary>
    public string? InsideNote { get; init; }

    private RequestFacts Facts => verdict.Facts;

    private string Scheme => Facts.Scheme switch
    {
        RequestScheme.Tunnel => "tunnel",
        RequestScheme.Ftp => "ftp",
        _ => "http",
    };

    private string Request => $"{Facts.Method} {Facts.Destination} ({Scheme}) from {Facts.Client}{(user is null ? "" : $" as {user}")}";

    /// <summary>The identity step in words; null when Basic authentication is not configured.</summary>
    private string? Identity => identity?.Outcome switch
    {
        null => null,
        AuthOutcome.Anonymous => "anonymous (no credentials)",
        AuthOutcome.Authenticated => $"{identity.Value.User}{(identity.Value.Groups.Count == 0 ? "" : $" (groups: {string.Join(", ", identity.Value.Groups)})")}",
        AuthOutcome.Failed => $"{user}: unknown user or wrong password",
        _ => $"{user}: too many failed attempts",
    };

    private bool AnsweredBySelf => !verdict.Refused && Route.Kind == RouteKind.Self;

    private string Outcome => verdict.Error is { } error
        ? $"{error.Status} {error.Reason} (Proxy-Status error={error.ProxyStatusError})"
        : AnsweredBySelf ? $"200 OK: Max-Forwards is 0, so the proxy answers the {Facts.Method} itself"
        : Facts.Scheme == RequestScheme.Ftp ? "fetched over FTP: the proxy logs in to the FTP server and answers the client in HTTP (the file, a listing, or the FTP server's refusal as 401/403/404)"
        : Facts.Scheme != RequestScheme.Tunnel ? "forwarded: the client gets the origin's response"
        : Tls?.Handling == TlsHandling.Inspect ? "200 Connection established: once the origin's certificate checks out (else 502), the proxy opens the tunnel and shows the client a certificate from the inspection CA"
        : "200 Connection established: the proxy opens the tunnel";

    /// <summary>A route in words: <c>via corp: a:3128, then b:3129 (failover), chosen by route.default</c>, <c>direct</c>.</summary>
    public static string Describe(Route route) => route.Kind switch
    {
        RouteKind.Self => "self (Max-Forwards: 0: no further than this proxy, nothing resolved)",
        RouteKind.Parent when route.FromDefault => $"{route}, chosen by route.default",
        _ => route.ToString(),
    };

    /// <summary>
    /// What <c>ftp: passive</c> means for this CONNECT: explain sees no open control tunnel, so it tells what their
    /// permits would do. Null when no such rule is concerned.
    /// </summary>
    private string? FtpPassive => verdict.FtpPassive
        ? $"passive (rule {verdict.Rule}): data ports are permitted per control connection: each 227/229 reply of the server in this tunnel lets this client make one CONNECT to the port it names, on the address this tunnel goes to"
        : verdict.Refused && verdict.Step == VerdictStep.Rules && verdict.PermitsFrom is { } rule
            ? $"refused unless an open control tunnel of rule {rule} from this client was sent this port in its server's 227/229 reply (a one-time passive permit)"
            : null;

    /// <summary>The upstream of a route through parent proxies; null for direct and self.</summary>
    private ParentUpstream? Upstream => Route.Kind == RouteKind.Parent ? Route.Upstream : null;

    /// <summary>Whether the resolution step ran: the verdict is ready, or the guard refused an address.</summary>
    private bool Resolved => verdict.Step is VerdictStep.Ready or VerdictStep.AddressGuard;

    /// <summary>What the address guard did with the destination of a route through parents, in words.</summary>
    private string CheckLine(ParentUpstream upstream)
    {
        DestinationCheck mode = upstream.Config.CheckDestinations;
        string said = $"checkDestinations {Word(mode)}";
        return Facts.Address is not null ? $"{said}: an IP address, checked here whatever the mode"
            : mode == DestinationCheck.Parent ? $"{said}: the parent resolves it"
            : !Resolved ? $"{said}: would be resolved here and checked"
            : verdict.ResolvedByParent ? "name not resolved here: sent to the parent by name, which resolves it"
            : $"{said}: resolved here and checked";
    }

    private static string Word(DestinationCheck mode) => mode.ToString().ToLowerInvariant();

    public void WriteText(TextWriter output)
    {
        output.WriteLine($"request:  {Request}");
        if (Facts.Path is { } path && PathWords(path, RawPath ?? "/") is var words && words != "/")
        {
            output.WriteLine($"path:     {words}");
        }

        if (Identity is { } who)
        {
            output.WriteLine($"identity: {who}");
        }

        WriteTrail(output, trail, verdict, "");
        if (!verdict.Refused || verdict.Step is VerdictStep.Resolution or VerdictStep.AddressGuard)
        {
            output.WriteLine($"route:    {Describe(Route)}{(Facts.Scheme == RequestScheme.Tunnel && Tls is null ? $", {TlsWords}" : "")}");
            if (Upstream is { } upstream)
            {
                output.WriteLine("parents:  every parent proxy is taken as up here; the running proxy tries those marked down last");
                output.WriteLine($"address:  {CheckLine(upstream)}");
            }
        }

        if (Tls?.Reason is { } why)
        {
            output.WriteLine($"tls:      {why}");
        }

        foreach (AddressCheck check in verdict.Addresses)
        {
            output.WriteLine($"address:  {check.Address}: {(check.Decision.Allowed ? "permitted" : "refused")}: {check.Decision.Detail}");
        }

        if (verdict.Step is VerdictStep.Resolution || (Upstream is not null && verdict.Step is VerdictStep.AddressGuard))
        {
            output.WriteLine($"address:  {verdict.Detail}");
        }

        if (Note is not null)
        {
            output.WriteLine($"address:  {Note}");
        }

        WriteIdentityRefusal(output, verdict, "");
        if (FtpPassive is { } ftp)
        {
            output.WriteLine($"ftp:      {ftp}");
        }

        output.WriteLine($"result:   {Outcome}");
        if (Inside is { } inside)
        {
            WriteInside(output, inside);
        }
        else if (InsideNote is not null)
        {
            output.WriteLine($"inside:   {InsideNote}");
        }
    }

    // The second decision: the request inside the tunnel, its lines indented under it.
    private void WriteInside(TextWriter output, InsideRequest inside)
    {
        output.WriteLine($"inside:   {inside.Method} {inside.Target} (https) in the tunnel to {Facts.Destination}");
        if (inside.Verdict is not { } decided)
        {
            output.WriteLine($"  result:   {Words(inside.Error!)}: {inside.Malformed}");
            return;
        }

        output.WriteLine($"  path:     {PathWords(inside.Path!, inside.Target)}");
        WriteTrail(output, inside.Trail!, decided, "  ");
        WriteIdentityRefusal(output, decided, "  ");
        output.WriteLine($"  result:   {(decided.Error is { } error ? $"{Words(error)}, inside the tunnel, which stays open"
            : decided.Route.Kind == RouteKind.Self ? $"200 OK: Max-Forwards is 0, so the proxy answers the {inside.Method} itself"
            : "forwarded over the tunnel's TLS connection to the origin: the client gets the origin's response")}");
    }

    private static void WriteTrail(TextWriter output, Explanation explained, Verdict decided, string indent)
    {
        for (int i = 0; i < explained.Evaluated.Length; i++)
        {
            RuleEvaluation e = explained.Evaluated[i];
            output.WriteLine($"{indent}rule {i + 1}:   {e.Rule.Name} ({e.Rule.Action.ToString().ToLowerInvariant()}, line {e.Rule.Line}): {e.Mismatch ?? "MATCHES"}");
        }

        if (decided.Rules is { } rules)
        {
            output.WriteLine($"{indent}decision: {(rules.Reported ? "would deny" : rules.Allowed ? "allow" : "deny")}: {rules.Detail}");
        }

        if (ReportWords(decided, explained) is { } report)
        {
            output.WriteLine($"{indent}report:   {report}");
        }
    }

    /// <summary>
    /// A would-deny in words, from the verdict: the refusal enforcing would answer (<see cref="Verdict.WouldRefuse"/>)
    /// and who would refuse; null when the verdict is no would-deny.
    /// </summary>
    private static string? ReportWords(Verdict decided, Explanation explained)
    {
        if (decided.WouldRefuse is not { } kind || decided.Rules is not { } rules)
        {
            return null;
        }

        string by = rules.Rule is { } rule ? $"rule {rule}" : "the default";
        string how = explained.Evaluated.Any(e => e.Mismatch is null && e.Rule.Name == rules.Rule && e.Rule.Action == RuleAction.Report) ? "action: report" : "mode: report";
        string would = kind == ProxyErrorKind.AuthenticationRequired
            ? $"{Words(ProxyErrors.Describe(kind))} first, to ask for credentials (a rule for this destination names users or groups; anonymous, {by} would deny it)"
            : $"{Words(ProxyErrors.Describe(kind))} by {by}";
        return decided.Refused
            ? $"the rules let it through in report mode ({how}), where enforce would answer {would}; refused all the same by a later step"
            : $"allowed in report mode ({how}); enforce would answer {would}";
    }

    private static void WriteIdentityRefusal(TextWriter output, Verdict decided, string indent)
    {
        if (decided.Step == VerdictStep.Identity || decided.Refusal == ProxyErrorKind.AuthenticationRequired)
        {
            output.WriteLine($"{indent}identity: {decided.Detail}");
        }
    }

    private static string Words(ProxyErrorInfo error) => $"{error.Status} {error.Reason} (Proxy-Status error={error.ProxyStatusError})";

    /// <summary>A normalised path, with the path as written when the normalisation changed it.</summary>
    private static string PathWords(string path, string written)
    {
        int end = written.AsSpan().IndexOfAny('?', '#');
        string raw = end < 0 ? written : written[..end];
        return raw.Length == 0 || raw == path ? path : $"{path} (read from {raw})";
    }

    private string TlsWords => verdict.Tls == TlsHandling.Tunnel ? "tls: relayed untouched" : $"tls: {verdict.Tls.ToString().ToLowerInvariant()}";

    public void WriteJson(TextWriter output)
    {
        JsonOutput.Write(output, w =>
        {
            w.WriteStartObject();
            w.WriteString("method", Facts.Method);
            w.WriteString("host", Facts.Host);
            w.WriteNumber("port", Facts.Port);
            w.WriteString("scheme", Scheme);
            w.WriteString("client", Facts.Client.ToString());
            if (identity is { } found)
            {
                w.WriteStartObject("identity");
                w.WriteString("outcome", found.Outcome.ToString().ToLowerInvariant());
                if (found.User is not null)
                {
                    w.WriteString("user", found.User);
                    w.WriteStartArray("groups");
                    foreach (string group in found.Groups)
                    {
                        w.WriteStringValue(group);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            if (Facts.Path is not null)
            {
                w.WriteString("path", Facts.Path);
            }

            WriteRules(w, trail, verdict);
            w.WriteString("step", verdict.Step.ToString().ToLowerInvariant());
            w.WriteString("route", Route.Kind.ToString().ToLowerInvariant());
            if (Upstream is { } upstream)
            {
                w.WriteString("upstream", upstream.Name);
                w.WriteStartArray("parents");
                foreach (ParentProxy parent in Route.Order)
                {
                    w.WriteStringValue(parent.Endpoint);
                }

                w.WriteEndArray();
                w.WriteString("balance", ParentUpstream.Describe(upstream.Config.Balance));
                w.WriteString("routeChosenBy", Route.FromDefault ? "route.default" : "rule");
                w.WriteString("checkDestinations", Word(upstream.Config.CheckDestinations));
                if (Resolved)
                {
                    w.WriteString("resolvedBy", verdict.ResolvedByParent ? "parent" : "local");
                }
            }

            w.WriteString("tls", Word(Tls?.Handling ?? verdict.Tls));
            if (Tls is { } tls)
            {
                if (tls.Reason is { } why)
                {
                    w.WriteString("tlsReason", why);
                }

                w.WriteBoolean("neverInspected", tls.NeverInspected);
            }

            w.WriteStartArray("addresses");
            foreach (AddressCheck check in verdict.Addresses)
            {
                w.WriteStartObject();
                w.WriteString("address", check.Address.ToString());
                w.WriteBoolean("permitted", check.Decision.Allowed);
                w.WriteString("detail", check.Decision.Detail);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (Note is not null)
            {
                w.WriteString("note", Note);
            }

            if (FtpPassive is { } ftp)
            {
                w.WriteString("ftp", ftp);
            }

            w.WriteBoolean("refused", verdict.Refused);
            w.WriteString("detail", verdict.Detail);
            if (verdict.Error is { } error)
            {
                w.WriteNumber("status", error.Status);
                w.WriteString("proxyStatus", error.ProxyStatusError);
            }
            else if (Facts.Scheme == RequestScheme.Tunnel || AnsweredBySelf)
            {
                w.WriteNumber("status", 200);
            }

            if (Inside is { } inside)
            {
                WriteInside(w, inside);
            }
            else if (InsideNote is not null)
            {
                w.WriteString("insideNote", InsideNote);
            }

            w.WriteEndObject();
        });
    }

    // The request inside an inspected tunnel, in the shape of the top level: its rules, decision, refusal and status.
    private static void WriteInside(Utf8JsonWriter w, InsideRequest inside)
    {
        w.WriteStartObject("inside");
        w.WriteString("method", inside.Method);
        w.WriteString("scheme", "https");
        w.WriteString("target", inside.Target);
        if (inside.Path is not null)
        {
            w.WriteString("path", inside.Path);
        }

        if (inside.Verdict is { } decided)
        {
            WriteRules(w, inside.Trail!, decided);
            w.WriteString("step", decided.Step.ToString().ToLowerInvariant());
        }

        w.WriteBoolean("refused", inside.Refused);
        w.WriteString("detail", inside.Malformed ?? inside.Verdict!.Detail);
        if (inside.Error is { } error)
        {
            w.WriteNumber("status", error.Status);
            w.WriteString("proxyStatus", error.ProxyStatusError);
        }
        else if (inside.Verdict!.Route.Kind == RouteKind.Self)
        {
            w.WriteNumber("status", 200);
        }

        w.WriteEndObject();
    }

    // Every rule tried, then what the rules decided: the same fields for the CONNECT and for a request inside it.
    private static void WriteRules(Utf8JsonWriter w, Explanation explained, Verdict decided)
    {
        w.WriteStartArray("rules");
        foreach (RuleEvaluation e in explained.Evaluated)
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
        if (decided.Rules is { } rules)
        {
            w.WriteBoolean("allowedByPolicy", rules.Allowed);
            if (rules.Rule is not null)
            {
                w.WriteString("rule", rules.Rule);
            }

            w.WriteString("decision", rules.Detail);
        }

        if (decided.WouldRefuse is { } would)
        {
            // A would-deny, in the access log's words: let through in report mode; enforced, this answer instead.
            ProxyErrorInfo info = ProxyErrors.Describe(would);
            w.WriteBoolean("report", true);
            w.WriteNumber("wouldStatus", info.Status);
            w.WriteString("wouldError", info.ProxyStatusError);
        }
    }

    private static string Word(TlsHandling handling) => handling.ToString().ToLowerInvariant();
}

/// <summary>
/// A tunnel's TLS handling as the rules chose it (the verdict of <see cref="RequestPipeline.Decide"/>, before resolution),
/// when inspection is configured, and whether <c>tls.inspection.neverInspect</c> names the destination.
/// </summary>
internal sealed record TlsChoice(Verdict Decided, bool NeverInspected)
{
    public TlsHandling Handling => Decided.Tls;

    /// <summary>Why, in words; null for a tunnel the rules refused, which has no TLS to speak of.</summary>
    public string? Reason => Handling == TlsHandling.Inspect ? $"inspected: rule {Decided.Rule} says tls: inspect"
        : NeverInspected ? $"never inspected: tls.inspection.neverInspect lists it; {Tunnelled ?? "rules with paths or methods cannot match its CONNECT"}"
        : Tunnelled;

    // Who let the tunnel through untouched; null when the rules refused it.
    private string? Tunnelled => Decided.Rules is not { Allowed: true } rules ? null
        : rules.Reported ? "tunnelled untouched: a would-deny goes on as if no rule had matched (report mode)"
        : rules.Rule is { } rule ? $"tunnelled untouched by rule {rule}"
        : "tunnelled untouched: no rule matched and the default is allow";
}

/// <summary>
/// The request inside an inspected tunnel: its method and path and the verdict on it, or, for a path that cannot be
/// normalised, the 400 it gets before any rule.
/// </summary>
/// <param name="Target">The path and query as a client sends them inside the tunnel.</param>
/// <param name="Path">The normalised path the rules see; null when it could not be normalised.</param>
internal sealed record InsideRequest(string Method, string Target, string? Path, Verdict? Verdict, Explanation? Trail)
{
    /// <summary>Why the path could not be normalised; then the request is a 400.</summary>
    public string? Malformed { get; init; }

    public bool Refused => Malformed is not null || Verdict!.Refused;

    public ProxyErrorInfo? Error => Malformed is not null ? ProxyErrors.Describe(ProxyErrorKind.MalformedRequest) : Verdict!.Error;
}
