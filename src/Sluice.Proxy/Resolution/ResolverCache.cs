namespace Sluice.Proxy.Resolution;

/// <summary>
/// Answers by normalised name, each until its expiry, at most <c>capacity</c> of them: adding one more evicts the
/// least recently used. An expired entry stays (it can be served while its refresh is in flight) until it is replaced,
/// removed or evicted. Not thread-safe: <see cref="DnsResolver"/> holds its lock around every call.
/// </summary>
internal sealed class ResolverCache(int capacity)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new(); // most recently used first

    public int Count => _entries.Count;

    /// <summary>The entry for the name, fresh or expired, marked as used; null when there is none.</summary>
    public Entry? Get(string name)
    {
        if (!_entries.TryGetValue(name, out LinkedListNode<Entry>? node))
        {
            return null;
        }

        _recency.Remove(node);
        _recency.AddFirst(node);
        return node.Value;
    }

    public void Set(string name, DnsAnswer answer, long expires)
    {
        Remove(name);
        if (_entries.Count >= capacity && _recency.Last is { } oldest)
        {
            _recency.RemoveLast();
            _entries.Remove(oldest.Value.Name);
        }

        _entries[name] = _recency.AddFirst(new Entry(name, answer, expires));
    }

    public void Remove(string name)
    {
        if (_entries.Remove(name, out LinkedListNode<Entry>? node))
        {
            _recency.Remove(node);
        }
    }

    /// <param name="Expires">A <see cref="TimeProvider"/> timestamp: fresh before it, expired from it on.</param>
    public sealed record Entry(string Name, DnsAnswer Answer, long Expires);
}
