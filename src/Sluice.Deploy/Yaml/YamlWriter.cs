using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sluice.Deploy.Yaml;

/// <summary>
/// Writes a <see cref="YamlMap"/> tree through YamlDotNet's emitter, so every value is quoted and escaped by the
/// library (never concatenated).
/// </summary>
internal static partial class YamlWriter
{
    public static string Write(IEnumerable<YamlDocument> documents)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var emitter = new Emitter(text, new EmitterSettings(2, int.MaxValue, false, 1024, false, true, "\n"));
        emitter.Emit(new StreamStart());
        foreach (YamlDocument document in documents)
        {
            emitter.Emit(new DocumentStart(null, null, isImplicit: false));
            foreach (string comment in document.Comments)
            {
                EmitComment(emitter, comment);
            }

            EmitValue(emitter, document.Root);
            emitter.Emit(new DocumentEnd(isImplicit: true));
        }

        emitter.Emit(new StreamEnd());
        string result = text.ToString();
        return result.EndsWith('\n') ? result : result + "\n";
    }

    public static string Write(YamlMap root, IReadOnlyList<string> comments) =>
        Write([new YamlDocument(root, comments)]);

    private static void EmitComment(IEmitter emitter, string comment)
    {
        foreach (string line in comment.Split('\n'))
        {
            emitter.Emit(new Comment(line, isInline: false));
        }
    }

    private static void EmitValue(IEmitter emitter, object value)
    {
        switch (value)
        {
            case YamlMap map:
                emitter.Emit(new MappingStart(null, null, isImplicit: true, map.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach ((string key, object? item, string? comment) in map.Entries)
                {
                    if (comment is not null)
                    {
                        EmitComment(emitter, comment);
                    }

                    EmitString(emitter, key);
                    EmitValue(emitter, item!);
                }

                emitter.Emit(new MappingEnd());
                break;
            case YamlList list:
                emitter.Emit(new SequenceStart(null, null, isImplicit: true, list.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                for (int i = 0; i < list.Count; i++)
                {
                    if (list.Comments.TryGetValue(i, out string? comment))
                    {
                        EmitComment(emitter, comment);
                    }

                    EmitValue(emitter, list[i]);
                }

                emitter.Emit(new SequenceEnd());
                break;
            case YamlLiteral literal:
                emitter.Emit(new Scalar(null, null, literal.Text, ScalarStyle.Literal, isPlainImplicit: false, isQuotedImplicit: true));
                break;
            case bool flag:
                emitter.Emit(new Scalar(null, null, flag ? "true" : "false", ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                break;
            case int or long:
                emitter.Emit(new Scalar(null, null, Convert.ToString(value, CultureInfo.InvariantCulture)!, ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                break;
            case string text:
                EmitString(emitter, text);
                break;
            default:
                throw new ArgumentException($"cannot write a {value.GetType().Name} as YAML", nameof(value));
        }
    }

    /// <summary>A string stays a string for every reader: quoted where a plain scalar would read as a number, boolean or null.</summary>
    private static void EmitString(IEmitter emitter, string text)
    {
        ScalarStyle style = LooksLikeAnotherType().IsMatch(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any;
        emitter.Emit(new Scalar(null, null, text, style, isPlainImplicit: style == ScalarStyle.Any, isQuotedImplicit: true));
    }

    // YAML 1.1 and 1.2 core-schema booleans, nulls and numbers (including sexagesimal and the 1.1 yes/no/on/off).
    [GeneratedRegex(@"^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N|[-+]?\.?[0-9][0-9a-fA-FxXoObB_:.,eE+-]*|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")]
    private static partial Regex LooksLikeAnotherType();
}
