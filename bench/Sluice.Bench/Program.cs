using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;

namespace Sluice.Bench;

/// <summary>
/// Workload 7 of docs/benchmarks.md: what a policy decision costs as the number of domain rules grows.
/// Run with `dotnet run -c Release -- [--quick] [BenchmarkDotNet switches]`; bench/run.sh does it.
/// `load ...` is the HTTPS client of the inspected row instead (InspectLoad).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "load")
        {
            return InspectLoad.Run(args[1..]); // the inspected row's client (bench/run.sh), not a BenchmarkDotNet job
        }

        if (args.Contains("--build-times"))
        {
            // How long building a RulePolicy of N rules takes (construction is not what BenchmarkDotNet measures).
            foreach (int n in new[] { 10, 10_000, 1_000_000 })
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                ImmutableArray<Rule> rules = MakeRules(n);
                TimeSpan made = clock.Elapsed;
                _ = new RulePolicy(rules, RuleAction.Deny);
                Console.WriteLine(FormattableString.Invariant($"build\t{n}\t{made.TotalMilliseconds:F1}\t{(clock.Elapsed - made).TotalMilliseconds:F1}"));
            }

            return 0;
        }

        bool quick = args.Contains("--quick");
        string[] rest = args.Where(a => a != "--quick").ToArray();
        Job job = quick
            ? Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithIterationTime(TimeInterval.FromMilliseconds(100)).WithEvaluateOverhead(false).WithGcForce(false).WithId("quick")
            : Job.ShortRun.WithWarmupCount(2).WithIterationCount(7).WithIterationTime(TimeInterval.FromMilliseconds(250)).WithEvaluateOverhead(false).WithGcForce(false).WithId("bench");
        IConfig config = DefaultConfig.Instance.AddJob(job.WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance))
            .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
        var summary = BenchmarkSwitcher.FromTypes([typeof(DecideBenchmarks), typeof(NameBenchmarks), typeof(LoadBenchmarks)])
            .Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);
        return summary.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    /// <summary>
    /// N domain rules, alternating the two common shapes (exact name, name and subdomains), spread over many
    /// parent domains as a real allowlist is, each rule a separate first-match entry with its own name.
    /// </summary>
    internal static string RuleName(int i) => i % 2 == 0
        ? $"api{i}.tenant{i % 997}.example{i % 13}.com"
        : $".svc{i}.tenant{i % 997}.example{i % 13}.net";

    internal static ImmutableArray<Rule> MakeRules(int count)
    {
        var rules = ImmutableArray.CreateBuilder<Rule>(count);
        for (int i = 0; i < count; i++)
        {
            if (!DestinationPattern.TryParse(RuleName(i), out DestinationPattern pattern, out string problem))
            {
                throw new InvalidOperationException(problem);
            }

            rules.Add(new Rule
            {
                Name = "r" + i.ToString(CultureInfo.InvariantCulture),
                Action = RuleAction.Allow,
                Destinations = [pattern],
                Ports = [new PortRange(443, 443)],
                Line = i + 1,
            });
        }

        return rules.MoveToImmutable();
    }
}

[MemoryDiagnoser]
public class DecideBenchmarks
{
    private static readonly IPAddress Client = IPAddress.Parse("10.1.2.3");
    private static readonly Dictionary<int, RulePolicy> Policies = [];
    private RulePolicy _policy = null!;
    private RequestFacts _exactNearEnd = null!;
    private RequestFacts _subdomainNearEnd = null!;
    private RequestFacts _noMatch = null!;
    private RequestFacts _ipLiteral = null!;

    [Params(10, 10_000, 1_000_000)]
    public int Rules { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Built once per size and shared by the cases (in-process toolchain): a million rules take seconds to make.
        if (!Policies.TryGetValue(Rules, out RulePolicy? policy))
        {
            Policies.Clear();
            Policies[Rules] = policy = new RulePolicy(Program.MakeRules(Rules), RuleAction.Deny);
        }

        _policy = policy;
        int lastEven = (Rules - 1) / 2 * 2;          // an exact-name rule near the end
        int lastOdd = Rules % 2 == 0 ? Rules - 1 : Rules - 2; // a ".name" rule near the end
        _exactNearEnd = Facts(Program.RuleName(lastEven));
        _subdomainNearEnd = Facts("deep.host." + Program.RuleName(lastOdd).TrimStart('.'));
        _noMatch = Facts("www.nowhere-in-the-list.example.org");
        _ipLiteral = new RequestFacts("CONNECT", RequestScheme.Tunnel, "203.0.113.7", IPAddress.Parse("203.0.113.7"), 443, Client);
        if (!_policy.Decide(_exactNearEnd).Allowed || !_policy.Decide(_subdomainNearEnd).Allowed || _policy.Decide(_noMatch).Allowed)
        {
            throw new InvalidOperationException("the generated rules do not decide as the benchmark expects");
        }
    }

    private static RequestFacts Facts(string host) => new("CONNECT", RequestScheme.Tunnel, host, null, 443, Client);

    [Benchmark(Description = "exact name, rule near the end")]
    public bool ExactNearEnd() => _policy.Decide(_exactNearEnd).Allowed;

    [Benchmark(Description = "subdomain of a .name rule near the end")]
    public bool SubdomainNearEnd() => _policy.Decide(_subdomainNearEnd).Allowed;

    [Benchmark(Description = "no rule matches (default deny)")]
    public bool NoMatch() => _policy.Decide(_noMatch).Allowed;

    [Benchmark(Description = "IP literal (address rules only)")]
    public bool IpLiteral() => _policy.Decide(_ipLiteral).Allowed;
}

[MemoryDiagnoser]
public class NameBenchmarks
{
    [Params("api.example.com", "Very.Long.Sub.Domain.Of.Example-Vendor.COM.", "bücher.example", "10.1.2.3")]
    public string Host { get; set; } = "";

    [Benchmark(Description = "HostNames.TryNormalize")]
    public bool Normalize() => HostNames.TryNormalize(Host, out _, out _, out _);
}

/// <summary>Loading a YAML file of N rules (what a reload costs). Validation compares each rule with the earlier ones.</summary>
[MemoryDiagnoser]
public class LoadBenchmarks
{
    private string _yaml = "";

    [Params(10, 1_000, 10_000)]
    public int Rules { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var text = new StringBuilder("listeners:\n  - address: 127.0.0.1:3128\nrules:\n");
        for (int i = 0; i < Rules; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - {{ name: r{i}, action: allow, destinations: [\"{Program.RuleName(i)}\"], ports: [443] }}\n");
        }

        text.Append("default: deny\n");
        _yaml = text.ToString();
    }

    [Benchmark(Description = "ConfigLoader.Parse")]
    public int Load() => ConfigLoader.Parse(_yaml, "bench.yaml").Rules.Length;
}
