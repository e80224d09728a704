using System.Buffers;
using System.Globalization;
using System.Text;

namespace Sluice.Proxy.Http1;

/// <summary>Builds one message head in a pooled buffer so it goes out in a single write.</summary>
internal sealed class HeadWriter : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(2048);
    private int _length;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public HeadWriter Append(string text)
    {
        Ensure(text.Length);
        _length += Encoding.Latin1.GetBytes(text, _buffer.AsSpan(_length));
        return this;
    }

    /// <summary>Raw bytes after the head: a small body that can leave in the same write.</summary>
    public HeadWriter Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
        return this;
    }

    public HeadWriter Append(int value) => Append(value.ToString(CultureInfo.InvariantCulture));

    public HeadWriter Append(long value) => Append(value.ToString(CultureInfo.InvariantCulture));

    public HeadWriter Field(string name, string value) => Append(name).Append(": ").Append(value).Append("\r\n");

    public HeadWriter Fields(HttpFields fields)
    {
        foreach (KeyValuePair<string, string> field in fields)
        {
            Field(field.Key, field.Value);
        }

        return this;
    }

    public HeadWriter End() => Append("\r\n");

    public ValueTask WriteToAsync(Stream stream, CancellationToken cancellationToken) => stream.WriteAsync(Written, cancellationToken);

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length)
        {
            return;
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + more));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
