using System.Text;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// Splits the bytes of an FTP server's control stream into replies (RFC 959 §4.2), however the bytes arrive: a reply
/// may come in pieces and several may come in one read. A line ends with CRLF (a bare LF is accepted). A multi-line
/// reply starts with <c>ddd-</c> and ends at a line starting with the same code and a space; the lines between may
/// say anything. Memory is bounded: a line longer than <see cref="MaxLine"/> is cut there, and a reply keeps at most
/// <see cref="MaxReply"/> characters of text (<see cref="FtpReply.Truncated"/>), however long the server goes on.
/// </summary>
/// <param name="strictLineEnds">
/// Only CRLF ends a line; a bare LF is part of it. For a stream whose replies may echo what a client wrote: many servers
/// end a command at CRLF only, so a client can slip a bare LF into an argument the server repeats in its reply (550
/// "<c>x\n227 Entering Passive Mode (...)</c> is not retrievable"), which must not read as a reply of its own.
/// </param>
internal sealed class FtpReplyReader(bool strictLineEnds = false)
{
    public const int MaxLine = 4096;
    public const int MaxReply = 64 * 1024;

    private readonly byte[] _line = new byte[MaxLine];
    private readonly Queue<FtpReply> _ready = new();
    private int _lineLength;
    private bool _lineCut;
    private int _openCode; // the code of the multi-line reply being read; 0 between replies
    private StringBuilder? _text;
    private bool _truncated;
    private byte _last; // the last byte fed, stored or cut: whether an LF follows a CR

    /// <summary>Replies completed and not yet taken.</summary>
    public int Count => _ready.Count;

    /// <summary>Takes in the next bytes of the stream; complete replies become available to <see cref="TryTake"/>.</summary>
    public void Feed(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int end = bytes.IndexOf((byte)'\n');
            ReadOnlySpan<byte> piece = end < 0 ? bytes : bytes[..end];
            int room = MaxLine - _lineLength;
            if (piece.Length > room)
            {
                _lineCut = true;
            }

            piece[..Math.Min(piece.Length, room)].CopyTo(_line.AsSpan(_lineLength));
            _lineLength += Math.Min(piece.Length, room);
            _last = piece.IsEmpty ? _last : piece[^1];
            if (end < 0)
            {
                return;
            }

            if (strictLineEnds && _last != '\r')
            {
                // A bare LF: one more byte of the line.
                if (_lineLength < MaxLine)
                {
                    _line[_lineLength++] = (byte)'\n';
                }
                else
                {
                    _lineCut = true;
                }

                _last = (byte)'\n';
                bytes = bytes[(end + 1)..];
                continue;
            }

            int length = _lineLength > 0 && _line[_lineLength - 1] == '\r' ? _lineLength - 1 : _lineLength;
            Line(_line.AsSpan(0, length), _lineCut);
            _lineLength = 0;
            _lineCut = false;
            _last = (byte)'\n';
            bytes = bytes[(end + 1)..];
        }
    }

    public bool TryTake(out FtpReply reply) => _ready.TryDequeue(out reply);

    private void Line(ReadOnlySpan<byte> line, bool cut)
    {
        int code = CodeOf(line);
        string text = Encoding.UTF8.GetString(line.Length >= 4 && code != 0 ? line[4..] : line);
        if (_openCode != 0)
        {
            // Inside a multi-line reply: only "ddd " with the same code ends it; anything else is one of its lines.
            bool last = code == _openCode && line.Length >= 4 && line[3] == ' ';
            Append(last || (code == _openCode && line.Length >= 4 && line[3] == '-') ? text : Encoding.UTF8.GetString(line), cut);
            if (last)
            {
                Complete(_openCode);
            }

            return;
        }

        if (code == 0 || (line.Length > 3 && line[3] is not ((byte)' ' or (byte)'-')))
        {
            _ready.Enqueue(new FtpReply(0, Encoding.UTF8.GetString(line), cut));
            return;
        }

        _text = null;
        _truncated = false;
        Append(line.Length > 3 ? text : "", cut);
        if (line.Length > 3 && line[3] == '-')
        {
            _openCode = code;
            return;
        }

        Complete(code);
    }

    private void Append(string text, bool cut)
    {
        _text ??= new StringBuilder();
        if (_text.Length > 0)
        {
            text = "\n" + text;
        }

        int room = MaxReply - _text.Length;
        if (text.Length > room)
        {
            _truncated = true;
            text = text[..Math.Max(room, 0)];
        }

        _text.Append(text);
        _truncated |= cut;
    }

    private void Complete(int code)
    {
        _ready.Enqueue(new FtpReply(code, _text?.ToString() ?? "", _truncated));
        _openCode = 0;
        _text = null;
        _truncated = false;
    }

    // Three digits, the first 1-5 (RFC 959 §4.2); 0 when the line does not start with a reply code.
    private static int CodeOf(ReadOnlySpan<byte> line)
    {
        if (line.Length < 3 || line[0] is < (byte)'1' or > (byte)'5' || !IsDigit(line[1]) || !IsDigit(line[2]))
        {
            return 0;
        }

        return ((line[0] - '0') * 100) + ((line[1] - '0') * 10) + (line[2] - '0');
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
}
