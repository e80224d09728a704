using System.Text;
using System.Text.Json;

namespace Sluice.Cli.Commands;

/// <summary>The one JSON document a command prints with <c>--json</c>: indented, UTF-8, followed by a newline.</summary>
internal static class JsonOutput
{
    public static void Write(TextWriter output, Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            write(w);
        }

        output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
