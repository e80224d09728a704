using System.Runtime.CompilerServices;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>The suite runs the proxy with the process settings `sluice run` applies (inline socket completions).</summary>
internal static class RuntimeSettings
{
    [ModuleInitializer]
    internal static void Apply() => ProxyRuntime.Configure();
}
