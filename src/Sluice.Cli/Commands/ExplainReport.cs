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

    private bool AnsweredBySelf => !verdict.Refused && verdict.Route.Kind == RouteKind.Self;

    private string Outcome => verdict.Error is { } error
        ? $"{error.Status} {error.Reason} (Proxy-Status error={error.ProxyStatusError})"
        : AnsweredBySelf ? $"200 OK: Max-Forwards is 0, so the proxy answers the {Facts.Method} itself"
        : Facts.Scheme == RequestScheme.Tunnel ? "200 Connection established: the proxy opens the tunnel" : "forwarded: the client gets the origin's response";

    private string Route => verdict.Route.Kind switch
    {
        RouteKind.Self => "self (Max-Forwards: 0: no further than this proxy, nothing resolved)",
        _ => verdict.Route.ToString(),
    };

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
            output.WriteLine($"route:    {Route}{(Facts.Scheme == RequestScheme.Tunnel ? $", {Tls}" : "")}");
        }

        foreach (AddressCheck check in verdict.Addresses)
        {
            output.WriteLine($"address:  {check.Address}: {(check.Decision.Allowed ? "permitted" : "refused")}: {check.Decision.Detail}");
        }

        if (verdict.Step is VerdictStep.Resolution)
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
            w.WriteString("route", verdict.Route.Kind.ToString().ToLowerInvariant());
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
