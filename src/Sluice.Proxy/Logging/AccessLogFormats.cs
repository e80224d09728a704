using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sluice.Proxy.Logging;

/// <summary>The two access-log line formats: Squid's native one (default, so existing tooling reads it) and JSON lines.</summary>
internal static class AccessLogFormats
{
    /// <summary><c>time elapsed client code/status bytes method url user hierarchy/peer type</c>, as Squid's logformat squid.</summary>
    public static string Squid(AccessLogEntry e)
    {
        DateTimeOffset end = e.Started + e.Elapsed;
        long ms = end.ToUnixTimeMilliseconds();
        string hierarchy = e.Peer?.ToString() ?? "HIER_NONE/-";
        return string.Create(CultureInfo.InvariantCulture,
            $"{ms / 1000}.{ms % 1000:000} {(long)e.Elapsed.TotalMilliseconds,6} {e.Client} {e.CodeText}/{e.Status:000} {e.BytesToClient} {e.Method} {Field(e.Url)} {Field(e.User)} {hierarchy} {Field(e.ContentType)}");
    }

    /// <summary>One JSON object per line with the Squid facts plus rule, reason and Proxy-Status error.</summary>
    public static string Json(AccessLogEntry e)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("time", (e.Started + e.Elapsed).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteNumber("elapsedMs", (long)e.Elapsed.TotalMilliseconds);
            w.WriteString("client", e.Client.ToString());
            w.WriteString("code", e.CodeText);
            w.WriteNumber("status", e.Status);
            w.WriteString("method", e.Method);
            w.WriteString("url", e.Url);
            w.WriteNumber("bytesToClient", e.BytesToClient);
            w.WriteNumber("bytesFromClient", e.BytesFromClient);
            WriteOptional(w, "user", e.User);
            WriteOptional(w, "peer", e.Peer?.Host);
            WriteOptional(w, "hierarchy", e.Peer?.Code);
            WriteOptional(w, "upstream", e.Upstream);
            WriteOptional(w, "parent", e.Parent);
            WriteOptional(w, "resolved", e.ResolvedByParent ? "parent" : null);
            WriteOptional(w, "contentType", e.ContentType);
            WriteOptional(w, "rule", e.Rule);
            WriteOptional(w, "reason", e.Reason);
            WriteOptional(w, "proxyStatus", e.ProxyStatusError);
            if (e.WouldRefuse is { } would)
            {
                // A would-deny: let through in report mode; enforced, the client would have had this answer instead.
                Errors.ProxyErrorInfo info = Errors.ProxyErrors.Describe(would);
                w.WriteBoolean("report", true);
                w.WriteNumber("wouldStatus", info.Status);
                w.WriteString("wouldError", info.ProxyStatusError);
            }
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    // Squid fields are space-separated: a value never contains a space, and absent is "-".
    private static string Field(string? value) => string.IsNullOrEmpty(value) ? "-" : value.Replace(' ', '+').Replace('\n', '+');
}
