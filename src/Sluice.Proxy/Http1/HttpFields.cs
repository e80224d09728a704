namespace Sluice.Proxy.Http1;

/// <summary>
/// The header fields of one message, in the order received. Names keep their spelling; lookups ignore case.
/// A list, not a dictionary: duplicates are meaningful (and sometimes an attack) and must stay visible.
/// Every lookup on the request path is a loop over the list, without delegates, iterators or splitting into strings:
/// a forwarded request runs a few dozen of them, twice (request and response).
/// </summary>
internal sealed class HttpFields
{
    private readonly List<KeyValuePair<string, string>> _fields;

    /// <summary>The list's first size for a head read without a connection's last head to go by.</summary>
    public const int DefaultCapacity = 16;

    public HttpFields(int capacity = DefaultCapacity) => _fields = new List<KeyValuePair<string, string>>(capacity);

    public int Count => _fields.Count;

    public KeyValuePair<string, string> this[int index] => _fields[index];

    public void Add(string name, string value) => _fields.Add(new(name, value));

    public string? Get(string name)
    {
        int index = IndexOf(name);
        return index < 0 ? null : _fields[index].Value;
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

    public bool Contains(string name) => IndexOf(name) >= 0;

    /// <summary>The values of every field with this name, in order (for messages and cold paths: it allocates).</summary>
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

    /// <summary>Every comma-separated element of every field with this name, trimmed, empties dropped (allocates).</summary>
    public IEnumerable<string> Tokens(string name)
    {
        var tokens = new List<string>();
        foreach (ReadOnlySpan<char> token in TokenSpans(name))
        {
            tokens.Add(token.ToString());
        }

        return tokens;
    }

    /// <summary>The same elements as <see cref="Tokens"/>, as spans of the values: nothing allocated.</summary>
    public TokenEnumerator TokenSpans(string name) => new(_fields, name);

    public bool HasToken(string name, string token)
    {
        foreach (ReadOnlySpan<char> t in TokenSpans(name))
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

    public void Remove(string name)
    {
        for (int i = _fields.Count - 1; i >= 0; i--)
        {
            if (_fields[i].Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                _fields.RemoveAt(i);
            }
        }
    }

    /// <summary>One field with this name and value, where the first of its name was (or last when there was none).</summary>
    public void Set(string name, string value)
    {
        int index = IndexOf(name);
        if (index < 0)
        {
            _fields.Add(new(name, value));
            return;
        }

        _fields[index] = new(name, value);
        for (int i = _fields.Count - 1; i > index; i--)
        {
            if (_fields[i].Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                _fields.RemoveAt(i);
            }
        }
    }

    public List<KeyValuePair<string, string>>.Enumerator GetEnumerator() => _fields.GetEnumerator();

    private int IndexOf(string name)
    {
        for (int i = 0; i < _fields.Count; i++)
        {
            if (_fields[i].Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The comma-separated elements of the fields with one name (RFC 9110 §5.6.1), trimmed of spaces and tabs, empty
    /// elements skipped. Commas are not special inside quoted strings here, as in <see cref="Tokens"/>: the fields read
    /// this way (Connection, Transfer-Encoding, Content-Length, Upgrade) are lists of tokens.
    /// </summary>
    public ref struct TokenEnumerator
    {
        private readonly List<KeyValuePair<string, string>> _fields;
        private readonly string _name;
        private int _field;
        private ReadOnlySpan<char> _rest;
        private bool _inField;

        internal TokenEnumerator(List<KeyValuePair<string, string>> fields, string name)
        {
            _fields = fields;
            _name = name;
            _field = -1;
            _rest = default;
            _inField = false;
            Current = default;
        }

        public ReadOnlySpan<char> Current { get; private set; }

        public readonly TokenEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (true)
            {
                if (!_inField && !NextField())
                {
                    return false;
                }

                int comma = _rest.IndexOf(',');
                ReadOnlySpan<char> element = comma < 0 ? _rest : _rest[..comma];
                if (comma < 0)
                {
                    _inField = false;
                }
                else
                {
                    _rest = _rest[(comma + 1)..];
                }

                element = element.Trim(" \t");
                if (!element.IsEmpty)
                {
                    Current = element;
                    return true;
                }
            }
        }

        private bool NextField()
        {
            while (++_field < _fields.Count)
            {
                if (_fields[_field].Key.Equals(_name, StringComparison.OrdinalIgnoreCase))
                {
                    _rest = _fields[_field].Value;
                    _inField = true;
                    return true;
                }
            }

            return false;
        }
    }
}
