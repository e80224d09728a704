namespace Sluice.Proxy;

/// <summary>
/// Process-wide runtime settings the proxy is built and measured for (docs/operations.md, "Runtime settings").
/// <para>
/// Socket completions run inline on the socket engine's threads (one per CPU) instead of being queued to the thread
/// pool: a forwarded request is a chain of short steps between socket reads and writes, and handing every step to
/// another thread cost about a third of the proxy's CPU time per request and most of its tail latency (measured in
/// docs/benchmarks.md). What is slow by nature leaves those threads explicitly: password hashing (Auth), TLS
/// handshakes (<see cref="Transport.HandshakeStream"/>), certificate minting (Inspection), the access log's writes.
/// </para>
/// </summary>
public static class ProxyRuntime
{
    /// <summary>The runtime's switch (read once, when the process opens its first socket).</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Applies the settings; call before the process opens its first socket. A value the operator set in the
    /// environment wins (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> restores the runtime's default).
    /// </summary>
    public static void Configure()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }

    /// <summary>Whether socket completions run inline in this process (as configured; for the start-up log line).</summary>
    public static bool InlineCompletions => Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1";
}
