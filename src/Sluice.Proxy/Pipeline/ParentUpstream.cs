using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;

namespace Sluice.Proxy.Pipeline;

/// <summary>One parent proxy of an upstream, as routes name it and health tracks it.</summary>
public sealed class ParentProxy
{
    internal ParentProxy(string upstream, ParentProxyAddress address)
    {
        Upstream = upstream;
        Address = address;
        Key = $"{upstream}/{address}";
    }

    /// <summary>The name of the upstream this proxy belongs to.</summary>
    public string Upstream { get; }

    public ParentProxyAddress Address { get; }

    /// <summary><c>host:port</c>: Proxy-Status's next-hop, the log's hierarchy field and the metrics' parent label.</summary>
    public string Endpoint => Address.Endpoint;

    /// <summary>The host, without the port: the Squid hierarchy field (<c>FIRSTUP_PARENT/proxy-a.corp</c>).</summary>
    public string Host => Address.Address.Host;

    /// <summary>Unique across upstreams (<c>corp/http://proxy-a.corp:3128</c>): health and the keep-alive pool use it.</summary>
    public string Key { get; }

    public override string ToString() => Address.ToString();
}

/// <summary>Whether a parent proxy is taking requests. The proxy passes its live view; <c>sluice explain</c> one where all are up.</summary>
public interface IParentHealth
{
    bool IsUp(ParentProxy parent);
}

/// <summary>Every parent up: for explaining a policy without a running proxy.</summary>
public sealed class AllParentsUp : IParentHealth
{
    public static AllParentsUp Instance { get; } = new();

    public bool IsUp(ParentProxy parent) => true;
}

/// <summary>
/// An upstream from the configuration, ready to route: its parent proxies and the order a request tries them in.
/// Socket-free, like the rest of the pipeline; the credentials and TLS trust to reach the proxies live with the dialer.
/// </summary>
public sealed class ParentUpstream
{
    private int _next = -1;

    public ParentUpstream(UpstreamConfig config)
    {
        Config = config;
        Proxies = [.. config.Proxies.Select(p => new ParentProxy(config.Name, p))];
    }

    public UpstreamConfig Config { get; }

    public string Name => Config.Name;

    public IReadOnlyList<ParentProxy> Proxies { get; }

    /// <summary>The word for a balance, as the configuration writes it.</summary>
    public static string Describe(Balance balance) => balance switch
    {
        Balance.RoundRobin => "round-robin",
        Balance.HashDestination => "hash-destination",
        _ => "failover",
    };

    /// <summary>
    /// The order of the proxies for this request: by the balance, then every proxy marked down moved to the end. The
    /// dialer skips the ones marked down (their probes bring them back) and answers 502 when every one is; the whole
    /// order is kept so <c>sluice explain</c> and the log can name them.
    /// </summary>
    public IReadOnlyList<ParentProxy> OrderFor(RequestFacts request, IParentHealth health)
    {
        int count = Proxies.Count;
        if (count == 1)
        {
            return Proxies;
        }

        var order = new ParentProxy[count];
        switch (Config.Balance)
        {
            case Balance.RoundRobin:
                int start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
                for (int i = 0; i < count; i++)
                {
                    order[i] = Proxies[(start + i) % count];
                }

                break;
            case Balance.HashDestination:
                // Rendezvous hashing: each proxy scores the destination and the highest score goes first, so a proxy
                // leaving moves only its own destinations and every other destination keeps its proxy.
                string destination = request.Destination.ToString();
                ParentProxy[] byScore = [.. Proxies.OrderByDescending(p => Score(destination, p)).ThenBy(p => p.Key, StringComparer.Ordinal)];
                byScore.CopyTo(order, 0);
                break;
            default:
                for (int i = 0; i < count; i++)
                {
                    order[i] = Proxies[i];
                }

                break;
        }

        // Stable: the up proxies keep their order, then the down ones in theirs. Health is asked once per proxy: the
        // live view changes under a running request, and asking twice could drop a proxy that came up in between or
        // list twice one that went down.
        Span<bool> up = count <= 64 ? stackalloc bool[count] : new bool[count];
        int upCount = 0;
        for (int i = 0; i < count; i++)
        {
            up[i] = health.IsUp(order[i]);
            upCount += up[i] ? 1 : 0;
        }

        if (upCount == count)
        {
            return order;
        }

        var sorted = new ParentProxy[count];
        int nextUp = 0;
        int nextDown = upCount;
        for (int i = 0; i < count; i++)
        {
            sorted[up[i] ? nextUp++ : nextDown++] = order[i];
        }

        return sorted;
    }

    // Stable across processes and restarts (string.GetHashCode is randomised per process), so every replica agrees.
    private static ulong Score(string destination, ParentProxy proxy) =>
        BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"{proxy.Key}\n{destination}")));
}
