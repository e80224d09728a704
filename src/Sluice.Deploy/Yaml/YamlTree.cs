namespace Sluice.Deploy.Yaml;

/// <summary>
/// A small ordered YAML tree, written by <see cref="YamlWriter"/>, with comments where a reader needs the reason for
/// a value. Values are <see cref="YamlMap"/>, <see cref="YamlList"/>, <see cref="YamlLiteral"/>, strings, integers
/// and booleans.
/// </summary>
internal sealed class YamlMap
{
    private readonly List<(string Key, object? Value, string? Comment)> _entries = [];

    public int Count => _entries.Count;

    public IEnumerable<(string Key, object? Value, string? Comment)> Entries => _entries;

    /// <summary>Adds a key; a null value leaves it out (an absent key, not "null").</summary>
    public YamlMap Add(string key, object? value, string? comment = null)
    {
        if (value is not null)
        {
            _entries.Add((key, value, comment));
        }

        return this;
    }

    public object? this[string key] => _entries.FirstOrDefault(e => e.Key == key).Value;
}

internal sealed class YamlList : List<object>
{
    public YamlList()
    {
    }

    public YamlList(IEnumerable<object> items)
        : base(items)
    {
    }

    /// <summary>Comments written above the item at that index.</summary>
    public Dictionary<int, string> Comments { get; } = [];

    public YamlList AddWithComment(object item, string? comment)
    {
        if (comment is not null)
        {
            Comments[Count] = comment;
        }

        Add(item);
        return this;
    }
}

/// <summary>A multi-line string written as a literal block (<c>|</c>).</summary>
internal sealed record YamlLiteral(string Text);

/// <summary>One document of a multi-document stream, with comment lines above it.</summary>
internal sealed record YamlDocument(YamlMap Root, IReadOnlyList<string> Comments);
