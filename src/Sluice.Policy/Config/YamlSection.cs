using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>
/// A YAML mapping read key by key. Every key must be claimed by the reader; <see cref="RejectUnknownKeys"/>
/// turns the rest into an error that points at the misspelt key, so a typo never silently changes nothing.
/// </summary>
internal sealed class YamlSection
{
    private readonly YamlMappingNode _node;
    private readonly string _source;
    private readonly string _path;
    private readonly HashSet<string> _claimed = new(StringComparer.Ordinal);

    public YamlSection(YamlMappingNode node, string source, string path)
    {
        _node = node;
        _source = source;
        _path = path;
    }

    public ConfigException Error(YamlNode node, string problem) => Error(_source, node, problem);

    /// <summary>The file (or other source) this section was read from, for messages that come later.</summary>
    public string Source => _source;

    /// <summary>The folder relative paths in the file are resolved against: the file's own folder.</summary>
    public string BaseDirectory => Path.GetDirectoryName(Path.GetFullPath(_source)) ?? Directory.GetCurrentDirectory();

    public static ConfigException Error(string source, YamlNode node, string problem) =>
        new(source, node.Start.Line, node.Start.Column, problem);

    public YamlNode? Get(string key)
    {
        _claimed.Add(key);
        foreach (KeyValuePair<YamlNode, YamlNode> pair in _node.Children)
        {
            if (pair.Key is YamlScalarNode { Value: { } name } && name == key)
            {
                return pair.Value;
            }
        }

        return null;
    }

    public string? String(string key)
    {
        YamlNode? node = Get(key);
        return node switch
        {
            null => null,
            YamlScalarNode scalar => scalar.Value ?? "",
            _ => throw Error(node, $"{Describe(key)} must be a single value"),
        };
    }

    public T Parse<T>(string key, T fallback, TryParser<T> parse, string expected)
    {
        YamlNode? node = Get(key);
        if (node is null)
        {
            return fallback;
        }

        if (node is not YamlScalarNode { Value: { } text } || !parse(text, out T value))
        {
            throw Error(node, $"{Describe(key)}: expected {expected}, got {Show(node)}");
        }

        return value;
    }

    public int Int(string key, int fallback, int min, int max) =>
        Parse(key, fallback, (string text, out int v) => int.TryParse(text, out v) && v >= min && v <= max, $"a whole number from {min} to {max}");

    public TimeSpan Duration(string key, TimeSpan fallback) =>
        Parse(key, fallback, Durations.TryParse, "a duration such as 500ms, 30s, 5m or 1h");

    public YamlSection? Section(string key)
    {
        YamlNode? node = Get(key);
        return node switch
        {
            null => null,
            YamlMappingNode map => new YamlSection(map, _source, Describe(key)),
            _ => throw Error(node, $"{Describe(key)} must be a mapping of keys to values"),
        };
    }

    public IReadOnlyList<YamlNode> List(string key)
    {
        YamlNode? node = Get(key);
        return node switch
        {
            null => [],
            YamlSequenceNode list => list.Children.ToList(),
            _ => throw Error(node, $"{Describe(key)} must be a list"),
        };
    }

    public YamlSection Item(YamlNode node, int index, string key) => node is YamlMappingNode map
        ? new YamlSection(map, _source, $"{Describe(key)}[{index}]")
        : throw Error(node, $"{Describe(key)}[{index}] must be a mapping of keys to values");

    public void RejectUnknownKeys()
    {
        foreach (YamlNode key in _node.Children.Keys)
        {
            string name = (key as YamlScalarNode)?.Value ?? "?";
            if (!_claimed.Contains(name))
            {
                string known = string.Join(", ", _claimed.Order(StringComparer.Ordinal));
                throw Error(key, $"unknown key '{name}' in {(_path.Length == 0 ? "the top level" : _path)} (known: {known})");
            }
        }
    }

    public static string Show(YamlNode node) => node is YamlScalarNode scalar ? $"'{scalar.Value}'" : node.NodeType.ToString().ToLowerInvariant();

    private string Describe(string key) => _path.Length == 0 ? key : $"{_path}.{key}";

    public delegate bool TryParser<T>(string text, out T value);

}
