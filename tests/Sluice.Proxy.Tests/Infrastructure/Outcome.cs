using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>What one probe of the conformance table saw, on both sides of the proxy.</summary>
public sealed class Outcome
{
    /// <summary>Status of the final response; 0 when the connection closed without one.</summary>
    public int Status { get; set; }

    /// <summary>The final response head as received, status line included.</summary>
    public string Head { get; set; } = "";

    /// <summary>The response body as received (chunked bodies still chunked).</summary>
    public string Body { get; set; } = "";

    /// <summary>Heads of the 1xx responses that came before the final one.</summary>
    public List<string> Interim { get; } = [];

    /// <summary>The body ended early: the proxy cut the connection rather than pass a broken message on.</summary>
    public bool Truncated { get; set; }

    /// <summary>The connection ended with a reset (RST), so the client knows the message is incomplete.</summary>
    public bool Reset { get; set; }

    /// <summary>The proxy closed the client connection after the response.</summary>
    public bool Closed { get; set; }

    /// <summary>Every byte the origin received.</summary>
    public string Origin { get; set; } = "";

    public int OriginConnections { get; set; }

    public int OriginRequests { get; set; }

    /// <summary>The body of a second request, from another client, to the same origin after the probe.</summary>
    public string? FollowUp { get; set; }

    public bool HeadHas(string field) => Head.Split("\r\n").Any(l => l.StartsWith(field + ":", StringComparison.OrdinalIgnoreCase));

    public string? HeadValue(string field) => Head.Split("\r\n").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.OrdinalIgnoreCase)) is { } line
        ? line[(field.Length + 1)..].Trim()
        : null;

    public override string ToString() =>
        $"status {Status}, closed {Closed}, truncated {Truncated}, reset {Reset}\n--- head ---\n{Head}--- body ---\n{Body}\n--- interim ---\n{string.Join("", Interim)}" +
        $"--- origin ({OriginConnections} connections, {OriginRequests} requests) ---\n{Origin}\n--- follow-up ---\n{FollowUp}";

    /// <summary>Reads interim responses, then one final response and its body, the way a strict client would.</summary>
    public static async Task<Outcome> ReadAsync(NetworkStream stream, string method = "GET")
    {
        var outcome = new Outcome();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                string? head = await ReadLineBlockAsync(stream, deadline.Token);
                if (head is null)
                {
                    outcome.Closed = true;
                    return outcome;
                }

                int status = head.Length >= 12 && int.TryParse(head.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int s) ? s : -1;
                if (status is >= 100 and < 200 && status != 101)
                {
                    outcome.Interim.Add(head);
                    continue;
                }

                outcome.Status = status;
                outcome.Head = head;
                break;
            }

            await ReadBodyAsync(stream, method, outcome, deadline.Token);
            if (outcome.HeadValue("Connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) == true)
            {
                outcome.Closed = await ReadLineBlockAsync(stream, deadline.Token) is null;
            }
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            outcome.Truncated = outcome.Status != 0;
            outcome.Closed = true;
            outcome.Reset = (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode == SocketError.ConnectionReset;
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"no complete response within 10 s; so far: {outcome}");
        }

        return outcome;
    }

    private static async Task ReadBodyAsync(NetworkStream stream, string method, Outcome outcome, CancellationToken ct)
    {
        if (method == "HEAD" || outcome.Status is 204 or 304 or 101 || method == "CONNECT" && outcome.Status == 200)
        {
            return;
        }

        var body = new StringBuilder();
        if (outcome.HeadValue("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)
        {
            while (true)
            {
                string line = await ReadLineAsync(stream, ct) ?? throw new IOException("closed inside a chunked body");
                body.Append(line).Append("\r\n");
                long size = long.Parse(line.Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    string? trailer;
                    while ((trailer = await ReadLineAsync(stream, ct) ?? throw new IOException("closed in the trailers")).Length > 0)
                    {
                        body.Append(trailer).Append("\r\n");
                    }

                    body.Append("\r\n");
                    break;
                }

                body.Append(await ReadExactlyAsync(stream, (int)size + 2, body, ct));
            }
        }
        else if (outcome.HeadValue("Content-Length") is { } length)
        {
            body.Append(await ReadExactlyAsync(stream, int.Parse(length, CultureInfo.InvariantCulture), body, ct));
        }
        else
        {
            byte[] buffer = new byte[4096];
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            {
                body.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }

            outcome.Closed = true;
        }

        outcome.Body = body.ToString();
    }

    private static async Task<string> ReadExactlyAsync(NetworkStream stream, int count, StringBuilder soFar, CancellationToken ct)
    {
        byte[] bytes = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = await stream.ReadAsync(bytes.AsMemory(got), ct);
            if (n == 0)
            {
                soFar.Append(Encoding.Latin1.GetString(bytes, 0, got));
                throw new IOException("closed inside the body");
            }

            got += n;
        }

        return Encoding.Latin1.GetString(bytes);
    }

    /// <summary>Lines up to an empty one (a head), CRLF kept; null when the connection closed before any byte.</summary>
    private static async Task<string?> ReadLineBlockAsync(NetworkStream stream, CancellationToken ct)
    {
        var head = new StringBuilder();
        while (true)
        {
            string? line = await ReadLineAsync(stream, ct);
            if (line is null)
            {
                return head.Length == 0 ? null : throw new IOException("closed inside a head");
            }

            head.Append(line).Append("\r\n");
            if (line.Length == 0)
            {
                return head.ToString();
            }
        }
    }

    private static async Task<string?> ReadLineAsync(NetworkStream stream, CancellationToken ct)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, ct) == 0)
            {
                return line.Length == 0 ? null : throw new IOException("closed inside a line");
            }

            if (one[0] == '\n' && line.Length > 0 && line[^1] == '\r')
            {
                return line.ToString(0, line.Length - 1);
            }

            line.Append((char)one[0]);
        }
    }
}
