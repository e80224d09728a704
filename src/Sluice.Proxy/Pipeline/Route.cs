namespace Sluice.Proxy.Pipeline;

/// <summary>The ways an allowed request can leave the proxy.</summary>
public enum RouteKind
{
    /// <summary>The proxy connects to the destination itself.</summary>
    Direct,

    /// <summary>
    /// Nowhere: the proxy answers itself, for a TRACE or OPTIONS whose Max-Forwards is 0 (RFC 9110 §7.6.2). Nothing is
    /// resolved or connected to; the rules still decide first, so a denied destination gets no answer from the proxy.
    /// </summary>
    Self,

    /// <summary>Through a parent proxy of an upstream, tried in <see cref="Route.Order"/>.</summary>
    Parent,
}

/// <summary>
/// How an allowed request leaves the proxy, as the pipeline decided it: direct, answered by the proxy itself, or
/// through an upstream with the order its parent proxies are tried in (so <c>sluice explain</c> shows the same order
/// the proxy uses).
/// </summary>
public sealed class Route
{
    private Route(RouteKind kind, ParentUpstream? upstream, IReadOnlyList<ParentProxy> order, bool fromDefault = false)
    {
        Kind = kind;
        Upstream = upstream;
        Order = order;
        FromDefault = fromDefault;
    }

    public static Route Direct { get; } = new(RouteKind.Direct, null, []);

    public static Route Self { get; } = new(RouteKind.Self, null, []);

    public RouteKind Kind { get; }

    /// <summary>The upstream of a <see cref="RouteKind.Parent"/> route; null otherwise.</summary>
    public ParentUpstream? Upstream { get; }

    /// <summary>The parent proxies in the order they are tried: the first that can be reached carries the request.</summary>
    public IReadOnlyList<ParentProxy> Order { get; }

    /// <summary>True when no rule named the way out and <c>route.default</c> chose it.</summary>
    public bool FromDefault { get; }

    internal static Route Through(ParentUpstream upstream, IReadOnlyList<ParentProxy> order, bool fromDefault) => new(RouteKind.Parent, upstream, order, fromDefault);

    /// <summary><c>direct</c>, <c>self</c>, or <c>via corp: proxy-a.corp:3128, then proxy-b.corp:3129 (failover)</c>.</summary>
    public override string ToString() => Kind switch
    {
        RouteKind.Direct => "direct",
        RouteKind.Self => "self",
        _ => $"via {Upstream!.Name}: {string.Join(", then ", Order.Select(p => p.Endpoint))} ({ParentUpstream.Describe(Upstream.Config.Balance)})",
    };
}
