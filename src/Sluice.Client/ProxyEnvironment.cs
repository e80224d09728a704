namespace Sluice.Client;

/// <summary>
/// Proxy settings from environment variables, with one documented precedence:
/// <list type="number">
/// <item>For https destinations: <c>https_proxy</c>, then <c>HTTPS_PROXY</c>; for http: <c>http_proxy</c>, then
/// <c>HTTP_PROXY</c>; then <c>all_proxy</c>, <c>ALL_PROXY</c>. Lower case first, as curl, Go and Python do.</item>
/// <item>Upper-case <c>HTTP_PROXY</c> is ignored when <c>REQUEST_METHOD</c> is set (a CGI program), because there a
/// client's <c>Proxy:</c> request header arrives as HTTP_PROXY ("httpoxy"); lower case is still honoured.</item>
/// <item><c>no_proxy</c>, then <c>NO_PROXY</c>, with <see cref="NoProxyList"/>'s semantics.</item>
/// <item><c>SLUICE_INSPECTION_CA</c>: the CA of a TLS-inspecting proxy (a PEM file's path, or PEM), trusted for
/// origins in addition to the system roots (<see cref="ProxySettings.InspectionCaPem"/>); read and checked when the
/// settings are built.</item>
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

    /// <summary>The variable that names an inspecting proxy's CA.</summary>
    public const string InspectionCaVariable = "SLUICE_INSPECTION_CA";

    /// <exception cref="FormatException">The proxy URL is malformed, or the inspection CA cannot be read or is no CA.</exception>
    private static ProxySettings? Build(Func<string, string?> getenv, string? url)
    {
        if (url is null)
        {
            return null;
        }

        ProxySettings settings = ProxySettings.FromUrl(url, NoProxyList.Parse(First(getenv, "no_proxy", "NO_PROXY")));
        if (First(getenv, InspectionCaVariable) is not { } ca)
        {
            return settings;
        }

        (string pem, string? file) = InspectionCa.Read(ca, null, InspectionCaVariable);
        return settings with { InspectionCaPem = pem, InspectionCaFile = file };
    }

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
