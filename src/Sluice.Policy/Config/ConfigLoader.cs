using System.Collections.Immutable;
using System.Net;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>
/// Reads a <see cref="SluiceConfig"/> from YAML. The whole file is validated before anything is returned:
/// a caller gets a complete snapshot or a <see cref="ConfigException"/>, never a half-applied config.
/// </summary>
public static class ConfigLoader
{
    public static SluiceConfig LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, 0, 0, $"cannot read the file: {e.Message}");
        }

        return Parse(text, path);
    }

    public static SluiceConfig Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(yaml));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            throw new ConfigException(source, e.Start.Line, e.Start.Column, $"not valid YAML: {e.InnerException?.Message ?? e.Message}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException or IndexOutOfRangeException)
        {
            // YamlDotNet's scanner sometimes fails on malformed input with a bare exception (an unclosed flow
            // sequence followed by more lines throws InvalidOperationException). A config error must still come out
            // as a ConfigException; the last event the parser produced is the nearest position we know.
            Mark at = parser.Current?.Start ?? Mark.Empty;
            throw new ConfigException(source, at.Line, at.Column, $"not valid YAML near here ({e.Message})");
        }

        // A truncated or half-written file is most often empty: it must never mean "all defaults" (no rules, no
        // authentication). A file that wants every default says so with an empty mapping, {}.
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            throw new ConfigException(source, 0, 0, "the file is empty (nothing but blank lines or comments): refused, because a truncated or half-written file looks the same; write {} for a configuration of all defaults");
        }

        if (stream.Documents.Count > 1)
        {
            throw YamlSection.Error(source, stream.Documents[1].RootNode, "expected one YAML document, found several");
        }

        YamlNode root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode map)
        {
            throw YamlSection.Error(source, root, "the configuration must be a mapping (key: value lines)");
        }

        return Read(new YamlSection(map, source, ""), source);
    }

    private static SluiceConfig Read(YamlSection top, string source)
    {
        var defaults = new SluiceConfig();
        ImmutableArray<UpstreamConfig> upstreams = UpstreamsReader.Read(top);
        InspectionConfig? inspection = InspectionReader.Read(top);
        var config = new SluiceConfig
        {
            Source = source,
            Name = top.Parse("name", defaults.Name, TryParseName, "a name of letters, digits, '.', '-' or '_'"),
            Listeners = ReadListeners(top, defaults),
            Timeouts = ReadTimeouts(top.Section("timeouts")),
            Limits = ReadLimits(top.Section("limits")),
            Log = ReadLog(top.Section("log")),
            Addresses = ReadAddresses(top.Section("addresses")),
            Auth = AuthReader.Read(top),
            Admin = ReadAdmin(top),
            Upstreams = upstreams,
            Route = UpstreamsReader.ReadRoute(top, upstreams),
            Rules = RulesReader.ReadRules(top, upstreams, inspection),
            Default = RulesReader.ReadDefault(top),
            Mode = RulesReader.ReadMode(top),
            Bypass = BypassReader.Read(top),
            Clients = ClientsReader.Read(top),
            Ftp = ReadFtp(top.Section("ftp")),
            Reload = ReadReload(top.Section("reload")),
            Inspection = inspection,
            Resolver = ResolverReader.Read(top),
        };
        top.RejectUnknownKeys();
        return config;
    }

    private static ImmutableArray<ListenerConfig> ReadListeners(YamlSection top, SluiceConfig defaults)
    {
        YamlNode? node = top.Get("listeners");
        if (node is null)
        {
            return defaults.Listeners;
        }

        IReadOnlyList<YamlNode> items = top.List("listeners");
        if (items.Count == 0)
        {
            throw top.Error(node, "listeners: at least one listener is needed");
        }

        var listeners = ImmutableArray.CreateBuilder<ListenerConfig>();
        var seen = new HashSet<IPEndPoint>();
        for (int i = 0; i < items.Count; i++)
        {
            YamlSection item = top.Item(items[i], i, "listeners");
            YamlNode? addressNode = item.Get("address") ?? throw top.Error(items[i], $"listeners[{i}]: 'address' is required, e.g. 127.0.0.1:3128");
            IPEndPoint address = item.Parse<IPEndPoint>("address", null!, Endpoints.TryParse, "host:port with an IP address, e.g. 0.0.0.0:3128 or [::]:3128");
            if (!seen.Add(address))
            {
                throw top.Error(addressNode, $"listeners[{i}]: {Endpoints.Format(address)} is listed twice");
            }

            TlsConfig? tls = item.Section("tls") is { } tlsSection ? TlsReader.Read(tlsSection, item.Get("tls")!, $"listeners[{i}].tls", top) : null;
            item.RejectUnknownKeys();
            listeners.Add(new ListenerConfig { Address = address, Tls = tls });
        }

        return listeners.ToImmutable();
    }

    private static TimeoutsConfig ReadTimeouts(YamlSection? section)
    {
        var d = new TimeoutsConfig();
        if (section is null)
        {
            return d;
        }

        var timeouts = new TimeoutsConfig
        {
            Connect = section.Duration("connect", d.Connect),
            Idle = section.Duration("idle", d.Idle),
            RequestHeaders = section.Duration("requestHeaders", d.RequestHeaders),
            UpstreamIdle = section.Duration("upstreamIdle", d.UpstreamIdle),
            Drain = section.Duration("drain", d.Drain),
        };
        section.RejectUnknownKeys();
        return timeouts;
    }

    private static FtpConfig ReadFtp(YamlSection? section)
    {
        var d = new FtpConfig();
        if (section is null)
        {
            return d;
        }

        TimeSpan lifetime = section.Duration("permitLifetime", d.PermitLifetime);
        if (section.Get("permitLifetime") is { } node && (lifetime <= TimeSpan.Zero || lifetime > TimeSpan.FromMinutes(10)))
        {
            throw section.Error(node, "ftp.permitLifetime: between 1ms and 10m: a client connects to the data port right after the server's reply");
        }

        string password = section.String("anonymousPassword") ?? d.AnonymousPassword;
        if (section.Get("anonymousPassword") is { } passwordNode && (password.Length == 0 || password.Any(c => char.IsControl(c) || c > '~')))
        {
            throw section.Error(passwordNode, "ftp.anonymousPassword: printable ASCII, not empty (it is sent in the PASS command)");
        }

        var ftp = new FtpConfig { PermitLifetime = lifetime, AnonymousPassword = password };
        section.RejectUnknownKeys();
        return ftp;
    }

    private static AdminConfig? ReadAdmin(YamlSection top)
    {
        YamlNode? node = top.Get("admin");
        if (node is YamlScalarNode { Value: "off" })
        {
            return null;
        }

        YamlSection? section = top.Section("admin");
        if (section is null)
        {
            return new AdminConfig();
        }

        var d = new AdminConfig();
        var admin = new AdminConfig
        {
            Address = section.Parse("address", d.Address, Endpoints.TryParse, "host:port with an IP address, e.g. 127.0.0.1:9090"),
            Token = section.String("token") is { } token && token.Length < 16
                ? throw section.Error(section.Get("token")!, "admin.token: use at least 16 characters (a random string)")
                : section.String("token"),
        };
        section.RejectUnknownKeys();
        return admin;
    }

    private static ReloadConfig ReadReload(YamlSection? section)
    {
        if (section is null)
        {
            return new ReloadConfig();
        }

        var reload = new ReloadConfig
        {
            AllowNoRules = section.Parse("allowNoRules", false, bool.TryParse, "true or false"),
        };
        section.RejectUnknownKeys();
        return reload;
    }

    private static LimitsConfig ReadLimits(YamlSection? section)
    {
        var d = new LimitsConfig();
        if (section is null)
        {
            return d;
        }

        var limits = new LimitsConfig
        {
            MaxHeaderBytes = section.Int("maxHeaderBytes", d.MaxHeaderBytes, 1024, 1024 * 1024),
            MaxHeaderCount = section.Int("maxHeaderCount", d.MaxHeaderCount, 8, 10_000),
            MaxRequestLineBytes = section.Int("maxRequestLineBytes", d.MaxRequestLineBytes, 256, 1024 * 1024),
            MaxIdleUpstreamPerHost = section.Int("maxIdleUpstreamPerHost", d.MaxIdleUpstreamPerHost, 0, 100_000),
            MaxConnections = section.Int("maxConnections", d.MaxConnections, 1, 10_000_000),
            MaxConnectionsPerClient = section.Int("maxConnectionsPerClient", d.MaxConnectionsPerClient, 1, 10_000_000),
            MaxTunnelsPerClient = section.Int("maxTunnelsPerClient", d.MaxTunnelsPerClient, 1, 10_000_000),
            RequestsPerSecondPerClient = section.Int("requestsPerSecondPerClient", d.RequestsPerSecondPerClient, 0, 10_000_000),
            RequestBurstPerClient = section.Int("requestBurstPerClient", d.RequestBurstPerClient, 0, 10_000_000),
            PerDestination = PerDestinationReader.Read(section, () => Names.RegistrableDomains.Available),
        };
        section.RejectUnknownKeys();
        return limits;
    }

    private static LogConfig ReadLog(YamlSection? section)
    {
        var d = new LogConfig();
        if (section is null)
        {
            return d;
        }

        var log = new LogConfig
        {
            Access = section.Parse("access", d.Access, (string text, out string v) => (v = text).Length > 0, "stdout, stderr, off or a file path"),
            Format = section.Parse("format", d.Format, TryParseFormat, "squid or json"),
        };
        section.RejectUnknownKeys();
        return log;
    }

    private static AddressesConfig ReadAddresses(YamlSection? section)
    {
        if (section is null)
        {
            return new AddressesConfig();
        }

        var addresses = new AddressesConfig
        {
            Allow = ReadNetworks(section, "allow"),
            Deny = ReadNetworks(section, "deny"),
        };
        section.RejectUnknownKeys();
        return addresses;
    }

    private static ImmutableArray<IPNetwork> ReadNetworks(YamlSection section, string key)
    {
        var networks = ImmutableArray.CreateBuilder<IPNetwork>();
        foreach (YamlNode node in section.List(key))
        {
            if (node is not YamlScalarNode { Value: { } text } || !Addresses.Networks.TryParse(text, out IPNetwork network))
            {
                throw section.Error(node, $"addresses.{key}: expected an address or CIDR such as 10.1.2.3/32 or fd00::/8, got {YamlSection.Show(node)}");
            }

            networks.Add(network);
        }

        return networks.ToImmutable();
    }

    // Only the names themselves: Enum.TryParse would also take "1" or "squid,json" (flags OR'ed to Json).
    private static bool TryParseFormat(string text, out AccessLogFormat format) =>
        Enum.GetNames<AccessLogFormat>().Any(name => name.Equals(text, StringComparison.OrdinalIgnoreCase))
        & Enum.TryParse(text, ignoreCase: true, out format);

    /// <summary>The rule for <c>name</c>: 1 to 64 letters, digits, '.', '-' or '_', starting with a letter.</summary>
    public static bool IsValidName(string text) =>
        text.Length is > 0 and <= 64 && char.IsAsciiLetter(text[0])
        && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');

    private static bool TryParseName(string text, out string name)
    {
        name = text;
        return IsValidName(text);
    }
}
