using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Cli.Commands;
using Sluice.Policy.Config;
using Sluice.Proxy;
using Sluice.Proxy.Auth;
using Sluice.Proxy.Tests.Infrastructure;
using Sluice.Proxy.Resolution;

namespace Sluice.Cli.Tests;

/// <summary>
/// The differential test: for every row, the status <c>sluice explain --json</c> predicts, and its Proxy-Status error
/// type, are what the running proxy answers over a real socket, with the same config file and the same resolver.
/// Rows cover identities (none, right, wrong, unknown user, groups), rules with and without users, methods,
/// client addresses, ports, CONNECT and forwarded requests, IP literals, names that resolve to private, link-local,
/// public and own addresses, names that do not resolve and lookups that never answer or fail oddly; then hostile
/// rows: inet_aton notations, IPv4-mapped and NAT64 forms, zone ids, odd ports, case, IDN, userinfo and fragments,
/// ws:// and wss://, methods in odd case, users with a colon or outside the users file, rules with users and clients.
/// A target explain refuses outright (exit 2) must be one the proxy answers 400.
/// The <c>via</c> rows send requests through parent proxies (two more in-process Sluices with resolvers of their own):
/// there explain's route must also be the one the proxy took, read from its access log (the upstream, the parent that
/// carried the request, the hierarchy code, and whether the parent resolved the name), and the parent must have seen
/// it; a request the proxy refuses must never reach a parent.
/// The <c>inspect</c> rows go through a proxy with <c>tls.inspection</c> to an HTTPS origin: after the CONNECT's 200
/// the client speaks TLS in the tunnel and sends its request inside, so explain's TLS handling must be what the client
/// saw (a leaf from the inspection CA, or the origin's own certificate), and for an inspected tunnel explain's
/// <c>inside</c> status and Proxy-Status must be what the proxy answered inside it.
/// </summary>
/// <remarks>
/// Only loopback is ever connected to: the one public address the resolver hands out is in addresses.deny, private
/// and link-local ones are refused by class, and a row whose prediction would connect anywhere else fails before its
/// request is sent. The parents resolve names only to loopback (<see cref="MapResolver"/>), and every IP literal sent up
/// is checked by the proxy's own guard first.
/// </remarks>
public sealed class ExplainAgreesWithProxyTests : IClassFixture<ExplainAgreesWithProxyTests.Proxies>
{
    // {o}: the origin's port (a real HTTP origin on 127.0.0.1); {p}: the proxy's own port.
    // Identity: "-" none; "user:password" (split at the last colon). Client: the address the request comes from (all on
    // loopback). Wire: the request target a client sends for Target when it differs (ws:// goes as a CONNECT, a
    // Unicode name as punycode); an absolute-form target when it starts with http://, else a CONNECT.
    // Inside: after a 200 to the CONNECT, TLS in the tunnel and Method with Target's path inside it; {s}: the HTTPS
    // origin's port (its certificate is for *.inspect.test, from the PKI the inspect config trusts as upstreamCa).
    public sealed record Row(string Config, string Target, string Identity = "-", string Method = "GET", string Client = "127.0.0.1", string? Wire = null, int? MaxForwards = null, bool Inside = false);

    private static readonly Row[] Table = [.. BuildTable()];

    private readonly Proxies _proxies;

    public ExplainAgreesWithProxyTests(Proxies proxies) => _proxies = proxies;

    public static TheoryData<int> Rows()
    {
        var rows = new TheoryData<int>();
        for (int i = 0; i < Table.Length; i++)
        {
            rows.Add(i);
        }

        return rows;
    }

