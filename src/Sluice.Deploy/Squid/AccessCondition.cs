using System.Collections.Immutable;
using System.Net;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Squid;

/// <summary>What one http_access line requires, acl by acl ANDed together; a null matcher means "any".</summary>
internal sealed record AccessCondition
{
    public List<PortRange>? Ports { get; init; }

    public List<string>? Methods { get; init; }

    /// <summary>Forwarded requests only (<c>!CONNECT</c>): schemes [http].</summary>
    public bool HttpOnly { get; init; }

    public List<IPNetwork>? Clients { get; init; }

    public List<string>? Domains { get; init; }

    public List<IPNetwork>? Destinations { get; init; }

    public List<string>? Users { get; init; }

    /// <summary>Path globs from a urlpath_regex acl.</summary>
    public List<string>? Paths { get; init; }

    /// <summary>Set when a term can never match in Sluice, with the reason.</summary>
    public string? NeverWhy { get; init; }

    public bool Never { get; init; }

    /// <summary>The terms as they name the rule: <c>SSL_ports</c>, <c>not-SSL_ports</c>.</summary>
    public ImmutableList<string> Parts { get; init; } = [];

    /// <summary>Nothing can match: a term never does, or two terms have nothing in common.</summary>
    public bool MatchesNothing =>
        Never || Ports is { Count: 0 } || Methods is { Count: 0 } || Clients is { Count: 0 } || Domains is { Count: 0 } || Destinations is { Count: 0 } || Users is { Count: 0 };
}

/// <summary>
/// Turns the terms of an http_access line into an <see cref="AccessCondition"/>. Where Sluice cannot say exactly what a
/// term says, an allow line is dropped (it allows less) and a deny line goes on without the term (it denies more).
/// </summary>
internal sealed class AccessConditions(AclTable acls, SquidNotes notes)
{
    private static readonly string[] KnownMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"];

    /// <summary>Set once a proxy_auth acl has been reached in a line: the converted file then asks for credentials.</summary>
    public bool UsesAuth { get; private set; }

    /// <summary>Why the last line translated could not be expressed exactly (its first such term); null when it could.</summary>
    public string? Problem { get; private set; }

