using System.Runtime.CompilerServices;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// The process settings `sluice run` applies (inline socket completions). Too late to take effect in a test host that
/// opened its socket to the runner before this assembly loaded (the runtime reads the switch at the first socket): the
/// suite then runs with the runtime's default. Left so for now: with the switch really on, a request retried after its
/// parent died mid-way reaches the dying parent again more often (docs/benchmarks.md, issue 15's fifth round).
/// </summary>
internal static class RuntimeSettings
{
    [ModuleInitializer]
    internal static void Apply() => ProxyRuntime.Configure();
}
