using System.Reflection;

namespace Sluice.Client.Tests;

/// <summary>The client library compiles the proxy's authority parser and host-name rules as source, and depends on neither the policy nor the proxy.</summary>
public sealed class SharedSourceTests
{
    [Fact]
    public void The_client_library_references_no_other_sluice_assembly_and_keeps_the_shared_types_internal()
    {
        Assembly client = typeof(NoProxyList).Assembly;

        Assert.DoesNotContain(client.GetReferencedAssemblies(), a => a.Name is "Sluice.Policy" or "Sluice.Proxy");
        Assert.DoesNotContain(client.GetExportedTypes(), t => t.Namespace?.StartsWith("Sluice.Policy", StringComparison.Ordinal) == true);
        Type? shared = client.GetType("Sluice.Policy.Names.HostPort");
        Assert.NotNull(shared);
        Assert.False(shared.IsPublic);
    }
}