    /// <summary>The line's condition, or null when it is an allow line Sluice cannot express (left out).</summary>
    public AccessCondition? Translate(SquidAccess access)
    {
        (int line, bool allow) = (access.Line, access.Allow);
        Problem = null;
        var c = new AccessCondition();
        foreach ((string name, bool negated) in access.Terms)
        {
            string shown = negated ? "!" + name : name;
            c = c with { Parts = c.Parts.Add(negated ? "not-" + name : name) };
            if (!acls.TryGet(name, out Acl acl))
            {
                if (!Inexpressible(line, allow, $"acl {name} is not defined (Squid refuses such a file)"))
                {
                    return null;
                }

                continue;
            }

            switch (acl.Kind)
            {
                case AclKind.All:
                    if (negated)
                    {
                        c = c with { Never = true, NeverWhy = "!all matches nothing" };
                    }

                    break;
                case AclKind.CacheManager:
                    if (negated)
                    {
                        notes.Remark(line, "http_access", "!manager: every Sluice request is not a cache-manager request, so the condition always holds");
                    }
                    else
                    {
                        c = c with { Never = true, NeverWhy = "manager matches Squid's cache-manager requests (cache_object:// and /squid-internal-mgr/); Sluice has none, its admin endpoint is separate (admin.address); Squid also applies manager to any URL whose path starts with /squid-internal-mgr/, which Sluice rules do not look at" };
                    }

                    break;
                case AclKind.Port:
                    c = c with { Ports = AddressSets.Intersect(c.Ports ?? [AddressSets.EveryPort], negated ? AddressSets.Complement(acl.Ports) : PortRange.Merge(acl.Ports)) };
                    break;
                case AclKind.Method:
                    List<string> methods = acl.Values.Distinct().ToList();
                    if (negated && methods is ["CONNECT"])
                    {
                        c = c with { HttpOnly = true }; // every request that is not CONNECT is a forwarded one: schemes [http], exactly
                    }
                    else if (negated && allow)
                    {
                        c = c with { Methods = Intersect(c.Methods, KnownMethods.Except(methods).ToList()) };
                        notes.Remark(line, "http_access", $"{shown}: Sluice cannot say \"any method but\"; the rule lists the standard methods other than {string.Join(", ", methods)} (extension methods are not allowed by it)");
                    }
                    else if (negated)
                    {
                        Inexpressible(line, allow, $"{shown}: Sluice cannot say \"any method but\" {string.Join(", ", methods)}");
                    }
                    else
                    {
                        c = c with { Methods = Intersect(c.Methods, methods) };
                    }

                    break;
                case AclKind.Src:
                    c = c with { Clients = AddressSets.Intersect(c.Clients ?? [.. AddressSets.Everything], negated ? AddressSets.Complement(acl.Networks) : AddressSets.Normalize(acl.Networks)) };
                    break;
                case AclKind.Dst:
                    if (negated)
                    {
                        if (allow)
                        {
                            c = c with { Destinations = AddressSets.Intersect(c.Destinations ?? [.. AddressSets.Everything], AddressSets.Complement(acl.Networks)) };
                            notes.Remark(line, "http_access", $"{shown}: Sluice matches address ranges against destinations written as IP addresses only, so this allow lets raw-IP requests outside {name} through and no names");
                        }
                        else if (!Inexpressible(line, allow, $"{shown}: Squid compares the resolved address of every destination; Sluice rules see only destinations written as IP addresses"))
                        {
                            return null;
                        }
                    }
                    else
                    {
                        c = c with { Destinations = AddressSets.Intersect(c.Destinations ?? [.. AddressSets.Everything], AddressSets.Normalize(acl.Networks)) };
                        notes.Remark(line, "http_access", allow
                            ? $"{name}: the rule matches destinations written as IP addresses; names resolving into {name} are not allowed by it (and private ranges are refused by the address guard unless addresses.allow lists them)"
                            : $"{name}: the rule matches destinations written as IP addresses; names resolving into non-public ranges are refused by the address guard in any case, into public ones they are not matched by this rule");
                    }

                    break;
                case AclKind.DstDomain:
                    if (negated)
                    {
                        if (!Inexpressible(line, allow, $"{shown}: Sluice cannot say \"any destination but\" these names"))
                        {
                            return null;
                        }
                    }
                    else
                    {
                        List<string> names = acl.Values.Distinct().ToList();
                        c = c with { Domains = c.Domains is null ? names : AddressSets.Intersect(c.Domains, names) };
                    }

                    break;
                case AclKind.UrlPath:
                    if (negated || c.Paths is not null)
                    {
                        if (!Inexpressible(line, allow, negated
                            ? $"{shown}: Sluice cannot say \"any path but\" these"
                            : $"{shown}: a second urlpath_regex acl on one line (Sluice cannot say a path matches two patterns at once)"))
                        {
                            return null;
                        }
                    }
                    else
                    {
                        c = c with { Paths = [.. acl.Values] };
                    }

                    break;
                case AclKind.ProxyAuth:
                    UsesAuth = true;
                    if (negated)
                    {
                        if (!Inexpressible(line, allow, $"{shown}: Sluice rules cannot match anonymous clients only"))
                        {
                            return null;
                        }
                    }
                    else if (!acl.Values.Contains("REQUIRED"))
                    {
                        c = c with { Users = Intersect(c.Users, acl.Values.Distinct().ToList()) };
                    }

                    // REQUIRED: auth.required is true in the converted file, so every request that reaches a rule has
                    // valid credentials: the condition always holds and needs no matcher.
                    break;
                default:
                    if (!Inexpressible(line, allow, $"{shown}: {acl.Why}"))
                    {
                        return null;
                    }

                    break;
            }
        }

        if (c.Domains is not null && c.Destinations is not null)
        {
            if (!Inexpressible(line, allow, "a dstdomain and a dst acl on one line (a name and its resolved address)"))
            {
                return null;
            }

            c = c with { Destinations = null };
        }

        if (c.HttpOnly && c.Methods is not null)
        {
            c = c with { Methods = c.Methods.Where(m => m != "CONNECT").ToList() };
        }

        return c;
    }

    /// <summary>A condition Sluice cannot express: an allow line is dropped (false), a deny line goes on without it (true).</summary>
    private bool Inexpressible(int line, bool allow, string why)
    {
        Problem ??= why;
        if (allow)
        {
            notes.Untranslated(line, "http_access", $"{why}; this allow line is left out, so the requests it allowed are decided by the lines after it");
            return false;
        }

        notes.Untranslated(line, "http_access", $"{why}; this deny line is translated without that condition, so it denies more than in Squid");
        return true;
    }

    private static List<string> Intersect(List<string>? current, List<string> values) =>
        current is null ? values : current.Intersect(values, StringComparer.Ordinal).ToList();
}
