using System.Text;
using Sluice.Proxy.Http1;

namespace Sluice.Proxy.Errors;

/// <summary>Writes the response for a <see cref="ProxyErrorKind"/>: status, Proxy-Status, a one-line plain-text body.</summary>
internal static class ErrorResponse
{
    public static async ValueTask<long> WriteAsync(Stream client, string proxyName, ProxyErrorKind kind, string detail, bool keepAlive, bool withBody, IReadOnlyList<KeyValuePair<string, string>> fields, CancellationToken cancellationToken, ParentHop? hop = null)
    {
        ProxyErrorInfo info = ProxyErrors.Describe(kind);
        byte[] body = Encoding.UTF8.GetBytes($"{info.Status} {info.Reason}: {detail}\n");
        using var head = new HeadWriter();
        head.Append("HTTP/1.1 ").Append(info.Status).Append(" ").Append(info.Reason).Append("\r\n")
            .Field("Proxy-Status", ProxyStatus(proxyName, info.ProxyStatusError, detail, hop))
            .Field("Content-Type", "text/plain; charset=utf-8")
            .Field("Content-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Field("Cache-Control", "no-store");
        foreach ((string name, string value) in fields)
        {
            head.Field(name, value);
        }

        if (!keepAlive)
        {
            head.Field("Connection", "close");
        }

        head.End();
        await head.WriteToAsync(client, cancellationToken).ConfigureAwait(false);
        if (withBody)
        {
            await client.WriteAsync(body, cancellationToken).ConfigureAwait(false); // not for HEAD: a body would corrupt the next response
        }

        return head.Written.Length + body.Length;
    }

    /// <summary>
    /// An RFC 9209 Proxy-Status member: <c>name; error=type; details="..."</c>, with <c>next-hop</c> and
    /// <c>received-status</c> when a parent proxy is where it went wrong.
    /// </summary>
    /// <param name="error">Empty for an answer that is no proxy error (the FTP gateway's 404): details only.</param>
    public static string ProxyStatus(string proxyName, string error, string detail, ParentHop? hop = null) =>
        $"{proxyName}{(error.Length == 0 ? "" : $"; error={error}")}{Hop(hop)}; details=\"{EscapeSfString(detail)}\"";

    /// <summary>The member a relayed response through a parent proxy carries: who answered, with what status.</summary>
    public static string ProxyStatusRelayed(string proxyName, ParentHop hop) => $"{proxyName}{Hop(hop)}";

    private static string Hop(ParentHop? hop) => hop switch
    {
        null => "",
        { ReceivedStatus: int status } => $"; next-hop=\"{EscapeSfString(hop.NextHop)}\"; received-status={status.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        _ => $"; next-hop=\"{EscapeSfString(hop.NextHop)}\"",
    };

    // Structured-field strings allow printable ASCII only; escape '\' and '"', replace the rest.
    private static string EscapeSfString(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c is '\\' or '"')
            {
                sb.Append('\\');
            }

            sb.Append(c is >= ' ' and <= '~' ? c : '?');
        }

        return sb.ToString();
    }
}
