using System.Collections.Immutable;
using System.Text.Json;
using Sluice.Client;
using Sluice.Client.Diagnostics;

namespace Sluice.Cli.Commands;

/// <summary><c>sluice doctor --json</c>: the results as one JSON document, for scripts.</summary>
internal static class DoctorJson
{
    private static string JsonName(ProbePhase phase) => phase switch
    {
        ProbePhase.ProxyConnect => "proxyConnect",
        ProbePhase.ProxyTls => "proxyTls",
        ProbePhase.ProxyAuth => "proxyAuth",
        ProbePhase.Connect => "connect",
        _ => "originTls",
    };

    private static string Kebab(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <param name="parents">The parents probed with --parents; null when not asked for.</param>
    public static void Write(TextWriter output, ProxySettings proxy, ImmutableArray<ProbeResult> results, IReadOnlyList<string> notes, IReadOnlyList<ParentCheck>? parents)
    {
        JsonOutput.Write(output, w =>
        {
            w.WriteStartObject();
            w.WriteString("proxy", proxy.ToUrl(includeCredentials: false));
            w.WriteBoolean("passed", results.All(r => r.Passed) && (parents ?? []).All(p => p.Passed));
            w.WriteStartArray("notes");
            foreach (string note in notes)
            {
                w.WriteStringValue(note);
            }

            w.WriteEndArray();
            w.WriteStartArray("targets");
            foreach (ProbeResult r in results)
            {
                WriteResult(w, r);
            }

            w.WriteEndArray();
            if (parents is not null)
            {
                WriteParents(w, parents);
            }

            w.WriteEndObject();
        });
    }

    private static void WriteParents(Utf8JsonWriter w, IReadOnlyList<ParentCheck> checks)
    {
        w.WriteStartArray("parents");
        foreach (ParentCheck check in checks)
        {
            w.WriteStartObject();
            w.WriteString("upstream", check.Upstream);
            w.WriteString("parent", check.Parent);
            if (check.Target is { } target)
            {
                w.WriteString("target", target.ToString());
            }

            w.WriteString("outcome", check.Outcome);
            w.WriteBoolean("passed", check.Passed);
            w.WriteString("detail", check.Detail);
            if (check.Hint is not null)
            {
                w.WriteString("hint", check.Hint);
            }

            if (check.Probe is { } probe)
            {
                w.WritePropertyName("probe");
                WriteResult(w, probe);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteResult(Utf8JsonWriter w, ProbeResult r)
    {
        w.WriteStartObject();
        w.WriteString("target", r.Target.ToString());
        w.WriteString("host", r.Target.Host);
        w.WriteNumber("port", r.Target.Port);
        w.WriteBoolean("passed", r.Passed);
        w.WriteBoolean("proxyReachable", r.ProxyReachable);
        w.WriteString("proxyFault", Kebab(r.ProxyFault.ToString()));
        WriteCertificate(w, "proxyCertificate", r.ProxyCertificate);
        w.WriteString("auth", Kebab(r.Auth.ToString()));
        if (r.Connect is { } c)
        {
            w.WriteStartObject("connect");
            w.WriteNumber("status", c.Status);
            w.WriteString("reason", c.Reason);
            JsonOutput.WriteOptional(w, "proxyStatus", c.ProxyStatus);
            JsonOutput.WriteOptional(w, "error", c.ProxyStatusError);
            JsonOutput.WriteOptional(w, "details", c.ProxyStatusDetails);
            JsonOutput.WriteOptional(w, "realm", c.AuthenticateRealm);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("connect");
        }

        WriteCertificate(w, "originCertificate", r.OriginCertificate);
        w.WriteString("interception", Kebab(r.Interception.ToString()));
        w.WriteStartArray("phases");
        foreach (PhaseResult phase in r.Phases)
        {
            w.WriteStartObject();
            w.WriteString("phase", JsonName(phase.Phase));
            w.WriteString("outcome", Kebab(phase.Outcome.ToString()));
            if (phase.Duration is { } d)
            {
                w.WriteNumber("ms", Math.Round(d.TotalMilliseconds, 3));
            }
            else
            {
                w.WriteNull("ms");
            }

            w.WriteString("detail", phase.Detail);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        JsonOutput.WriteOptional(w, "failure", r.Failure);
        JsonOutput.WriteOptional(w, "hint", r.Hint);
        w.WriteEndObject();
    }

    private static void WriteCertificate(Utf8JsonWriter w, string name, CertificateReport? c)
    {
        if (c is null)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        w.WriteString("subject", c.Subject);
        w.WriteString("issuer", c.Issuer);
        w.WriteString("issuerName", c.IssuerName);
        w.WriteString("notAfter", c.NotAfter);
        w.WriteString("trust", Kebab(c.Trust.ToString()));
        w.WriteBoolean("nameMatches", c.NameMatches);
        JsonOutput.WriteOptional(w, "protocol", c.Protocol);
        if (c.ChainProblem.Length > 0)
        {
            w.WriteString("chainProblem", c.ChainProblem);
        }

        w.WriteEndObject();
    }

}
