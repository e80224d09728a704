using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Decisions;

namespace Sluice.Policy.Rules;

public enum RuleAction
{
    Allow,
    Deny,
}

/// <summary>
/// One rule of the policy. Every matcher that is present must match (an absent matcher matches everything);
/// within one matcher, any entry may match.
/// </summary>
public sealed record Rule
{
    public required string Name { get; init; }

    public required RuleAction Action { get; init; }

    public ImmutableArray<DestinationPattern> Destinations { get; init; } = [];

    public ImmutableArray<PortRange> Ports { get; init; } = [];

    /// <summary>Upper-case method names.</summary>
    public ImmutableArray<string> Methods { get; init; } = [];

    public ImmutableArray<RequestScheme> Schemes { get; init; } = [];

    public ImmutableArray<IPNetwork> Clients { get; init; } = [];

    public ImmutableArray<string> Users { get; init; } = [];

    public ImmutableArray<string> Groups { get; init; } = [];

    /// <summary>Line in the config file, for messages.</summary>
    public long Line { get; init; }

    /// <summary>Null when the rule matches; otherwise why not, in words (for <c>sluice explain</c>).</summary>
    public string? Mismatch(RequestFacts request) => Mismatch(request, checkIdentity: true);

    /// <summary>True when the rule names users or groups and everything else about it matches: who the client is would decide.</summary>
    public bool WaitsOnIdentity(RequestFacts request) =>
        (!Users.IsEmpty || !Groups.IsEmpty) && Mismatch(request, checkIdentity: false) is null;

    private string? Mismatch(RequestFacts request, bool checkIdentity)
    {
        if (!Destinations.IsEmpty && !Destinations.Any(d => d.Matches(request.Host, request.Address, request.Port)))
        {
            return request.Address is not null && Destinations.All(d => d.Kind != PatternKind.Address)
                ? $"{request.Host} is an IP address and this rule lists names only"
                : $"{request.Host}:{request.Port} is not in destinations";
        }

        if (!Ports.IsEmpty && !Ports.Any(p => p.Contains(request.Port)))
        {
            return $"port {request.Port} is not in ports [{string.Join(", ", Ports)}]";
        }

        if (!Methods.IsEmpty && !Methods.Contains(request.Method))
        {
            return $"method {request.Method} is not in methods";
        }

        if (!Schemes.IsEmpty && !Schemes.Contains(request.Scheme))
        {
            return $"scheme {request.Scheme.ToString().ToLowerInvariant()} is not in schemes";
        }

        if (!Clients.IsEmpty && !Clients.Any(c => c.Contains(request.Client.IsIPv4MappedToIPv6 ? request.Client.MapToIPv4() : request.Client)))
        {
            return $"client {request.Client} is not in clients";
        }

        if (!checkIdentity)
        {
            return null;
        }

        if (!Users.IsEmpty && (request.User is null || !Users.Contains(request.User, StringComparer.Ordinal)))
        {
            return request.User is null ? "the client is anonymous and this rule names users" : $"user {request.User} is not in users";
        }

        if (!Groups.IsEmpty && !Groups.Any(g => request.Groups.Contains(g, StringComparer.Ordinal)))
        {
            return "the client is in none of the rule's groups";
        }

        return null;
    }
}