    [Fact]
    public void The_table_has_at_least_a_hundred_requests_and_no_duplicates()
    {
        Assert.True(Table.Length >= 100, $"{Table.Length} rows");
        Assert.Equal(Table.Length, Table.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Explain_predicts_what_the_proxy_answers(int index)
    {
        Row row = Table[index];
        Proxies.Instance proxy = _proxies.For(row.Config);
        string Ports(string text) => text.Replace("{o}", _proxies.OriginPort.ToString(), StringComparison.Ordinal)
            .Replace("{s}", _proxies.SecurePort.ToString(), StringComparison.Ordinal)
            .Replace("{p}", proxy.Port.ToString(), StringComparison.Ordinal);
        string target = Ports(row.Target);
        string wire = Ports(row.Wire ?? row.Target);
        bool tunnel = !wire.StartsWith("http://", StringComparison.OrdinalIgnoreCase);
        int colon = row.Identity.LastIndexOf(':');
        (string? user, string? password) = row.Identity == "-" ? (null, null) : (row.Identity[..colon], row.Identity[(colon + 1)..]);

        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new ExplainCommand.ExplainRequest(target, row.Client, user, tunnel && !row.Inside ? null : row.Method, [], NoResolve: false) { Password = password, MaxForwards = row.MaxForwards };
        int exit = await ExplainCommand.RunAsync(new FileInfo(proxy.ConfigFile), request, json: true, output, errors, _proxies.Resolver, CancellationToken.None);
        if (exit == 2)
        {
            // Explain refused the target itself: the proxy must refuse that request as malformed, before any decision.
            (int refusedStatus, string? refusedError) = await proxy.AskAsync(wire, tunnel, row.Method, user, password, IPAddress.Parse(row.Client), row.MaxForwards);
            Assert.True(refusedStatus == 400 && refusedError == "http_request_error",
                $"explain refused the target ({errors.ToString().Trim()}); the proxy answered {refusedStatus} ({refusedError}); {row}");
            return;
        }

        Assert.True(exit is 0 or 1, $"explain failed ({exit}): {errors}");
        using JsonDocument predicted = JsonDocument.Parse(output.ToString());
        JsonElement root = predicted.RootElement;
        bool refused = root.GetProperty("refused").GetBoolean();
        foreach (JsonElement address in root.GetProperty("addresses").EnumerateArray())
        {
            // The safety net: a prediction that would connect off loopback fails here, before the proxy is asked.
            IPAddress permitted = IPAddress.Parse(address.GetProperty("address").GetString()!);
            permitted = permitted.IsIPv4MappedToIPv6 ? permitted.MapToIPv4() : permitted;
            Assert.False(address.GetProperty("permitted").GetBoolean() && !IPAddress.IsLoopback(permitted),
                $"explain would let the proxy connect to {address}");
        }

        if (row.Inside)
        {
            await AssertInsideAsync(proxy, row, target, wire, user, password, exit, root, $"{row} -> explain: {output}");
            return;
        }

        int logged = proxy.Log?.Lines.Count ?? 0;
        (int status, string? error) = await proxy.AskAsync(wire, tunnel, row.Method, user, password, IPAddress.Parse(row.Client), row.MaxForwards);
        string what = $"{row} -> explain: {output}";
        if (refused)
        {
            Assert.True(root.GetProperty("status").GetInt32() == status, $"proxy answered {status} ({error}); {what}");
            Assert.True(root.GetProperty("proxyStatus").GetString() == error, $"proxy's Proxy-Status error was {error}; {what}");
        }
        else
        {
            Assert.True(status == 200 && error is null, $"explain let it through; the proxy answered {status} ({error}); {what}");
        }

        if (proxy.Log is not null)
        {
            await _proxies.AssertRouteAsync(proxy, logged, wire, tunnel, root, what);
        }

        if (row.Config is "report" or "trial")
        {
            await Proxies.AssertReportAsync(proxy, logged, wire, tunnel, root, what);
        }
    }

    /// <summary>
    /// A row whose client goes on inside the tunnel: the CONNECT's answer as for any tunnel; after a 200, the certificate
    /// the client is shown says whether the proxy inspects (explain's <c>tls</c>), and the answer inside an inspected
    /// tunnel is explain's <c>inside</c>: the refusal's status and Proxy-Status, or the origin's 200.
    /// </summary>
    private async Task AssertInsideAsync(Proxies.Instance proxy, Row row, string target, string wire, string? user, string? password, int exit, JsonElement root, string what)
    {
        int slash = target.IndexOf('/', target.IndexOf("://", StringComparison.Ordinal) + 3);
        string path = slash < 0 ? "/" : target[slash..];
        Proxies.Tunnelled seen = await proxy.AskInsideAsync(wire, path, row.Method, user, password, IPAddress.Parse(row.Client), _proxies.InspectionCa, _proxies.OriginsCa);
        if (root.GetProperty("refused").GetBoolean())
        {
            Assert.True(root.GetProperty("status").GetInt32() == seen.Status && root.GetProperty("proxyStatus").GetString() == seen.Error,
                $"the proxy answered the CONNECT {seen.Status} ({seen.Error}); {what}");
            Assert.True(exit == 1, $"explain exited {exit} for a refused CONNECT; {what}");
            return;
        }

        Assert.True(seen.Status == 200 && seen.Error is null, $"explain let the CONNECT through; the proxy answered {seen.Status} ({seen.Error}); {what}");
        bool inspected = root.GetProperty("tls").GetString() == "inspect";
        Assert.True(seen.Inspected == inspected,
            $"explain says tls {root.GetProperty("tls")}; the client was shown {(seen.Inspected ? "a leaf from the inspection CA" : "the origin's certificate")}; {what}");
        if (!inspected)
        {
            Assert.True(seen.InsideStatus == 200 && seen.InsideError is null, $"through the untouched tunnel the origin answered {seen.InsideStatus} ({seen.InsideError}); {what}");
            Assert.True(exit == 0, $"explain exited {exit} for an open tunnel; {what}");
            return;
        }

        JsonElement inside = root.GetProperty("inside");
        if (inside.GetProperty("refused").GetBoolean())
        {
            Assert.True(inside.GetProperty("status").GetInt32() == seen.InsideStatus && inside.GetProperty("proxyStatus").GetString() == seen.InsideError,
                $"inside the tunnel the proxy answered {seen.InsideStatus} ({seen.InsideError}); {what}");
            Assert.True(exit == 1, $"explain exited {exit} for a request refused inside; {what}");
        }
        else
        {
            Assert.True(seen.InsideStatus == 200 && seen.InsideError is null, $"explain let the request inside through; the proxy answered {seen.InsideStatus} ({seen.InsideError}); {what}");
            Assert.True(exit == 0, $"explain exited {exit} for a request let through inside; {what}");
        }
    }

    [Theory]
    [InlineData("wonderland", 0, 200)]
    [InlineData("not-the-password", 1, 407)]
    public async Task The_executable_checks_a_password_from_stdin_and_resolves_with_resolve(string password, int expectedExit, int expectedStatus)
    {
        Proxies.Instance proxy = _proxies.For("required");
        using SluiceProcess explain = SluiceProcess.Start("explain", "--json", "--config", proxy.ConfigFile, "--user", "alice", "--password-stdin",
            "--resolve", "staff.loop.test=127.0.0.1", $"staff.loop.test:{_proxies.OriginPort}");
        await explain.Stdin.WriteLineAsync(password);
        explain.Stdin.Close();
        Assert.Equal(expectedExit, await explain.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        using JsonDocument predicted = JsonDocument.Parse(string.Join("\n", explain.Stdout));
        Assert.Equal(expectedStatus, predicted.RootElement.GetProperty("status").GetInt32());
        (int status, _) = await proxy.AskAsync($"staff.loop.test:{_proxies.OriginPort}", tunnel: true, "CONNECT", "alice", password, IPAddress.Loopback);
        Assert.Equal(expectedStatus, status);
        Assert.DoesNotContain(password, string.Join("\n", explain.Stdout.Concat(explain.Stderr)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_never_prints_a_password_while_the_proxy_throttles_wrong_ones()
    {
        // Wrong passwords in parallel from one client address (its own, so the table's rows are not throttled), until
        // the proxy answers 429; explain runs alongside with passwords right and wrong, as JSON and as text.
        Proxies.Instance proxy = _proxies.For("required");
        var client = IPAddress.Parse("127.0.0.9");
        Task<(int Status, string? Error)>[] flood = Enumerable.Range(0, 24)
            .Select(i => proxy.AskAsync($"loop.test:{_proxies.OriginPort}", tunnel: true, "CONNECT", "alice", $"guess-{i}-Zq9", client))
            .ToArray();
        var outputs = new List<string>();
        foreach ((string password, bool json) in new[] { ("wonderland", true), ("wonderland", false), ("s3cret-but-wrong", true), ("s3cret-but-wrong", false), ("", true) })
        {
            var output = new StringWriter();
            var errors = new StringWriter();
            var request = new ExplainCommand.ExplainRequest($"loop.test:{_proxies.OriginPort}", client.ToString(), "alice", null, [], NoResolve: false) { Password = password };
            int exit = await ExplainCommand.RunAsync(new FileInfo(proxy.ConfigFile), request, json, output, errors, _proxies.Resolver, CancellationToken.None);
            Assert.True(exit == (password == "wonderland" ? 0 : 1), $"exit {exit} for {(json ? "json" : "text")}: {output}{errors}");
            if (password.Length > 0)
            {
                Assert.DoesNotContain(password, output + errors.ToString(), StringComparison.Ordinal);
            }

            outputs.Add(output + errors.ToString());
        }

        (int Status, string? Error)[] answers = await Task.WhenAll(flood);
        Assert.All(answers, a => Assert.True(a.Status is 407 or 429, $"a wrong password got {a.Status} ({a.Error})"));
        Assert.Contains(answers, a => a.Status == 429);
        Assert.All(outputs, text => Assert.DoesNotContain("Zq9", text, StringComparison.Ordinal));
    }

    private static IEnumerable<Row> BuildTable()
    {
        const string alice = "alice:wonderland", carol = "carol:ops-pass", bobWrong = "bob:not-his-password", dave = "dave:nobody";

        // Every destination, anonymous and as alice, forwarded and tunnelled (optional authentication).
        string[] destinations =
        [
            "loop.test:{o}", "a.open.test:{o}", "b.open.test:{o}", "open.test:{o}", "deep.a.open.test:{o}", "LOOP.TEST.:{o}",
            "secret.loop.test:{o}", "staff.loop.test:{o}", "ops.loop.test:{o}", "unlisted.test:{o}",
            "dual.loop.test:{o}", "v6.loop.test:{o}", "public.test:{o}", "private.test:{o}", "metadata.test:{o}",
            "mixed.test:{o}", "own.test:{p}", "missing.test:{o}", "broken.test:{o}", "empty.test:{o}",
            "127.0.0.1:{o}", "127.0.0.1:{p}", "8.8.8.8:{o}", "10.0.0.5:{o}", "[::1]:{o}", "loop.test:22",
        ];
        foreach (string destination in destinations)
        {
            foreach (string identity in new[] { "-", alice })
            {
                yield return new Row("optional", destination, identity);
                yield return new Row("optional", $"http://{destination}/status/200", identity);
            }
        }

        // Identities against rules with and without users and groups.
        foreach (string identity in new[] { carol, dave, bobWrong })
        {
            yield return new Row("optional", "staff.loop.test:{o}", identity);
            yield return new Row("optional", "ops.loop.test:{o}", identity);
            yield return new Row("optional", "http://loop.test:{o}/status/200", identity);
        }

        yield return new Row("optional", "http://ops.loop.test:{o}/status/200", carol);
        yield return new Row("optional", "secret.loop.test:{o}", bobWrong);
        yield return new Row("optional", "secret.loop.test:{o}", carol);

        // Methods: a rule for reads only.
        foreach (string method in new[] { "GET", "HEAD", "POST", "DELETE", "OPTIONS" })
        {
            yield return new Row("optional", "http://get.loop.test:{o}/status/200", Method: method);
        }

        yield return new Row("optional", "get.loop.test:{o}");

        // Max-Forwards 0: once the rules allow it, the proxy answers a TRACE or OPTIONS itself, without resolving,
        // so a name the guard would refuse, or that does not resolve, still gets 200; a denied one gets no answer.
        foreach (string method in new[] { "TRACE", "OPTIONS" })
        {
            foreach (string destination in new[] { "loop.test:{o}", "private.test:{o}", "missing.test:{o}", "slow.test:{o}", "secret.loop.test:{o}", "unlisted.test:{o}", "127.0.0.1:{p}" })
            {
                yield return new Row("optional", $"http://{destination}/", Method: method, MaxForwards: 0);
            }

            yield return new Row("optional", "http://private.test:{o}/", Method: method, MaxForwards: 1);
            yield return new Row("optional", "http://staff.loop.test:{o}/", Method: method, MaxForwards: 0);
            yield return new Row("required", "http://loop.test:{o}/", Method: method, MaxForwards: 0);
        }

        // Clients: a rule for one client address.
        foreach (string client in new[] { "127.0.0.1", "127.0.0.2", "127.0.0.3" })
        {
            yield return new Row("optional", "lab.loop.test:{o}", Client: client);
            yield return new Row("optional", "http://lab.loop.test:{o}/status/200", Client: client);
        }

        // A lookup that never answers (the connect timeout is 1s).
        yield return new Row("optional", "slow.test:{o}");
        yield return new Row("optional", "http://slow.test:{o}/status/200");

        // Authentication required: no identity is a 407 wherever it goes; a good one goes on to the rules.
        foreach (string destination in new[] { "loop.test:{o}", "secret.loop.test:{o}", "staff.loop.test:{o}", "public.test:{o}", "missing.test:{o}", "127.0.0.1:{p}" })
        {
            foreach (string identity in new[] { "-", alice, carol, bobWrong })
            {
                yield return new Row("required", destination, identity);
            }
        }

        yield return new Row("required", "http://ops.loop.test:{o}/status/200", carol);
        yield return new Row("required", "http://ops.loop.test:{o}/status/200");

        foreach (Row row in HostileRows())
        {
            yield return row;
        }

        foreach (Row row in ViaRows())
        {
            yield return row;
        }

        foreach (Row row in InspectRows())
        {
            yield return row;
        }

        foreach (Row row in ReportRows())
        {
            yield return row;
        }
    }

    /// <summary>
    /// Report mode: explain and the proxy agree on the rule, on letting a would-deny through, and on the answer
    /// enforcing would give (the access log's report, wouldStatus and wouldError); what stays enforced (the guard,
    /// resolution, identity failures) is refused by both. Only destinations on the origin's port or refused ones.
    /// </summary>
    private static IEnumerable<Row> ReportRows()
    {
        const string alice = "alice:wonderland";
        foreach (string destination in new[] { "loop.test:{o}", "secret.loop.test:{o}", "staff.loop.test:{o}", "ops.loop.test:{o}", "unlisted.test:{o}", "private.test:{o}", "missing.test:{o}", "127.0.0.1:{p}", "10.0.0.5:{o}", "lab.loop.test:{o}" })
        {
            foreach (string identity in new[] { "-", alice })
            {
                yield return new Row("report", destination, identity);
                yield return new Row("report", $"http://{destination}/status/200", identity);
            }
        }

        yield return new Row("report", "staff.loop.test:{o}", "bob:not-his-password"); // a failed login stays a 407
        yield return new Row("report", "http://get.loop.test:{o}/status/200", Method: "POST");
        foreach (string destination in new[] { "trial.loop.test:{o}", "team.loop.test:{o}", "secret.loop.test:{o}", "loop.test:{o}", "unlisted.test:{o}", "private.test:{o}" })
        {
            foreach (string identity in new[] { "-", alice })
            {
                yield return new Row("trial", destination, identity);
                yield return new Row("trial", $"http://{destination}/status/200", identity);
            }
        }
    }

    /// <summary>
    /// TLS inspection: the CONNECT decided on its connection keys, then each request inside on all of them (scheme https,
    /// method, normalised path, the CONNECT's user); never-inspected destinations, an untouched tunnel, and http:// URLs
    /// against the same paths: rules.
    /// </summary>
    private static IEnumerable<Row> InspectRows()
    {
        const string alice = "alice:wonderland";

        // Inspected, paths decide inside: allowed, refused by the default, by a deny rule with paths ahead of the
        // inspecting rule (which no CONNECT matches), after normalisation (dot segments, escapes, an escaped '/'), and a
        // path that cannot be normalised (400 inside).
        foreach (string path in new[] { "/hello", "/status/200", "/status/204", "/headers", "/status/200/../../hello", "/%68ello", "/hello/..%2Fheaders", "/hello?x=/headers", "/a%zz", "/a%00b" })
        {
            yield return new Row("inspect", $"https://repo.inspect.test:{{s}}{path}", Wire: "repo.inspect.test:{s}", Inside: true);
        }

        yield return new Row("inspect", "wss://repo.inspect.test:{s}/hello", Wire: "repo.inspect.test:{s}", Inside: true);
        yield return new Row("inspect", "repo.inspect.test:{s}"); // a host:port target stays the CONNECT only
        yield return new Row("inspect", "https://repo.inspect.test:{s}/hello", alice, Wire: "repo.inspect.test:{s}", Inside: true);

        // Inspected, methods decide inside (case-sensitive, as ever).
        foreach (string method in new[] { "GET", "HEAD", "POST", "DELETE", "get" })
        {
            yield return new Row("inspect", "https://store.inspect.test:{s}/status/200", Method: method, Wire: "store.inspect.test:{s}", Inside: true);
        }

        // Inside, the request is the CONNECT's user's: a rule naming users decides it (an anonymous one is challenged).
        foreach (string identity in new[] { "-", alice, "carol:ops-pass", "bob:not-his-password" })
        {
            yield return new Row("inspect", "https://team.inspect.test:{s}/hello", identity, Wire: "team.inspect.test:{s}", Inside: true);
            yield return new Row("inspect", "https://team.inspect.test:{s}/status/200", identity, Wire: "team.inspect.test:{s}", Inside: true);
        }

        // Never inspected: a rule with paths cannot match the CONNECT (403); an inspecting rule with connection keys
        // only still opens the tunnel, untouched. And a rule without tls: inspect: untouched too.
        yield return new Row("inspect", "https://bank.inspect.test:{s}/hello", Wire: "bank.inspect.test:{s}", Inside: true);
        yield return new Row("inspect", "https://open-bank.inspect.test:{s}/status/200", Wire: "open-bank.inspect.test:{s}", Inside: true);
        yield return new Row("inspect", "https://tunnel.inspect.test:{s}/status/200", Wire: "tunnel.inspect.test:{s}", Inside: true);
        yield return new Row("inspect", "https://unlisted.inspect.test:{s}/hello", Wire: "unlisted.inspect.test:{s}", Inside: true);

        // http:// is forwarded with its path normalised the same way: paths allowed and denied, an inspecting rule's
        // paths apply to it too, and a path that cannot be read is a 400 before any rule.
        foreach (string path in new[] { "/hello", "/status/200", "/headers", "/x/../hello", "/hello/%2e%2e/headers", "/a%zz" })
        {
            yield return new Row("inspect", $"http://web.inspect.test:{{o}}{path}");
        }

        yield return new Row("inspect", "http://repo.inspect.test:{o}/hello");
        yield return new Row("inspect", "http://repo.inspect.test:{o}/headers");
        yield return new Row("inspect", "http://store.inspect.test:{o}/status/200", Method: "POST");
    }

    /// <summary>Through parent proxies: a rule's via, route.default, via: direct, the three balances, the guard and split-horizon names.</summary>
    private static IEnumerable<Row> ViaRows()
    {
        string[] destinations =
        [
            "loop.test:{o}", "127.0.0.1:{o}", // via corp (a rule), checked here and sent up
            "a.open.test:{o}", "b.open.test:{o}", // route.default
            "direct.loop.test:{o}", // via: direct, whatever route.default says
            "w.hash.test:{o}", "x.hash.test:{o}", "y.hash.test:{o}", "z.hash.test:{o}", // hash-destination: one parent per destination
            "a.spin.test:{o}", "b.spin.test:{o}", // round-robin
            "inside.corp.test:{o}", // split horizon: only the parents' resolver knows it, so it goes up by name
            "wiki.trust.test:{o}", "trap.trust.test:{o}", // checkDestinations: parent: not resolved here (trap resolves here to a private address)
            // Refused here, never sent up: the guard (a private address, one private address among loopback ones, the
            // deny list, link-local, this proxy's listener, private literals in both modes), the rules.
            "private.test:{o}", "half.test:{o}", "public.test:{o}", "mixed.test:{o}", "metadata.test:{o}", "own.test:{p}", "10.0.0.5:{o}", "10.0.0.6:{o}",
            "secret.loop.test:{o}", "unlisted.test:{o}", "loop.test:22",
        ];
        foreach (string destination in destinations)
        {
            yield return new Row("via", destination);
            yield return new Row("via", $"http://{destination}/status/200");
        }

        foreach (string method in new[] { "TRACE", "OPTIONS" })
        {
            yield return new Row("via", "http://loop.test:{o}/", Method: method, MaxForwards: 0); // answered here: no parent
        }
    }

    /// <summary>Odd notations, odd identities and odd methods: where the target reader, the rules and the guard meet.</summary>
    private static IEnumerable<Row> HostileRows()
    {
        // IPv4 in inet_aton's other notations, IPv4-mapped and NAT64 forms, zone ids, unbracketed IPv6.
        string[] literals =
        [
            "127.1:{o}", "0x7f.0.0.1:{o}", "2130706433:{o}", "0177.0.0.1:{o}", "127.0.0.1.:{o}", "012.0.0.5:{o}", "0x7f.1:{p}",
            "2130706433:{p}", "[::ffff:127.0.0.1]:{o}", "[::ffff:127.0.0.1]:{p}", "[::FFFF:7F00:1]:{o}", "[::ffff:10.0.0.5]:{o}",
            "[::ffff:8.8.8.8]:{o}", "[64:ff9b::808:808]:{o}", "[64:ff9b::a00:5]:{o}", "[64:ff9b::7f00:1]:{o}", "[::127.0.0.1]:{o}",
            "[::1]:{p}", "[fe80::1%25eth0]:{o}", "[fe80::1%eth0]:{o}", "::1:{o}", "[::1:{o}", "[127.0.0.1]:{o}", "127.0.0.256:{o}",
            "1.2.3.4.5:{o}", "0x7g.0.0.1:{o}",
        ];
        foreach (string literal in literals)
        {
            yield return new Row("optional", literal);
            yield return new Row("optional", $"http://{literal}/status/200");
        }

        // Names: case, dots, IDN, odd characters, a name with a private and a loopback address, a mapped answer.
        string[] names =
        [
            "LoOp.TeSt:{o}", "loop.test..:{o}", ".loop.test:{o}", "loop..test:{o}", "xn--bcher-kva.test:{o}", "under_score.test:{o}",
            "half.test:{o}", "mapped.test:{o}", "mapped.test:{p}", "nat64.test:{o}", "weird.test:{o}", "sock.test:{o}",
            "loop.test:0", "loop.test:65536", "loop.test:00080", "loop.test:+{o}", "loop.test:", "loop.test", "loop.test: {o}",
            "secret.loop.test:65535", "secret.loop.test:01", "loop.test:{o}:{o}", "a b.test:{o}", "loop.test%2e:{o}",
        ];
        foreach (string name in names)
        {
            yield return new Row("optional", name);
            yield return new Row("optional", $"http://{name}/status/200");
        }

        yield return new Row("optional", "bücher.test:{o}", Wire: "xn--bcher-kva.test:{o}");
        yield return new Row("optional", "http://bücher.test:{o}/status/200", Wire: "http://xn--bcher-kva.test:{o}/status/200");

        // URL forms: scheme case, no path, a query, userinfo, a fragment, an empty port, ws:// and wss:// (which
        // clients send as a CONNECT, RFC 6455 §4.1), https:// as a CONNECT.
        foreach (string url in new[]
        {
            "HTTP://loop.test:{o}/status/200", "Http://LOOP.test:{o}/status/200", "http://loop.test:{o}/status/200?x=1",
            "http://secret.loop.test/status/200", "http://loop.test:{o}/status/200#top",
            "http://alice:wonderland@loop.test:{o}/status/200", "http://@loop.test:{o}/status/200", "http://loop.test:{o}\\@secret.loop.test/",
        })
        {
            yield return new Row("optional", url);
        }

        yield return new Row("optional", "ws://loop.test:{o}/chat", Wire: "loop.test:{o}");
        yield return new Row("optional", "ws://tunnels.loop.test:{o}/chat", Wire: "tunnels.loop.test:{o}");
        yield return new Row("optional", "wss://loop.test:{o}/chat", Wire: "loop.test:{o}");
        yield return new Row("optional", "https://loop.test:{o}/status/200", Wire: "loop.test:{o}");
        yield return new Row("optional", "https://tunnels.loop.test:{o}/", Wire: "tunnels.loop.test:{o}");
        yield return new Row("optional", "http://tunnels.loop.test:{o}/status/200");

        // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
        foreach (string method in new[] { "get", "Get", "head", "PATCH", "M-SEARCH", "TRACE" })
        {
            yield return new Row("optional", "http://get.loop.test:{o}/status/200", Method: method);
        }

        // Identities: an empty password, a user with a colon, a Unicode user, a user only the groups file knows.
        foreach (string identity in new[] { "alice:", "a:b:wonderland", "zoë:umlaut", "zoë:wrong", "eve:anything", ":wonderland", "ALICE:wonderland" })
        {
            yield return new Row("optional", "staff.loop.test:{o}", identity);
            yield return new Row("optional", "ops.loop.test:{o}", identity);
            yield return new Row("required", "loop.test:{o}", identity);
        }

        yield return new Row("optional", "zoe.loop.test:{o}", "zoë:umlaut");

        // A rule with users and clients: both must match; an anonymous request from the right client is challenged.
        foreach (string client in new[] { "127.0.0.1", "127.0.0.2" })
        {
            foreach (string identity in new[] { "-", "alice:wonderland", "carol:ops-pass" })
            {
                yield return new Row("optional", "both.loop.test:{o}", identity, Client: client);
                yield return new Row("required", "http://both.loop.test:{o}/status/200", identity, Client: client);
            }
        }
    }

    /// <summary>The origin, the resolver and one proxy per config (authentication optional, required), shared by every row.</summary>
    public sealed class Proxies : IAsyncLifetime
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("sluice-explain-diff-").FullName;
        private readonly Dictionary<string, Instance> _instances = [];
        private readonly List<TestProxy> _parents = [];
        private TestOrigin _origin = null!;
        private TestOrigin _secure = null!;
        private TestPki _origins = null!;

        public TableResolver Resolver { get; } = new();

        public int OriginPort => _origin.Port;

        /// <summary>The HTTPS origin, with a certificate for *.inspect.test from <see cref="OriginsCa"/>.</summary>
        public int SecurePort => _secure.Port;

        /// <summary>The CA the inspect config signs its minted leaves with (made here; the key stays in the temp folder).</summary>
        public X509Certificate2 InspectionCa { get; private set; } = null!;

        /// <summary>The CA of the origins' certificates: the inspect config's upstreamCa, and what an untouched tunnel's client trusts.</summary>
        public X509Certificate2 OriginsCa => _origins.Ca;

        /// <summary>What a client saw through a tunnel: the CONNECT's answer, who signed the certificate, and the answer inside.</summary>
        public sealed record Tunnelled(int Status, string? Error, bool Inspected = false, int InsideStatus = 0, string? InsideError = null);

        public Instance For(string config) => _instances[config];

        public async Task InitializeAsync()
        {
            _origin = await TestOrigin.StartAsync();
            string users = Path.Combine(_dir, "users");
            File.WriteAllText(users, string.Join("\n",
                $"alice:{PasswordHashes.HashBcrypt("wonderland", 4)}",
                $"bob:{PasswordHashes.HashBcrypt("his-password", 4)}",
                $"carol:{PasswordHashes.HashBcrypt("ops-pass", 4)}",
                $"zoë:{PasswordHashes.HashBcrypt("umlaut", 4)}") + "\n");
            string groups = Path.Combine(_dir, "groups");
            File.WriteAllText(groups, "ops: carol, eve\n"); // eve is in no users file
            foreach ((string name, bool required) in new[] { ("optional", false), ("required", true) })
            {
                int port = Ports.Free();
                string file = Path.Combine(_dir, $"{name}.yaml");
                File.WriteAllLines(file, Config(port, users, groups, required));
                var server = new ProxyServer(ConfigLoader.LoadFile(file), new ProxyServerOptions
                {
                    Resolver = Resolver,
                    AccessLogOutput = new LogCapture(),
                    LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
                });
                await server.StartAsync();
                _instances[name] = new Instance(server, file, port);
            }

            // Report mode: the optional config under mode: report, and one with a report rule; their JSON access logs
            // say which requests were would-denies, and with which answer enforcing would have given.
            foreach ((string name, string[] lines) in new[] { ("report", ReportConfig(users, groups)), ("trial", TrialConfig(users, groups)) })
            {
                int port = Ports.Free();
                string file = Path.Combine(_dir, $"{name}.yaml");
                File.WriteAllLines(file, [.. Common(port, "json"), .. lines]);
                var reportLog = new LogCapture();
                var server = new ProxyServer(ConfigLoader.LoadFile(file), new ProxyServerOptions
                {
                    Resolver = Resolver,
                    AccessLogOutput = reportLog,
                    LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
                });
                await server.StartAsync();
                _instances[name] = new Instance(server, file, port) { Log = reportLog };
            }

            // The parents: Sluices of their own, resolving with a table of their own (loopback only) that knows names
            // the child's does not (split horizon), and that says trap.trust.test is on loopback where the child says private.
            var parentNames = new MapResolver();
            foreach (string name in new[]
            {
                "loop.test", "a.open.test", "b.open.test", "w.hash.test", "x.hash.test", "y.hash.test", "z.hash.test", "a.spin.test", "b.spin.test",
                "inside.corp.test", "wiki.trust.test", "trap.trust.test",
            })
            {
                parentNames.Map(name, IPAddress.Loopback);
            }

            foreach (string name in new[] { "parent-a", "parent-b" })
            {
                _parents.Add(await TestProxy.StartAsync(c => c with { Name = name }, parentNames));
            }

            // The inspect config: an inspection CA made here (PEM files in the temp folder), the origins' PKI as upstreamCa.
            _origins = new TestPki("Explain Diff Origins CA");
            _secure = await TestOrigin.StartAsync(issued: _origins.Origin("*.inspect.test"));
            string caFile = Path.Combine(_dir, "inspect-ca.crt");
            string keyFile = Path.Combine(_dir, "inspect-ca.key");
            InspectionCa = CreateInspectionCa(caFile, keyFile);
            int inspectPort = Ports.Free();
            string inspectFile = Path.Combine(_dir, "inspect.yaml");
            File.WriteAllLines(inspectFile, InspectConfig(inspectPort, users, groups, caFile, keyFile, _origins.CaPath));
            var inspecting = new ProxyServer(ConfigLoader.LoadFile(inspectFile), new ProxyServerOptions
            {
                Resolver = Resolver,
                AccessLogOutput = new LogCapture(),
                LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            });
            await inspecting.StartAsync();
            _instances["inspect"] = new Instance(inspecting, inspectFile, inspectPort);

            int viaPort = Ports.Free();
            string viaFile = Path.Combine(_dir, "via.yaml");
            File.WriteAllLines(viaFile, ViaConfig(viaPort, _parents[0].Endpoint.Port, _parents[1].Endpoint.Port));
            var log = new LogCapture();
            var via = new ProxyServer(ConfigLoader.LoadFile(viaFile), new ProxyServerOptions
            {
                Resolver = Resolver,
                AccessLogOutput = log,
                LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            });
            await via.StartAsync();
            _instances["via"] = new Instance(via, viaFile, viaPort) { Log = log };

            Resolver.Map("loop.test", "127.0.0.1").Map("open.test", "127.0.0.1").Map("a.open.test", "127.0.0.1").Map("b.open.test", "127.0.0.1")
                .Map("deep.a.open.test", "127.0.0.1").Map("secret.loop.test", "127.0.0.1").Map("staff.loop.test", "127.0.0.1")
                .Map("ops.loop.test", "127.0.0.1").Map("get.loop.test", "127.0.0.1").Map("lab.loop.test", "127.0.0.1")
                .Map("unlisted.test", "127.0.0.1").Map("own.test", "127.0.0.1")
                .Map("dual.loop.test", "::1", "127.0.0.1").Map("v6.loop.test", "::1")
                .Map("public.test", "8.8.8.8").Map("private.test", "10.0.0.5").Map("metadata.test", "169.254.169.254")
                .Map("mixed.test", "10.0.0.5", "8.8.8.8").Map("empty.test")
                .Map("half.test", "10.0.0.5", "127.0.0.1").Map("mapped.test", "::ffff:127.0.0.1").Map("nat64.test", "64:ff9b::808:808")
                .Map("xn--bcher-kva.test", "127.0.0.1").Map("under_score.test", "127.0.0.1").Map("tunnels.loop.test", "127.0.0.1")
                .Map("both.loop.test", "127.0.0.1").Map("zoe.loop.test", "127.0.0.1").Map("trial.loop.test", "127.0.0.1").Map("team.loop.test", "127.0.0.1")
                .Map("direct.loop.test", "127.0.0.1").Map("w.hash.test", "127.0.0.1").Map("x.hash.test", "127.0.0.1").Map("y.hash.test", "127.0.0.1")
                .Map("z.hash.test", "127.0.0.1").Map("a.spin.test", "127.0.0.1").Map("b.spin.test", "127.0.0.1").Map("trap.trust.test", "10.0.0.5");
            foreach (string name in new[] { "repo", "store", "team", "bank", "open-bank", "tunnel", "unlisted", "web" })
            {
                Resolver.Map($"{name}.inspect.test", "127.0.0.1");
            }
        }

        // A CA fit for inspection (CA:TRUE, keyCertSign), written as PEM; the public part is returned for clients to trust.
        private static X509Certificate2 CreateInspectionCa(string certificateFile, string keyFile)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Explain Diff Inspection CA", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            using X509Certificate2 ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
            File.WriteAllText(certificateFile, ca.ExportCertificatePem());
            File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
            return X509CertificateLoader.LoadCertificate(ca.RawData);
        }

        /// <summary>
        /// What the proxy's access log says it did with the request just answered is what explain predicted: direct,
        /// answered itself, or through the parent explain put first (any of them for round-robin, whose rotation is the
        /// running proxy's), with the hierarchy code for how the route was chosen and who resolved the name. A request
        /// through a parent is in that parent's log too; a refused one in no parent's.
        /// </summary>
        public async Task AssertRouteAsync(Instance proxy, int logged, string wire, bool tunnel, JsonElement explained, string what)
        {
            string authority = tunnel ? wire : wire[(wire.IndexOf("://", StringComparison.Ordinal) + 3)..].Split('/')[0];
            if (explained.GetProperty("refused").GetBoolean())
            {
                foreach (TestProxy parent in _parents)
                {
                    Assert.True(!parent.AccessLog.Lines.Any(l => Mentions(l, authority)), $"a refused request reached {parent.Endpoint}; {what}");
                }

                return;
            }

            string line = await proxy.Log!.WaitForAsync(l => Mentions(l, authority) && proxy.Log.Lines.ToList().IndexOf(l) >= logged, $"for {wire}");
            using JsonDocument entry = JsonDocument.Parse(line);
            JsonElement logs = entry.RootElement;
            string? Field(string name) => logs.TryGetProperty(name, out JsonElement value) ? value.GetString() : null;
            string? hierarchy = Field("hierarchy");
            switch (explained.GetProperty("route").GetString())
            {
                case "direct":
                    Assert.True(hierarchy == "HIER_DIRECT" && Field("upstream") is null, $"the proxy went {hierarchy} {Field("upstream")}; {what}\n{line}");
                    return;
                case "self":
                    Assert.True(hierarchy is null, $"the proxy answered itself but logged {hierarchy}; {what}\n{line}");
                    return;
            }

            string[] parents = [.. explained.GetProperty("parents").EnumerateArray().Select(p => p.GetString()!)];
            string balance = explained.GetProperty("balance").GetString()!;
            string code = explained.GetProperty("routeChosenBy").GetString() == "route.default" ? "DEFAULT_PARENT" : balance switch
            {
                "round-robin" => "ROUNDROBIN_PARENT",
                "hash-destination" => "CARP",
                _ => "FIRSTUP_PARENT",
            };
            string? used = Field("parent");
            Assert.True(Field("upstream") == explained.GetProperty("upstream").GetString(), $"the proxy used upstream {Field("upstream")}; {what}\n{line}");
            Assert.True(balance == "round-robin" ? parents.Contains(used) : used == parents[0], $"the proxy used parent {used}; {what}\n{line}");
            Assert.True(hierarchy == code && Field("peer") == "127.0.0.1", $"the proxy logged {hierarchy}/{Field("peer")} where explain means {code}/127.0.0.1; {what}\n{line}");
            bool upByName = explained.GetProperty("resolvedBy").GetString() == "parent";
            Assert.True(upByName == (Field("resolved") == "parent"), $"explain says resolvedBy {(upByName ? "parent" : "local")}, the log {Field("resolved") ?? "local"}; {what}\n{line}");
            TestProxy carrier = _parents.Single(p => p.Endpoint.ToString() == used);
            await carrier.AccessLog.WaitForAsync(l => Mentions(l, authority), $"for {wire} at the parent {used}");
        }

        /// <summary>
        /// The access-log line of the request just answered says what explain said of it: the rule, and for a would-deny
        /// report, wouldStatus and wouldError; for anything else none of them.
        /// </summary>
        public static async Task AssertReportAsync(Instance proxy, int logged, string wire, bool tunnel, JsonElement explained, string what)
        {
            string authority = tunnel ? wire : wire[(wire.IndexOf("://", StringComparison.Ordinal) + 3)..].Split('/')[0];
            string line = await proxy.Log!.WaitForAsync(l => Mentions(l, authority) && proxy.Log.Lines.ToList().IndexOf(l) >= logged, $"for {wire}");
            using JsonDocument entry = JsonDocument.Parse(line);
            JsonElement logs = entry.RootElement;
            string Said(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null ? value.ToString() : "-";
            Assert.True(Said(explained, "report") == Said(logs, "report") && Said(explained, "wouldStatus") == Said(logs, "wouldStatus") && Said(explained, "wouldError") == Said(logs, "wouldError"),
                $"explain says report {Said(explained, "report")} {Said(explained, "wouldStatus")} {Said(explained, "wouldError")}, the log {Said(logs, "report")} {Said(logs, "wouldStatus")} {Said(logs, "wouldError")}; {what}\n{line}");
            if (explained.TryGetProperty("rule", out JsonElement rule))
            {
                Assert.True(rule.GetString() == Said(logs, "rule"), $"explain says rule {rule}, the log {Said(logs, "rule")}; {what}\n{line}");
            }
        }

        // host:port as a whole in a log line: not loop.test:22 in loop.test:22345, nor loop.test in secret.loop.test.
        private static bool Mentions(string line, string authority) =>
            Regex.IsMatch(line, $"(?<![A-Za-z0-9.-]){Regex.Escape(authority)}(?![0-9])", RegexOptions.IgnoreCase);

        // What every proxy of the table has: loopback (the origin, the parents) reachable, and the one public address
        // handed out refused, so it is never connected to.
        private static string[] Common(int port, string logFormat) =>
        [
            "name: sluice-diff",
            "listeners:",
            $"  - address: 127.0.0.1:{port}",
            "admin: off",
            "log:",
            "  access: off",
            $"  format: {logFormat}",
            "addresses:",
            "  allow: [127.0.0.0/8]",
            "  deny: [8.8.8.0/24]",
            "timeouts:",
            "  connect: 1s",
        ];

        private static string[] ViaConfig(int port, int parentA, int parentB) =>
        [
            .. Common(port, "json"),
            "upstreams:",
            "  - name: corp",
            $"    proxies: [\"http://127.0.0.1:{parentA}\", \"http://127.0.0.1:{parentB}\"]",
            "  - name: hashed",
            $"    proxies: [\"http://127.0.0.1:{parentA}\", \"http://127.0.0.1:{parentB}\"]",
            "    balance: hash-destination",
            "  - name: rotating",
            $"    proxies: [\"http://127.0.0.1:{parentA}\", \"http://127.0.0.1:{parentB}\"]",
            "    balance: round-robin",
            "  - name: trusting",
            $"    proxies: [\"http://127.0.0.1:{parentB}\"]",
            "    checkDestinations: parent",
            "rules:",
            "  - { name: no-secret, action: deny, destinations: [secret.loop.test] }",
            "  - { name: direct-way, action: allow, destinations: [direct.loop.test], via: direct }",
            "  - { name: corp-way, action: allow, destinations: [loop.test, inside.corp.test, private.test, half.test, public.test, mixed.test, metadata.test, own.test, 127.0.0.0/8, 10.0.0.5], ports: [1024-65535], via: corp }",
            "  - { name: hashed-way, action: allow, destinations: [.hash.test], via: hashed }",
            "  - { name: rotating-way, action: allow, destinations: [.spin.test], via: rotating }",
            "  - { name: trusting-way, action: allow, destinations: [.trust.test, 10.0.0.6], via: trusting }",
            "  - { name: by-default, action: allow, destinations: [.open.test] }",
            "route: { default: corp }",
            "default: deny",
        ];

        // The optional config's rules under mode: report: every deny is a would-deny.
        private static string[] ReportConfig(string users, string groups) => ["mode: report", .. Config(0, users, groups, required: false).Skip(Common(0, "squid").Length)];

        // A report rule on trial between rules that enforce: what it matches goes by route.default, and an anonymous
        // request it matches where a rule names users would first be challenged, enforced.
        private static string[] TrialConfig(string users, string groups) =>
        [
            "auth:",
            $"  basic: {{ realm: diff, usersFile: {users}, groupsFile: {groups} }}",
            "  required: false",
            "rules:",
            "  - { name: no-secret, action: deny, destinations: [secret.loop.test] }",
            "  - { name: team, action: allow, destinations: [team.loop.test], users: [alice] }",
            "  - { name: trial, action: report, destinations: [trial.loop.test, team.loop.test] }",
            "  - { name: open, action: allow, destinations: [loop.test, trial.loop.test, private.test], ports: [1024-65535] }",
            "default: deny",
        ];

        private static string[] Config(int port, string users, string groups, bool required) =>
        [
            .. Common(port, "squid"),
            "auth:",
            $"  basic: {{ realm: diff, usersFile: {users}, groupsFile: {groups} }}",
            $"  required: {(required ? "true" : "false")}",
            "rules:",
            "  - { name: no-secret, action: deny, destinations: [secret.loop.test] }",
            "  - { name: staff, action: allow, destinations: [staff.loop.test], users: [alice] }",
            "  - { name: ops, action: allow, destinations: [ops.loop.test], groups: [ops] }",
            "  - { name: reads, action: allow, destinations: [get.loop.test], methods: [GET, HEAD] }",
            "  - { name: lab, action: allow, destinations: [lab.loop.test], clients: [127.0.0.2/32] }",
            "  - { name: both, action: allow, destinations: [both.loop.test], users: [alice], clients: [127.0.0.2/32] }",
            "  - { name: tunnels-only, action: allow, destinations: [tunnels.loop.test], methods: [CONNECT] }",
            "  - { name: zoe, action: allow, destinations: [zoe.loop.test], users: [zoë] }",
            "  - name: open",
            "    action: allow",
            "    destinations: [loop.test, .open.test, dual.loop.test, v6.loop.test, public.test, private.test, metadata.test, mixed.test, own.test, slow.test, empty.test, missing.test, broken.test, half.test, mapped.test, nat64.test, weird.test, sock.test, xn--bcher-kva.test, under_score.test]",
            "    ports: [1024-65535]",
            "  - { name: literals, action: allow, destinations: [127.0.0.0/8, 8.8.8.8, 10.0.0.5, '64:ff9b::/96', '::/96', '::1', 'fe80::/10'], ports: [1024-65535] }",
            "default: deny",
        ];

        private static string[] InspectConfig(int port, string users, string groups, string ca, string key, string upstreamCa) =>
        [
            .. Common(port, "squid"),
            "auth:",
            $"  basic: {{ realm: diff, usersFile: {users}, groupsFile: {groups} }}",
            "  required: false",
            "tls:",
            "  inspection:",
            $"    ca: {ca}",
            $"    key: {key}",
            $"    upstreamCa: {upstreamCa}",
            "    neverInspect: [bank.inspect.test, open-bank.inspect.test]",
            "rules:",
            "  - { name: repo-no-headers, action: deny, destinations: [repo.inspect.test], paths: [/headers] }",
            "  - { name: repo-paths, action: allow, destinations: [repo.inspect.test], tls: inspect, paths: [/hello, /status/200] }",
            "  - { name: store-reads, action: allow, destinations: [store.inspect.test], tls: inspect, methods: [GET, HEAD] }",
            "  - { name: team-alice, action: allow, destinations: [team.inspect.test], paths: [/hello], users: [alice] }",
            "  - { name: team-status, action: allow, destinations: [team.inspect.test], tls: inspect, paths: [/status/200] }",
            "  - { name: bank-paths, action: allow, destinations: [bank.inspect.test], tls: inspect, paths: [/hello] }",
            "  - { name: open-bank, action: allow, destinations: [open-bank.inspect.test], tls: inspect }",
            "  - { name: plain-tunnel, action: allow, destinations: [tunnel.inspect.test] }",
            "  - { name: web-paths, action: allow, destinations: [web.inspect.test], paths: [/hello, /status/200] }",
            "default: deny",
        ];

        public async Task DisposeAsync()
        {
            foreach (Instance instance in _instances.Values)
            {
                await instance.Server.DisposeAsync();
            }

            foreach (TestProxy parent in _parents)
            {
                await parent.DisposeAsync();
            }

            await _origin.DisposeAsync();
            await _secure.DisposeAsync();
            _origins.Dispose();
            InspectionCa.Dispose();
            Directory.Delete(_dir, recursive: true);
        }

        public sealed record Instance(ProxyServer Server, string ConfigFile, int Port)
        {
            /// <summary>The access log (JSON lines), for the configs whose route the rows compare.</summary>
            public LogCapture? Log { get; init; }

            /// <summary>One request on a new connection from <paramref name="client"/>: the status and the Proxy-Status error type, if any.</summary>
            public async Task<(int Status, string? Error)> AskAsync(string target, bool tunnel, string method, string? user, string? password, IPAddress client, int? maxForwards = null)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(client, 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
                using var stream = new NetworkStream(socket, ownsSocket: false);
                string authority = tunnel ? target : AuthorityOf(target);
                var head = new StringBuilder($"{(tunnel ? "CONNECT" : method)} {target} HTTP/1.1\r\nHost: {authority}\r\n");
                if (user is not null)
                {
                    head.Append($"Proxy-Authorization: Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"))}\r\n");
                }

                if (maxForwards is { } hops)
                {
                    head.Append($"Max-Forwards: {hops}\r\n");
                }

                head.Append(method == "POST" && !tunnel ? "Content-Length: 0\r\n\r\n" : "\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
                return Read(await ReadHeadAsync(stream));
            }

            /// <summary>
            /// A CONNECT to <paramref name="authority"/>; after a 200, TLS in the tunnel (trusting the inspection CA, or the
            /// origins' CA for an untouched tunnel, the name checked) and one request inside: what the client saw.
            /// </summary>
            public async Task<Tunnelled> AskInsideAsync(string authority, string path, string method, string? user, string? password, IPAddress client, X509Certificate2 inspectionCa, X509Certificate2 originsCa)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(client, 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
                using var stream = new NetworkStream(socket, ownsSocket: false);
                var head = new StringBuilder($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
                if (user is not null)
                {
                    head.Append($"Proxy-Authorization: Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"))}\r\n");
                }

                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()));
                (int status, string? error) = Read(await ReadHeadAsync(stream));
                if (status != 200)
                {
                    return new Tunnelled(status, error);
                }

                string host = authority[..authority.LastIndexOf(':')];
                bool inspected = false;
                await using var tls = new SslStream(stream, leaveInnerStreamOpen: true);
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        using var shown = X509CertificateLoader.LoadCertificate(certificate!.GetRawCertData());
                        inspected = Chains(shown, inspectionCa);
                        return shown.MatchesHostname(host) && (inspected || Chains(shown, originsCa));
                    },
                });
                string inside = $"{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n{(method == "POST" ? "Content-Length: 0\r\n" : "")}\r\n";
                await tls.WriteAsync(Encoding.ASCII.GetBytes(inside));
                (int insideStatus, string? insideError) = Read(await ReadHeadAsync(tls));
                return new Tunnelled(status, error, inspected, insideStatus, insideError);
            }

            private static bool Chains(X509Certificate2 certificate, X509Certificate2 root)
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(root);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate);
            }

            // A response head's status and its Proxy-Status error type, if any.
            private static (int Status, string? Error) Read(string response)
            {
                int status = int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
                Match error = Regex.Match(response, @"(?im)^Proxy-Status:.*?;\s*error=([a-z_]+)");
                return (status, error.Success ? error.Groups[1].Value : null);
            }

            // The authority of an absolute-form target as a client puts it in Host: without userinfo, path or fragment.
            private static string AuthorityOf(string url)
            {
                string rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
                int end = rest.IndexOfAny(['/', '?', '#']);
                string authority = end < 0 ? rest : rest[..end];
                return authority[(authority.LastIndexOf('@') + 1)..];
            }

            private static async Task<string> ReadHeadAsync(Stream stream)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var head = new StringBuilder();
                byte[] one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await stream.ReadAsync(one, timeout.Token) == 0)
                    {
                        throw new Xunit.Sdk.XunitException($"the proxy closed the connection before a response head; got: {head}");
                    }

                    head.Append((char)one[0]);
                }

                return head.ToString();
            }
        }
    }

    /// <summary>
    /// The proxy's resolver interface with the table's answers, any address family or class (the guard decides what
    /// is connected to): <c>slow.test</c> never answers, <c>broken.test</c> fails, every other unmapped name does not exist.
    /// </summary>
    public sealed class TableResolver : IResolver
    {
        private readonly ConcurrentDictionary<string, IPAddress[]> _names = new(StringComparer.Ordinal);

        public TableResolver Map(string name, params string[] addresses)
        {
            _names[name] = addresses.Select(IPAddress.Parse).ToArray();
            return this;
        }

        public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            switch (host)
            {
                case "slow.test":
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                    break;
                case "broken.test":
                    throw new ResolveException(host, notFound: false, $"lookup of {host} failed: the server answered SERVFAIL");
                case "weird.test":
                    throw new InvalidOperationException($"the resolver for {host} is broken");
                case "sock.test":
                    throw new SocketException((int)SocketError.NetworkUnreachable);
            }

            return _names.TryGetValue(host, out IPAddress[]? addresses) ? addresses : throw new ResolveException(host, notFound: true, $"{host} does not exist");
        }
    }
}
