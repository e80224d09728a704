using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Sluice.Cli.Tests;

/// <summary>
/// The dependency rules of docs/architecture.md, checked on the built assemblies: which project may reference which,
/// and no cycle between the namespaces (folders) of one project.
/// </summary>
public sealed class ArchitectureTests
{
    // Each project and the Sluice projects it may reference; anything not listed is forbidden.
    public static TheoryData<string, string[]> Projects => new()
    {
        { "Sluice.Policy", [] },
        { "Sluice.Client", [] },
        { "Sluice.Proxy", ["Sluice.Policy"] },
        { "Sluice.Deploy", ["Sluice.Policy"] },
        { "sluice", ["Sluice.Policy", "Sluice.Proxy", "Sluice.Client", "Sluice.Deploy"] },
    };

    [Theory]
    [MemberData(nameof(Projects))]
    public void A_project_references_only_what_the_architecture_allows(string assembly, string[] allowed)
    {
        using AssemblyDefinition definition = Load(assembly);
        string[] sluice = [.. definition.MainModule.AssemblyReferences.Select(r => r.Name).Where(n => n.StartsWith("Sluice.", StringComparison.Ordinal))];
        Assert.All(sluice, name => Assert.True(allowed.Contains(name), $"{assembly} references {name}, which docs/architecture.md does not allow"));
    }

    [Theory]
    [InlineData("Sluice.Policy", "System.Net.Sockets")]
    [InlineData("Sluice.Policy", "Microsoft.AspNetCore.Server.Kestrel.Core")]
    [InlineData("Sluice.Client", "Microsoft.AspNetCore.Server.Kestrel.Core")]
    [InlineData("Sluice.Deploy", "System.Net.Sockets")]
    public void The_policy_knows_no_sockets_and_the_client_no_server(string assembly, string forbidden)
    {
        using AssemblyDefinition definition = Load(assembly);
        Assert.DoesNotContain(forbidden, definition.MainModule.AssemblyReferences.Select(r => r.Name));
    }

    [Theory]
    [InlineData("Sluice.Proxy")]
    [InlineData("Sluice.Policy")]
    [InlineData("Sluice.Client")]
    [InlineData("Sluice.Deploy")]
    [InlineData("sluice")]
    public void No_two_namespaces_of_a_project_depend_on_each_other(string assembly)
    {
        using AssemblyDefinition definition = Load(assembly);
        Dictionary<string, HashSet<string>> graph = NamespaceGraph(definition.MainModule);
        List<string>? cycle = FindCycle(graph);
        Assert.True(cycle is null, $"{assembly}: namespaces depend on each other in a cycle: {string.Join(" -> ", cycle ?? [])}");
    }

    private static AssemblyDefinition Load(string assembly) =>
        AssemblyDefinition.ReadAssembly(Path.Combine(AppContext.BaseDirectory, $"{assembly}.dll"));

    /// <summary>Namespace -> the namespaces of the same assembly its types use (signatures, fields, bodies, attributes).</summary>
    private static Dictionary<string, HashSet<string>> NamespaceGraph(ModuleDefinition module)
    {
        var graph = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (TypeDefinition type in module.GetTypes())
        {
            string from = NamespaceOf(type);
            if (from.Length == 0)
            {
                continue;
            }

            HashSet<string> edges = graph.TryGetValue(from, out HashSet<string>? e) ? e : graph[from] = [];
            foreach (TypeReference used in Uses(type).SelectMany(Parts))
            {
                if (Resolve(used, module) is { } target && NamespaceOf(target) is { Length: > 0 } to && to != from)
                {
                    edges.Add(to);
                }
            }
        }

        return graph;
    }

    private static IEnumerable<TypeReference> Uses(TypeDefinition type)
    {
        if (type.BaseType is not null)
        {
            yield return type.BaseType;
        }

        foreach (InterfaceImplementation i in type.Interfaces)
        {
            yield return i.InterfaceType;
        }

        foreach (FieldDefinition field in type.Fields)
        {
            yield return field.FieldType;
        }

        foreach (PropertyDefinition property in type.Properties)
        {
            yield return property.PropertyType;
        }

        foreach (MethodDefinition method in type.Methods)
        {
            yield return method.ReturnType;
            foreach (ParameterDefinition parameter in method.Parameters)
            {
                yield return parameter.ParameterType;
            }

            if (!method.HasBody)
            {
                continue;
            }

            foreach (VariableDefinition variable in method.Body.Variables)
            {
                yield return variable.VariableType;
            }

            foreach (Instruction instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference t:
                        yield return t;
                        break;
                    case MethodReference m:
                        yield return m.DeclaringType;
                        yield return m.ReturnType;
                        break;
                    case FieldReference f:
                        yield return f.DeclaringType;
                        break;
                }
            }
        }
    }

    // List<Verdict>: the argument is used as much as the list.
    private static IEnumerable<TypeReference> Parts(TypeReference reference)
    {
        yield return reference.GetElementType();
        if (reference is GenericInstanceType generic)
        {
            foreach (TypeReference part in generic.GenericArguments.SelectMany(Parts))
            {
                yield return part;
            }
        }
        else if (reference is TypeSpecification { ElementType: { } inner } && inner != reference.GetElementType())
        {
            foreach (TypeReference part in Parts(inner))
            {
                yield return part;
            }
        }
    }

    private static TypeDefinition? Resolve(TypeReference reference, ModuleDefinition module) =>
        reference.Scope == module && reference is not GenericParameter ? reference.Resolve() : null;

    // Compiler-made types (closures, state machines) are nested in the type that wrote them: its namespace counts.
    private static string NamespaceOf(TypeDefinition type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type.Namespace;
    }

    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1: on the path, 2: done
        var path = new List<string>();

        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (string next in graph.GetValueOrDefault(node) ?? [])
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. path.Skip(path.IndexOf(next)), next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found)
                {
                    return found;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }

        foreach (string node in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }
}
