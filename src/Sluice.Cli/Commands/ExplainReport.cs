using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Rules;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Pipeline;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice explain</c>'s output: the pipeline's verdict, with the rules tried on the way, as text or one JSON
/// object. Rendering only; every answer in it comes from the <see cref="Verdict"/>.
/// </summary>
internal sealed class ExplainReport(Verdict verdict, Explanation trail, AuthResult? identity, string? user)
{
    // The route the pipeline chose; a refusal at resolution or the guard keeps it.
    private Route Route => verdict.Route;

    public string? Note { get; init; }

    private RequestFacts Facts => verdict.Facts;

    private string Scheme => Facts.Scheme == RequestScheme.Tunnel ? "tunnel" : "http";

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
        : Facts.Scheme == RequestScheme.Tunnel ? "200 Connection established: the proxy opens the tunnel" : "forwarded: the client gets the origin's response";

    /// <summary>A route in words: <c>via corp: a:3128, then b:3129 (failover), chosen by route.default</c>, <c>direct</c>.</summary>
    public static string Describe(Route route) => route.Kind switch
    {
        RouteKind.Self => "self (Max-Forwards: 0: no further than this proxy, nothing resolved)",
        RouteKind.Parent when route.FromDefault => $"{route}, chosen by route.default",
        _ => route.ToString(),
    };

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
        if (Identity is { } who)
        {
            output.WriteLine($"identity: {who}");
        }

        for (int i = 0; i < trail.Evaluated.Length; i++)
        {
            RuleEvaluation e = trail.Evaluated[i];
            output.WriteLine($"rule {i + 1}:   {e.Rule.Name} ({e.Rule.Action.ToString().ToLowerInvariant()}, line {e.Rule.Line}): {e.Mismatch ?? "MATCHES"}");
        }

        if (verdict.Rules is { } rules)
        {
            output.WriteLine($"decision: {(rules.Allowed ? "allow" : "deny")}: {rules.Detail}");
        }

        if (!verdict.Refused || verdict.Step is VerdictStep.Resolution or VerdictStep.AddressGuard)
        {
            output.WriteLine($"route:    {Describe(Route)}{(Facts.Scheme == RequestScheme.Tunnel ? $", {Tls}" : "")}");
            if (Upstream is { } upstream)
            {
                output.WriteLine("parents:  every parent proxy is taken as up here; the running proxy tries those marked down last");
                output.WriteLine($"address:  {CheckLine(upstream)}");
            }
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

        if (verdict.Step == VerdictStep.Identity || verdict.Refusal == ProxyErrorKind.AuthenticationRequired)
        {
            output.WriteLine($"identity: {verdict.Detail}");
        }

        output.WriteLine($"result:   {Outcome}");
    }

    private string Tls => verdict.Tls == TlsHandling.Tunnel ? "tls: relayed untouched" : $"tls: {verdict.Tls.ToString().ToLowerInvariant()}";

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

            w.WriteStartArray("rules");
            foreach (RuleEvaluation e in trail.Evaluated)
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
            if (verdict.Rules is { } rules)
            {
                w.WriteBoolean("allowedByPolicy", rules.Allowed);
                if (rules.Rule is not null)
                {
                    w.WriteString("rule", rules.Rule);
                }

                w.WriteString("decision", rules.Detail);
            }

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

            w.WriteString("tls", verdict.Tls.ToString().ToLowerInvariant());
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

            w.WriteEndObject();
        });
    }
}
