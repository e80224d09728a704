using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Names;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>
/// Reads <c>upstreams:</c> and <c>route:</c>. Files (a CA, a password file) must exist when the configuration is loaded;
/// the secrets themselves are read by the proxy when it builds a snapshot (<see cref="SecretSource.Read"/>).
/// </summary>
internal static class UpstreamsReader
{
    public static ImmutableArray<UpstreamConfig> Read(YamlSection top)
    {
        IReadOnlyList<YamlNode> items = top.List("upstreams");
        var upstreams = ImmutableArray.CreateBuilder<UpstreamConfig>(items.Count);
        var names = new Dictionary<string, UpstreamConfig>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            string where = $"upstreams[{i}]";
            YamlSection item = top.Item(items[i], i, "upstreams");
            string name = item.String("name") ?? throw top.Error(items[i], $"{where}: 'name' is required (rules name it with via:)");
            if (!ConfigLoader.IsValidName(name) || name == RouteConfig.Direct)
            {
                throw top.Error(item.Get("name")!, name == RouteConfig.Direct
                    ? $"{where}: '{RouteConfig.Direct}' names the direct route; choose another name"
                    : $"{where}: the name '{name}' must be 1 to 64 letters, digits, '.', '-' or '_', starting with a letter");
            }

            if (names.TryGetValue(name, out UpstreamConfig? same))
            {
                throw top.Error(item.Get("name")!, $"{where}: the name '{name}' is already used by the upstream on line {same.Line}");
            }

            ImmutableArray<ParentProxyAddress> proxies = ReadProxies(item, items[i], where);
            string? ca = item.String("ca") is { } caPath ? PemFile(item, "ca", where, caPath, top.BaseDirectory) : null;
            if (ca is not null && !proxies.Any(p => p.Tls))
            {
                throw item.Error(item.Get("ca")!, $"{where}.ca: only https:// proxies use a CA, and this upstream has none");
            }

            var upstream = new UpstreamConfig
            {
                Name = name,
                Proxies = proxies,
                Balance = item.Parse("balance", Balance.Failover, TryParseBalance, "failover, round-robin or hash-destination"),
                Credentials = item.Section("credentials") is { } credentials ? ReadCredentials(credentials, item.Get("credentials")!, $"{where}.credentials", top) : null,
                Ca = ca,
                CheckDestinations = item.Parse("checkDestinations", DestinationCheck.Local, TryParseCheck, "local or parent"),
                Line = items[i].Start.Line,
            };
            item.RejectUnknownKeys();
            names[name] = upstream;
            upstreams.Add(upstream);
        }

