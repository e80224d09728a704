using System.Globalization;
using System.Net;
using System.Text;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// The HTML page of a directory listing, written as its lines arrive (no listing is held whole): a heading, a way
/// up, then one table row per entry. Every name is HTML-escaped and percent-encoded in its link, so a file called
/// <c>&lt;script&gt;</c> is shown as text and a name with <c>?</c> or <c>#</c> still links to itself.
/// </summary>
internal static class FtpListingPage
{
    public const string ContentType = "text/html; charset=utf-8";

    /// <param name="title">The directory's URL, without credentials.</param>
    public static string Start(string title, bool isRoot)
    {
        string escaped = WebUtility.HtmlEncode(title);
        var html = new StringBuilder()
            .Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ").Append(escaped).Append("</title></head>\n<body>\n<h1>Index of ")
            .Append(escaped).Append("</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n");
        if (!isRoot)
        {
            html.Append("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }

        return html.ToString();
    }

    public static string Row(FtpListingEntry entry)
    {
        if (entry.Name is not { } name)
        {
            // A line no format explains is shown as the server wrote it.
            return $"<tr><td colspan=\"3\"><code>{WebUtility.HtmlEncode(entry.Text)}</code></td></tr>\n";
        }

        string shown = entry.IsDirectory ? name + "/" : name;
        string href = Uri.EscapeDataString(name) + (entry.IsDirectory ? "/" : "");
        string size = entry.Size is { } bytes ? bytes.ToString(CultureInfo.InvariantCulture) : "";
        return $"<tr><td><a href=\"{WebUtility.HtmlEncode(href)}\">{WebUtility.HtmlEncode(shown)}</a></td><td>{size}</td><td>{WebUtility.HtmlEncode(entry.Modified ?? "")}</td></tr>\n";
    }

    public const string End = "</table>\n</body></html>\n";
}
