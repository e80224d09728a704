namespace Sluice.Deploy.Squid;

/// <summary>
/// What the conversion says about one line: a directive it could not translate (<paramref name="Untranslated"/>),
/// or how it translated one. Line 0 is about the file as a whole (a default Squid applies).
/// </summary>
public sealed record SquidNote(int Line, string Directive, string Text, bool Untranslated)
{
    public override string ToString() => Untranslated
        ? $"line {Line}: {Directive}: not translated: {Text}"
        : $"line {Line}: {Directive}: {Text}";
}

/// <summary>The notes of one translation, in the order they were made.</summary>
internal sealed class SquidNotes
{
    private readonly List<SquidNote> _notes = [];

    public void Untranslated(int line, string directive, string why) => _notes.Add(new SquidNote(line, directive, why, Untranslated: true));

    public void Remark(int line, string directive, string text) => _notes.Add(new SquidNote(line, directive, text, Untranslated: false));

    public void AddRange(IEnumerable<SquidNote> notes) => _notes.AddRange(notes);

    /// <summary>By line; notes about one line keep the order they were made in.</summary>
    public IReadOnlyList<SquidNote> ByLine() => [.. _notes.OrderBy(n => n.Line)];
}
