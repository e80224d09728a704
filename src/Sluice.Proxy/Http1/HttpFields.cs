namespace Sluice.Proxy.Http1;

/// <summary>
/// The header fields of one message, in the order received. Names keep their spelling; lookups ignore case.
/// A list, not a dictionary: duplicates are meaningful (and sometimes an attack) and must stay visible.
/// </summary>
internal sealed class HttpFields
{
    private readonly List<KeyValuePair<string, string>> _fields;

    public HttpFields(int capacity = 16) => _fields = new List<KeyValuePair<string, string>>(capacity);

    public int Count => _fields.Count;

    public KeyValuePair<string, string> this[int index] => _fields[index];

    public void Add(string name, string value) => _fields.Add(new(name, value));

    public string? Get(string name)
    {
        foreach (KeyValuePair<string, string> field in _fields)
        {
            if (field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return field.Value;
            }
        }

        return null;
    }

    public int CountOf(string name)
    {
        int n = 0;
        foreach (KeyValuePair<string, string> field in _fields)
        {
            if (field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                n++;
            }
        }

        return n;
    }

    public bool Contains(string name) => Get(name) is not null;

    public IEnumerable<string> All(string name)
    {
        foreach (KeyValuePair<string, string> field in _fields)
        {
            if (field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                yield return field.Value;
            }
        }
    }

    /// <summary>Every comma-separated element of every field with this name, trimmed, empties dropped.</summary>
    public IEnumerable<string> Tokens(string name)
    {
        foreach (string value in All(name))
        {
            foreach (string token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                yield return token;
            }
        }
    }

    public bool HasToken(string name, string token)
    {
        foreach (string t in Tokens(name))
        {
            if (t.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Forgets every field (a tunnel keeps nothing of the request that opened it).</summary>
    public void Clear() => _fields.Clear();

    public void Remove(string name) => _fields.RemoveAll(f => f.Key.Equals(name, StringComparison.OrdinalIgnoreCase));

    public void Set(string name, string value)
    {
        int index = _fields.FindIndex(f => f.Key.Equals(name, StringComparison.OrdinalIgnoreCase));
        Remove(name);
        _fields.Insert(index < 0 ? _fields.Count : index, new(name, value));
    }

    public List<KeyValuePair<string, string>>.Enumerator GetEnumerator() => _fields.GetEnumerator();
}
