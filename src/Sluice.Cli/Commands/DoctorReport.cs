using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Sluice.Client;
using Sluice.Client.Diagnostics;
using Spectre.Console;

namespace Sluice.Cli.Commands;

/// <summary>Doctor's results as a table (plain aligned text, or Spectre.Console on a terminal) or one JSON document.</summary>
internal static class DoctorReport
{
    private static readonly string[] Headers = ["TARGET", "PROXY", "PROXY TLS", "AUTH", "CONNECT", "ORIGIN TLS", "INTERCEPTION", "TIMES", "RESULT"];

    public static void WriteText(TextWriter output, ProxySettings proxy, ImmutableArray<ProbeResult> results)
    {
        output.WriteLine($"proxy: {proxy.ToUrl(includeCredentials: false)}");
        List<string[]> rows = [Headers, .. results.Select(Cells)];
        int[] widths = Enumerable.Range(0, Headers.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (string[] row in rows)
        {
            var line = new StringBuilder();
            for (int c = 0; c < row.Length; c++)
            {
                line.Append(c == row.Length - 1 ? row[c] : row[c].PadRight(widths[c] + 2));
            }

            output.WriteLine(line.ToString().TrimEnd());
        }

        WriteFailures(output, results);
    }

    public static void WriteTable(TextWriter output, ProxySettings proxy, ImmutableArray<ProbeResult> results)
    {
        IAnsiConsole console = Terminal(output);
        var table = new Table { Border = TableBorder.Rounded, Title = new TableTitle($"proxy {Markup.Escape(proxy.ToUrl(includeCredentials: false))}") };
        foreach (string header in Headers)
        {
            table.AddColumn(new TableColumn($"[bold]{header}[/]"));
        }

        foreach (ProbeResult result in results)
        {
            string[] cells = Cells(result);
            table.AddRow(cells.Select((cell, c) => Colour(cell, c, result)).ToArray());
        }

        console.Write(table);
        WriteFailures(output, results);
    }

    /// <summary>The parents probed with --parents, one line each, with a hint for each failure.</summary>
    public static void WriteParents(TextWriter output, IReadOnlyList<ParentCheck> checks)
    {
        output.WriteLine();
        output.WriteLine("parents (connected to from here, with each upstream's credentials and ca):");
        foreach (ParentCheck check in checks)
        {
            output.WriteLine($"{check.Upstream} {check.Parent}{(check.Target is { } t ? $" (CONNECT {t})" : "")}: {check.Outcome}: {check.Detail}");
            if (!check.Passed || check.Probe is null)
            {
                output.WriteLine($"  hint: {check.Hint}");
            }
        }

        int failed = checks.Count(c => !c.Passed);
        output.WriteLine();
        output.WriteLine($"{checks.Count} parent{(checks.Count == 1 ? "" : "s")}: {checks.Count - failed} passed, {failed} failed");
    }

    public static IAnsiConsole Terminal(TextWriter output) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });

    private static string Colour(string cell, int column, ProbeResult result)
    {
        string text = Markup.Escape(Headers[column] == "TIMES" ? cell.Replace(", ", "\n", StringComparison.Ordinal) : cell);
        return (Headers[column], cell) switch
        {
            ("RESULT", _) => result.Passed ? $"[green]{text}[/]" : $"[red bold]{text}[/]",
            ("INTERCEPTION", "YES") => $"[red bold]{text}[/]",
            ("INTERCEPTION", "trusted via --ca") => $"[yellow]{text}[/]",
            _ when FailedColumn(result, column) => $"[red]{text}[/]",
            _ => text,
        };
    }

    private static bool FailedColumn(ProbeResult result, int column) => Headers[column] switch
    {
        "PROXY" => result[ProbePhase.ProxyConnect].Outcome == PhaseOutcome.Failed,
        "PROXY TLS" => result[ProbePhase.ProxyTls].Outcome == PhaseOutcome.Failed,
        "AUTH" => result[ProbePhase.ProxyAuth].Outcome == PhaseOutcome.Failed,
        "CONNECT" => result[ProbePhase.Connect].Outcome == PhaseOutcome.Failed,
        "ORIGIN TLS" => result[ProbePhase.OriginTls].Outcome == PhaseOutcome.Failed,
        _ => false,
    };

    private static void WriteFailures(TextWriter output, ImmutableArray<ProbeResult> results)
    {
        int failed = results.Count(r => !r.Passed);
        foreach (ProbeResult result in results.Where(r => !r.Passed))
        {
            output.WriteLine();
            output.WriteLine($"{result.Target}: {result.Failure}");
            output.WriteLine($"  hint: {result.Hint}");
        }

        output.WriteLine();
        output.WriteLine($"{results.Length} target{(results.Length == 1 ? "" : "s")}: {results.Length - failed} passed, {failed} failed");
    }

    internal static string[] Cells(ProbeResult r) =>
    [
        r.Target.ToString(),
        r.ProxyReachable ? "ok" : "unreachable",
        ProxyTls(r),
        Auth(r),
        Connect(r),
        OriginTls(r),
        r.OriginCertificate is null ? "-" : r.Interception switch
        {
            Interception.Intercepted => "YES",
            Interception.TrustedViaCa => "trusted via --ca",
            _ => "no",
        },
        Times(r),
        r.Passed ? "ok" : "FAIL",
    ];

    private static string ProxyTls(ProbeResult r)
    {
        PhaseResult phase = r[ProbePhase.ProxyTls];
        return phase.Outcome switch
        {
            PhaseOutcome.Passed => $"ok ({r.ProxyCertificate?.IssuerName ?? "unverified"})",
            PhaseOutcome.Failed when r.ProxyCertificate is { NameMatches: false } => "wrong name",
            PhaseOutcome.Failed when r.ProxyCertificate is { Trust: CertificateTrust.Untrusted } c => $"untrusted ({c.IssuerName})",
            PhaseOutcome.Failed => "failed",
            PhaseOutcome.NotApplicable => "n/a",
            _ => "-",
        };
    }

    private static string Auth(ProbeResult r) => r.Auth switch
    {
        AuthState.NotRequired => "none",
        AuthState.Accepted => "ok",
        AuthState.Required => r.Connect?.AuthenticateRealm is { } realm ? $"407 realm={realm}" : "407",
        AuthState.Rejected => "rejected",
        _ => "-",
    };

    private static string Connect(ProbeResult r) => r.Connect switch
    {
        null => r[ProbePhase.Connect].Outcome == PhaseOutcome.Failed ? "no answer" : "-",
        { ProxyStatusError: { } error } c => $"{c.Status} {error}",
        { } c => c.Status.ToString(CultureInfo.InvariantCulture),
    };

    private static string OriginTls(ProbeResult r)
    {
        PhaseResult phase = r[ProbePhase.OriginTls];
        return phase.Outcome switch
        {
            PhaseOutcome.NotApplicable => "n/a",
            PhaseOutcome.NotReached => "-",
            _ when r.OriginCertificate is { } c => $"{(phase.Outcome == PhaseOutcome.Passed ? "ok" : c.NameMatches ? "untrusted" : "wrong name")} ({c.IssuerName})",
            _ => "failed",
        };
    }

    private static string Times(ProbeResult r)
    {
        var parts = new List<string>();
        foreach (PhaseResult phase in r.Phases.Where(p => p.Duration is not null))
        {
            parts.Add($"{ShortName(phase.Phase)} {Milliseconds(phase.Duration!.Value)}ms");
        }

        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }

    private static string ShortName(ProbePhase phase) => phase switch
    {
        ProbePhase.ProxyConnect => "tcp",
        ProbePhase.ProxyTls => "tls",
        ProbePhase.ProxyAuth => "auth",
        ProbePhase.Connect => "connect",
        _ => "origin",
    };

    private static string Milliseconds(TimeSpan duration) => duration.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
}
