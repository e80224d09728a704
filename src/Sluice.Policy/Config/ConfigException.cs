namespace Sluice.Policy.Config;

/// <summary>A configuration that cannot be used, with the place in the file that is wrong.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string source, long line, long column, string problem)
        : base(line > 0 ? $"{source}:{line}:{column}: {problem}" : $"{source}: {problem}")
    {
        Source = source;
        Line = line;
        Column = column;
        Problem = problem;
    }

    public new string Source { get; }

    public long Line { get; }

    public long Column { get; }

    public string Problem { get; }
}
