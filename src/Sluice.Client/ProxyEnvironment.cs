namespace Sluice.Client;

/// <summary>
/// Proxy settings from environment variables, with one documented precedence:
/// <list type="number">
/// <item>For https destinations: <c>https_proxy</c>, then <c>HTTPS_PROXY</c>; for http: <c>http_proxy</c>, then
/// <c>HTTP_PROXY</c>; then <c>all_proxy</c>, <c>ALL_PROXY</c>. Lower case first, as curl, Go and Python do.</item>
/// <item>Upper-case <c>HTTP_PROXY</c> is ignored when <c>REQUEST_METHOD</c> is set (a CGI program), because there a
/// client's <c>Proxy:</c> request header arrives as HTTP_PROXY ("httpoxy"); lower case is still honoured.</item>
/// <item><c>no_proxy</c>, then <c>NO_PROXY</c>, with <see cref="NoProxyList"/>'s semantics.</item>
/// </list>
/// Empty values count as unset.
/// </summary>
public static class ProxyEnvironment
{
    public static ProxySettings? ForHttps(Func<string, string?> getenv) =>
        Build(getenv, First(getenv, "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"));

    public static ProxySettings? ForHttp(Func<string, string?> getenv)
    {
        bool cgi = !string.IsNullOrEmpty(getenv("REQUEST_METHOD"));
        string? value = cgi
            ? First(getenv, "http_proxy", "all_proxy", "ALL_PROXY")
            : First(getenv, "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY");
        return Build(getenv, value);
    }

    /// <summary>The process environment.</summary>
    public static string? Process(string name) => Environment.GetEnvironmentVariable(name);

    private static ProxySettings? Build(Func<string, string?> getenv, string? url) =>
        url is null ? null : ProxySettings.FromUrl(url, NoProxyList.Parse(First(getenv, "no_proxy", "NO_PROXY")));

    private static string? First(Func<string, string?> getenv, params string[] names)
    {
        foreach (string name in names)
        {
            if (getenv(name) is { Length: > 0 } value)
            {
                return value;
            }
        }

        return null;
    }
}
