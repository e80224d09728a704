using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice check --usage URL</c>: reads the running proxy's <c>/api/rules</c> from its admin endpoint and lists the
/// rules that decided nothing since it started (candidates to prune), then every rule's hits, would-denies and last hit.
/// The figures are the proxy's (counted where it decides); this file only fetches, reads and prints them.
/// </summary>
internal static class CheckUsage
{
    /// <summary>Where the admin token is read from when <c>--token</c> is not given (a flag shows in the process list).</summary>
    public const string TokenVariable = "SLUICE_ADMIN_TOKEN";

    /// <summary>The admin endpoint could not be read: unreachable, refused, or not the rule usage document.</summary>
    public const int Unreadable = 3;

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <param name="url">The admin endpoint (<c>http://127.0.0.1:9090</c>), or its <c>/api/rules</c> itself.</param>
    /// <param name="token">The admin token, or null; never printed.</param>
    /// <param name="configured">The rule names of the file checked alongside, to say which are not the ones in force; null without one.</param>
    public static async Task<int> RunAsync(string url, string? token, bool json, IReadOnlyList<string>? configured, TextWriter output, TextWriter errors, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!TryEndpoint(url, out Uri? endpoint))
        {
            errors.WriteLine($"sluice check: --usage '{url}' is not an http:// or https:// URL of the admin endpoint (e.g. http://127.0.0.1:9090)");
            return 2;
        }

        string shown = endpoint!.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        (RuleUsageDocument? document, string? problem) = await FetchAsync(endpoint, token, timeout, cancellationToken).ConfigureAwait(false);
        if (document is null)
        {
            errors.WriteLine($"sluice check: {shown}: {problem}");
            return Unreadable;
        }

        if (json)
        {
            WriteJson(output, shown, document);
        }
        else
        {
            WriteText(output, shown, document);
        }

        if (configured is not null)
        {
            string[] notInForce = [.. configured.Except(document.Rules.Select(r => r.Name!), StringComparer.Ordinal)];
            string[] notInFile = [.. document.Rules.Select(r => r.Name!).Except(configured, StringComparer.Ordinal)];
            if (notInForce.Length > 0 || notInFile.Length > 0)
            {
                errors.WriteLine($"sluice check: warning: the proxy at {shown} runs other rules than the file checked{(notInForce.Length > 0 ? $"; not in force there: {string.Join(", ", notInForce)}" : "")}{(notInFile.Length > 0 ? $"; in force there but not in the file: {string.Join(", ", notInFile)}" : "")}");
            }
        }

        return 0;
    }

    // The admin endpoint's base URL, or /api/rules itself, as the URL to ask.
    private static bool TryEndpoint(string url, out Uri? endpoint)
    {
        endpoint = null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            return false;
        }

        string path = uri.AbsolutePath.TrimEnd('/');
        endpoint = new UriBuilder(uri) { Path = path.EndsWith("/api/rules", StringComparison.Ordinal) ? path : $"{path}/api/rules", Query = "", Fragment = "", UserName = "", Password = "" }.Uri;
        return true;
    }

    private static async Task<(RuleUsageDocument? Document, string? Problem)> FetchAsync(Uri endpoint, string? token, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // The admin endpoint is asked directly: never through HTTP_PROXY (this machine's proxy may be the one asked
        // about), and a redirect is not followed with the token.
        using var handler = new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, ConnectTimeout = timeout };
        using var client = new HttpClient(handler) { Timeout = timeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, endpoint);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        string body;
        try
        {
            using HttpResponseMessage response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                return (null, token is null
                    ? $"401 Unauthorized: the admin endpoint has a token (admin.token); give it in {TokenVariable} (or --token)"
                    : "401 Unauthorized: the admin endpoint refused the token given (admin.token differs)");
            }

            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return (null, "404 Not Found: no rule usage here; is this a Sluice admin endpoint (admin.address), and a Sluice that serves /api/rules?");
            }

            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (null, $"{(int)response.StatusCode} {response.ReasonPhrase}: expected 200 with the rule usage JSON");
            }

            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return (null, $"cannot reach the admin endpoint: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s");
        }

        return RuleUsageDocument.TryParse(body, out RuleUsageDocument? document, out string problem)
            ? (document, null)
            : (null, $"the answer is not Sluice's rule usage JSON ({problem})");
    }

    private static void WriteText(TextWriter output, string endpoint, RuleUsageDocument d)
    {
        bool report = d.Mode == "report";
        output.WriteLine($"rule usage: {endpoint}");
        output.WriteLine($"since:    {Time(d.Since)} (the proxy's start; configuration generation {d.ConfigGeneration}{(d.ConfigGeneration > 1 ? ": reloaded since, and a rule a reload added or renamed is counted from then" : "")})");
        output.WriteLine(report
            ? "mode:     REPORT: nothing is refused by the rules; every deny is only recorded (would-deny)"
            : "mode:     enforce");
        RuleUsageRow[] idle = [.. d.NeverHit];
        output.WriteLine(idle.Length == 0
            ? $"never hit: none of the {d.Rules.Length} rules"
            : $"never hit: {idle.Length} of {d.Rules.Length} rules, in order:");
        foreach (RuleUsageRow rule in idle)
        {
            output.WriteLine($"  line {rule.Line}: {rule.Name} ({rule.Action})");
        }

        string[][] rows =
        [
            ["#", "rule", "action", "line", "hits", "would-deny", "last hit"],
            .. d.Rules.Select((r, i) => Cells((i + 1).ToString(CultureInfo.InvariantCulture), r.Name!, r)),
            Cells("", "(default)", d.Default),
        ];
        int[] widths = [.. Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length))];
        bool[] right = [true, false, false, true, true, true, false];
        foreach (string[] row in rows)
        {
            output.WriteLine(("  " + string.Join("  ", row.Select((cell, c) => right[c] ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c])))).TrimEnd());
        }
    }

    private static string[] Cells(string number, string name, RuleUsageRow r) =>
    [
        number, name, r.Action, r.Line == 0 ? "-" : r.Line.ToString(CultureInfo.InvariantCulture),
        r.Hits.ToString(CultureInfo.InvariantCulture), r.WouldDeny.ToString(CultureInfo.InvariantCulture), r.LastHit is { } last ? Time(last) : "never",
    ];

    private static void WriteJson(TextWriter output, string endpoint, RuleUsageDocument d) => JsonOutput.Write(output, w =>
    {
        w.WriteStartObject();
        w.WriteString("endpoint", endpoint);
        w.WriteString("since", Time(d.Since));
        w.WriteString("mode", d.Mode);
        w.WriteNumber("configGeneration", d.ConfigGeneration);
        w.WriteStartArray("neverHit");
        foreach (RuleUsageRow rule in d.NeverHit)
        {
            w.WriteStartObject();
            w.WriteString("name", rule.Name);
            w.WriteString("action", rule.Action);
            w.WriteNumber("line", rule.Line);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("rules");
        foreach (RuleUsageRow rule in d.Rules)
        {
            w.WriteStartObject();
            w.WriteString("name", rule.Name);
            WriteFigures(w, rule);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("default");
        WriteFigures(w, d.Default);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static void WriteFigures(Utf8JsonWriter w, RuleUsageRow r)
    {
        w.WriteString("action", r.Action);
        if (r.Name is not null)
        {
            w.WriteNumber("line", r.Line);
        }

        w.WriteNumber("hits", r.Hits);
        w.WriteNumber("wouldDeny", r.WouldDeny);
        JsonOutput.WriteOptional(w, "lastHit", r.LastHit is { } last ? Time(last) : null);
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
