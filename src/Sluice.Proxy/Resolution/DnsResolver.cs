using System.Net;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// <c>resolver.mode: dns</c>: the hosts file first, then the cache, then the name servers (<see cref="DnsLookup"/>).
/// Concurrent misses of one name share one lookup. An expired entry is refreshed by the first request that needs it,
/// which waits; requests arriving while that refresh is in flight get the expired answer, and only then. A lookup runs
/// to its own end (timeout × attempts × servers), not to the first requester's: the others may still wait for it.
/// </summary>
internal sealed class DnsResolver : IResolver
{
    private readonly DnsLookup _lookup;
    private readonly HostsFile? _hosts;
    private readonly ResolverCacheConfig _limits;
    private readonly IResolverEvents? _events;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lookupLimit;
    private readonly Lock _lock = new();
    private readonly ResolverCache _cache;
    private readonly Dictionary<string, Task<DnsAnswer>> _inflight = new(StringComparer.Ordinal);

    public DnsResolver(ResolverConfig config, IReadOnlyList<IPEndPoint> servers, IResolverEvents? events, TimeProvider? time = null)
    {
        _lookup = new DnsLookup(servers, config.Timeout, config.Attempts);
        _hosts = config.HostsFile is { } path ? new HostsFile(path, config.Timeout, time) : null;
        _limits = config.Cache;
        _cache = new ResolverCache(config.Cache.MaxEntries);
        _events = events;
        _time = time ?? TimeProvider.System;
        _lookupLimit = config.Timeout * (config.Attempts * servers.Count) + TimeSpan.FromSeconds(1);
    }

    /// <summary>Names held now, fresh or expired (<c>sluice_dns_cache_entries</c>).</summary>
    public int CacheEntries
    {
        get
        {
            lock (_lock)
            {
                return _cache.Count;
            }
        }
    }

    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        string name = host.TrimEnd('.').ToLowerInvariant();
        if (_hosts is not null && await _hosts.FindAsync(name, cancellationToken).ConfigureAwait(false) is { } listed)
        {
            _events?.Answered(LookupResult.Hit);
            return listed;
        }

        Task<DnsAnswer>? pending;
        lock (_lock)
        {
            ResolverCache.Entry? entry = _cache.Get(name);
            if (entry is not null && _time.GetTimestamp() < entry.Expires)
            {
                return Serve(host, entry.Answer, LookupResult.Hit);
            }

            if (_inflight.TryGetValue(name, out pending))
            {
                if (entry is not null)
                {
                    return Serve(host, entry.Answer, LookupResult.Stale);
                }
            }
            else
            {
                // On the thread pool: a lookup that completed inline would store its answer before it is in flight.
                pending = Task.Run(() => LookUpAsync(name));
                _inflight[name] = pending;
            }
        }

        DnsAnswer answer = await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
        return Serve(host, answer, LookupResult.Miss);
    }

    private IPAddress[] Serve(string host, DnsAnswer answer, LookupResult how)
    {
        switch (answer.Kind)
        {
            case AnswerKind.Addresses:
                _events?.Answered(how);
                return answer.Addresses;
            case AnswerKind.NotFound:
                _events?.Answered(how == LookupResult.Stale ? LookupResult.Stale : LookupResult.Negative);
                throw new ResolveException(host, true, answer.Message);
            default:
                _events?.Answered(LookupResult.Error);
                throw new ResolveException(host, false, answer.Message);
        }
    }

    private async Task<DnsAnswer> LookUpAsync(string name)
    {
        long started = _time.GetTimestamp();
        DnsAnswer answer = DnsAnswer.Failed($"lookup of {name} failed");
        try
        {
            using var limit = new CancellationTokenSource(_lookupLimit);
            answer = await _lookup.LookUpAsync(name, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            answer = DnsAnswer.Failed($"lookup of {name} failed: no answer within {Durations.Format(_lookupLimit)}");
        }
        catch (Exception e)
        {
            // Whatever DnsClient throws (a name it cannot encode...) is this name's failed lookup, never a lookup left
            // in flight for ever: the finally below always ends it.
            answer = DnsAnswer.Failed($"lookup of {name} failed: {e.Message}");
        }
        finally
        {
            _events?.LookedUp(_time.GetElapsedTime(started));
            Store(name, answer);
        }

        return answer;
    }

    private void Store(string name, DnsAnswer answer)
    {
        lock (_lock)
        {
            _inflight.Remove(name);
            TimeSpan keep = Lifetime(answer);
            if (keep > TimeSpan.Zero)
            {
                _cache.Set(name, answer, _time.GetTimestamp() + (long)(keep.TotalSeconds * _time.TimestampFrequency));
            }
            else
            {
                _cache.Remove(name); // a failure, or TTL 0: used by the requests that waited for it, not kept
            }
        }
    }

    private TimeSpan Lifetime(DnsAnswer answer) => answer.Kind switch
    {
        AnswerKind.Addresses => Clamp(answer.Ttl!.Value, _limits.MinTtl, _limits.MaxTtl),
        AnswerKind.NotFound => answer.Ttl is { } soa && soa < _limits.NegativeTtl ? soa : _limits.NegativeTtl,
        _ => TimeSpan.Zero,
    };

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;
}
