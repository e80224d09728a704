using System.Net;
using System.Text;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Conformance;

/// <summary>
/// Runs every row of <see cref="ConformanceTable"/> against the real proxy and a hostile origin on loopback, over
/// raw sockets, and keeps docs/conformance.md in step with the table.
/// </summary>
public sealed class ConformanceTests
{
    private const string OriginName = "o.test";

    public static TheoryData<string> Ids => new(ConformanceTable.Rows.Select(r => r.Id));

    [Theory]
    [MemberData(nameof(Ids))]
    public async Task Row(string id)
    {
        Row row = ConformanceTable.Rows.Single(r => r.Id == id);
        Outcome o = await RunAsync(row);

        Assert.True(row.Status == o.Status, $"{id}: expected status {row.Status}, got {o.Status}\n{o}");
        if (o.Status >= 400)
        {
            Assert.True(o.HeadHas("Proxy-Status"), $"{id}: an error Sluice generates names itself in Proxy-Status\n{o}");
        }

        if (row.Side == Side.Request)
        {
            bool forwarded = row.Forwarded ?? row.Status is > 0 and < 400;
            Assert.True(forwarded == o.OriginRequests > 0, $"{id}: the request {(forwarded ? "should" : "must not")} reach the origin\n{o}");
        }
        else
        {
            // Whatever the origin sent, the next request to it gets its own answer: nothing of one exchange leaks into another.
            Assert.True(o.FollowUp == HostileOrigin.FreshBody, $"{id}: the next request to the same origin got '{o.FollowUp}' instead of its own response\n{o}");
        }

        Assert.True(row.Check?.Invoke(o) ?? true, $"{id}: {row.Sluice}\n{o}");
    }

    private static async Task<Outcome> RunAsync(Row row)
    {
        await using var origin = new HostileOrigin(row.Side == Side.Response ? row.Send : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        await using TestProxy proxy = await TestProxy.StartAsync(WithDeniedName);
        proxy.Resolver.Map(OriginName, IPAddress.Loopback);
        string authority = $"{OriginName}:{origin.Port}";
        var outcome = new Outcome();
        using (RawClient client = await RawClient.ConnectAsync(proxy.Endpoint))
        {
            await client.SendAsync((row.Side == Side.Request ? row.Send : row.Request).Replace("{o}", authority, StringComparison.Ordinal));
            for (int i = 0; i < row.Responses; i++)
            {
                outcome = await Outcome.ReadAsync(client.Stream, row.Method);
            }
        }

        if (row.Side == Side.Response)
        {
            // Late bytes included, the hostile answer has been sent before anyone asks again.
            await origin.FirstAnswered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await Task.Delay(50);
            using RawClient next = await RawClient.ConnectAsync(proxy.Endpoint);
            await next.SendAsync($"GET http://{authority}/next HTTP/1.1\r\nHost: {authority}\r\n\r\n");
            Outcome followUp = await Outcome.ReadAsync(next.Stream);
            outcome.FollowUp = followUp.Body;
        }

        outcome.Origin = origin.Received;
        outcome.OriginConnections = origin.Connections;
        outcome.OriginRequests = origin.Requests;
        return outcome;
    }

    /// <summary>Everything is allowed but one name, for the rows about what a refusal still decides.</summary>
    private static Policy.Config.SluiceConfig WithDeniedName(Policy.Config.SluiceConfig config) => config with
    {
        Rules = Policy.Config.ConfigLoader.Parse("rules:\n  - name: not-this\n    action: deny\n    destinations: [denied.test]\ndefault: allow\n", "conformance.yaml").Rules,
    };

    [Fact]
    public void Row_ids_are_unique()
    {
        string[] duplicates = ConformanceTable.Rows.GroupBy(r => r.Id).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        Assert.True(duplicates.Length == 0, $"duplicate row ids: {string.Join(", ", duplicates)}");
    }

    /// <summary>docs/conformance.md holds the table rendered from the data. SLUICE_UPDATE_DOCS=1 rewrites it.</summary>
    [Fact]
    public void The_documented_table_is_the_tested_table()
    {
        string path = Path.Combine(RepositoryRoot(), "docs", "conformance.md");
        string doc = File.ReadAllText(path);
        const string start = "<!-- table:start (generated from tests/Sluice.Proxy.Tests/Conformance/ConformanceTable.cs) -->";
        const string end = "<!-- table:end -->";
        int from = doc.IndexOf(start, StringComparison.Ordinal);
        int to = doc.IndexOf(end, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{path} has no table markers");
        string rendered = Render();
        string current = doc[(from + start.Length)..to];
        if (Environment.GetEnvironmentVariable("SLUICE_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, doc[..(from + start.Length)] + rendered + doc[to..]);
            return;
        }

        Assert.True(current == rendered, $"{path} is out of date with the conformance table; run the tests with SLUICE_UPDATE_DOCS=1 and review the diff");
    }

    /// <summary>What Squid and Apache Traffic Server did with the same probe, measured by bench/conformance/compare.py.</summary>
    private static Dictionary<string, (string Squid, string Ats)> Peers()
    {
        var peers = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(Path.Combine(RepositoryRoot(), "bench", "conformance", "peers.tsv")).Skip(1))
        {
            string[] cells = line.Split('\t');
            if (cells.Length == 3)
            {
                peers[cells[0]] = (cells[1], cells[2]);
            }
        }

        return peers;
    }

    [Fact]
    public void Every_compared_row_is_a_row_of_the_table()
    {
        string[] stale = Peers().Keys.Except(ConformanceTable.Rows.Select(r => r.Id)).ToArray();
        Assert.True(stale.Length == 0, $"bench/conformance/peers.tsv names rows the table no longer has: {string.Join(", ", stale)}");
    }

    private static string Render()
    {
        Dictionary<string, (string Squid, string Ats)> peers = Peers();
        var table = new StringBuilder("\n| id | section | level | requirement | what Sluice does | Squid 5.7 | ATS 9.2 |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (Row row in ConformanceTable.Rows)
        {
            (string squid, string ats) = peers.TryGetValue(row.Id, out var measured) ? measured : ("not compared", "not compared");
            table.Append($"| `{row.Id}` | {row.Section} | {row.Level} | {Cell(row.Requirement)} | {Cell(row.Sluice)} | {Cell(squid)} | {Cell(ats)} |\n");
        }

        return table.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (Sluice.slnx) was not found above " + AppContext.BaseDirectory);
    }
}