        return upstreams.ToImmutable();
    }

    /// <summary><c>route: { default: direct | NAME }</c>; the name must be one of <paramref name="upstreams"/>.</summary>
    public static RouteConfig ReadRoute(YamlSection top, ImmutableArray<UpstreamConfig> upstreams)
    {
        YamlSection? section = top.Section("route");
        if (section is null)
        {
            return new RouteConfig();
        }

        string route = CheckRoute(section, "default", "route.default", upstreams) ?? RouteConfig.Direct;
        section.RejectUnknownKeys();
        return new RouteConfig { Default = route };
    }

    /// <summary>Reads a route key (<c>via</c>, <c>route.default</c>): <c>direct</c> or an upstream's name; null when absent.</summary>
    public static string? CheckRoute(YamlSection section, string key, string where, ImmutableArray<UpstreamConfig> upstreams)
    {
        string? route = section.String(key);
        if (route is null || route == RouteConfig.Direct || upstreams.Any(u => u.Name == route))
        {
            return route;
        }

        string known = upstreams.IsEmpty ? "there are no upstreams: add one under upstreams:" : $"known: {RouteConfig.Direct}, {string.Join(", ", upstreams.Select(u => u.Name))}";
        throw section.Error(section.Get(key)!, $"{where}: no upstream is named '{route}' ({known})");
    }

    private static ImmutableArray<ParentProxyAddress> ReadProxies(YamlSection item, YamlNode node, string where)
    {
        IReadOnlyList<YamlNode> entries = item.List("proxies");
        if (entries.Count == 0)
        {
            throw item.Error(item.Get("proxies") ?? node, $"{where}.proxies: at least one proxy is needed, e.g. [\"http://proxy.corp:3128\"]");
        }

        var proxies = ImmutableArray.CreateBuilder<ParentProxyAddress>(entries.Count);
        foreach (YamlNode entry in entries)
        {
            if (entry is not YamlScalarNode { Value: { } text })
            {
                throw item.Error(entry, $"{where}.proxies: expected a URL such as http://proxy.corp:3128, got {YamlSection.Show(entry)}");
            }

            if (!TryParseProxy(text, out ParentProxyAddress? proxy, out string problem))
            {
                throw item.Error(entry, $"{where}.proxies: {problem}");
            }

            if (proxies.Any(p => p.Address == proxy!.Address))
            {
                throw item.Error(entry, $"{where}.proxies: {proxy!.Endpoint} is listed twice");
            }

            proxies.Add(proxy!);
        }

        return proxies.ToImmutable();
    }

    /// <summary><c>http://host:port</c> or <c>https://host:port</c>: no path, no credentials (they would end up in logs).</summary>
    public static bool TryParseProxy(string text, out ParentProxyAddress? proxy, out string problem)
    {
        proxy = null;

        // Any '@' is refused before anything else is said about the text, and without repeating it: a password in a
        // URL may itself hold a '/' or a '?' that would otherwise pass for the start of a path and escape redaction.
        if (text.Contains('@'))
        {
            problem = "a proxy URL carries no user or password; give them in credentials: (userEnv, passwordFile...), which are never logged";
            return false;
        }

        // The scheme is judged first, also when the rest is wrong: socks5://proxy has no default port, and "needs a
        // port" would send the reader looking in the wrong place.
        bool parsed = HostPort.TryParseUri(text, out UriTarget uri, out problem);
        if (uri.Scheme is { } scheme && scheme is not ("http" or "https"))
        {
            problem = $"'{text}': a parent proxy is http:// or https:// (TLS to the proxy), not {scheme}://";
            return false;
        }

        if (!parsed)
        {
            return false;
        }

        if (uri.PathAndQuery != "/" || uri.HasFragment)
        {
            problem = $"'{text}': a proxy URL is scheme://host:port, without a path";
            return false;
        }

        proxy = new ParentProxyAddress(uri.Scheme, uri.Authority);
        return true;
    }

    private static UpstreamCredentials ReadCredentials(YamlSection credentials, YamlNode node, string where, YamlSection top)
    {
        SecretSource user = ReadSecret(credentials, node, where, top, "user", literal: true);
        SecretSource password = ReadSecret(credentials, node, where, top, "password", literal: false);
        credentials.RejectUnknownKeys();
        return new UpstreamCredentials(user, password);
    }

    // One of NAME (a user name written in the file), NAMEEnv or NAMEFile. A password is never written in the file.
    private static SecretSource ReadSecret(YamlSection section, YamlNode node, string where, YamlSection top, string name, bool literal)
    {
        var given = new List<(SecretKind Kind, string Key, YamlNode Node, string Value)>();
        foreach ((SecretKind kind, string key) in new[] { (SecretKind.Literal, name), (SecretKind.Environment, name + "Env"), (SecretKind.File, name + "File") })
        {
            if (section.Get(key) is not { } valueNode)
            {
                continue;
            }

            if (kind == SecretKind.Literal && !literal)
            {
                throw section.Error(valueNode, $"{where}.{key}: a password is never written in the configuration; use {name}Env or {name}File");
            }

            string value = section.String(key)!;
            if (value.Length == 0)
            {
                throw section.Error(valueNode, $"{where}.{key} is empty");
            }

            if (kind == SecretKind.Literal && value.Any(c => c == ':' || char.IsControl(c)))
            {
                throw section.Error(valueNode, $"{where}.{key}: a user name for Basic authentication has no ':' and no control characters");
            }

            given.Add((kind, key, valueNode, value));
        }

        string keys = literal ? $"{name}, {name}Env or {name}File" : $"{name}Env or {name}File";
        if (given.Count != 1)
        {
            throw section.Error(given.Count == 0 ? node : given[1].Node, $"{where}: give one of {keys}");
        }

        (SecretKind k, string givenKey, YamlNode at, string text) = given[0];
        if (k == SecretKind.File)
        {
            text = Path.GetFullPath(text, top.BaseDirectory);
            if (!File.Exists(text))
            {
                throw section.Error(at, $"{where}.{givenKey}: no file at {text}");
            }
        }
        else if (k == SecretKind.Environment && (text.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '_') || char.IsAsciiDigit(text[0])))
        {
            throw section.Error(at, $"{where}.{givenKey}: '{text}' is not an environment variable name (letters, digits and '_')");
        }

        return new SecretSource(k, text, $"{where}.{givenKey}", top.Source, at.Start.Line, at.Start.Column);
    }

    private static string PemFile(YamlSection item, string key, string where, string path, string baseDir)
    {
        string full = Path.GetFullPath(path, baseDir);
        string text;
        try
        {
            text = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw item.Error(item.Get(key)!, $"{where}.{key}: cannot read {full}: {e.Message}");
        }

        // Parsed, not only searched for the marker: a broken certificate in the bundle is refused here, with its place
        // in the file, rather than at the first connection to the proxy.
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(text);
        }
        catch (CryptographicException e)
        {
            throw item.Error(item.Get(key)!, $"{where}.{key}: {full} holds a certificate that cannot be read: {e.Message}");
        }

        int count = certificates.Count;
        foreach (X509Certificate2 certificate in certificates)
        {
            certificate.Dispose();
        }

        return count > 0
            ? full
            : throw item.Error(item.Get(key)!, $"{where}.{key}: {full} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    private static bool TryParseBalance(string text, out Balance balance)
    {
        (bool ok, balance) = text switch
        {
            "failover" => (true, Balance.Failover),
            "round-robin" => (true, Balance.RoundRobin),
            "hash-destination" => (true, Balance.HashDestination),
            _ => (false, Balance.Failover),
        };
        return ok;
    }

    private static bool TryParseCheck(string text, out DestinationCheck check)
    {
        (bool ok, check) = text switch
        {
            "local" => (true, DestinationCheck.Local),
            "parent" => (true, DestinationCheck.Parent),
            _ => (false, DestinationCheck.Local),
        };
        return ok;
    }
}
