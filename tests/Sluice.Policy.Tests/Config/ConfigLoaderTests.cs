using System.Net;
using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

public sealed class ConfigLoaderTests
{
    private const string Full = """
        # A complete configuration: every section, every key.
        name: edge-1
        listeners:
          - address: 0.0.0.0:3128
          - address: "[::]:3129"
          - address: '[::1]:3130'
          - address: 10.0.0.1:0
        timeouts:
          connect: 5s
          idle: 2m
          requestHeaders: 750ms
          upstreamIdle: 1h
        limits:
          maxHeaderBytes: 32768
          maxHeaderCount: 50
          maxRequestLineBytes: 4096
          maxIdleUpstreamPerHost: 0
        log:
          access: /var/log/sluice/access.log
          format: JSON
        addresses:
          allow:
            - 10.0.0.0/8
            - fd00::/8
            - 169.254.169.254
          deny:
            - 10.9.0.0/16
            - 2001:db8::/32
        """;

    [Fact]
    public void A_full_config_is_read_into_the_record()
    {
        SluiceConfig config = ConfigLoader.Parse(Full, "sluice.yaml");

        Assert.Equal("sluice.yaml", config.Source);
        Assert.Equal("edge-1", config.Name);
        Assert.Equal(
            ["0.0.0.0:3128", "[::]:3129", "[::1]:3130", "10.0.0.1:0"],
            config.Listeners.Select(l => Endpoints.Format(l.Address)));
        Assert.Equal(IPAddress.IPv6Any, config.Listeners[1].Address.Address);
        Assert.Equal(
            new TimeoutsConfig
            {
                Connect = TimeSpan.FromSeconds(5),
                Idle = TimeSpan.FromMinutes(2),
                RequestHeaders = TimeSpan.FromMilliseconds(750),
                UpstreamIdle = TimeSpan.FromHours(1),
            },
            config.Timeouts);
        Assert.Equal(
            new LimitsConfig { MaxHeaderBytes = 32768, MaxHeaderCount = 50, MaxRequestLineBytes = 4096, MaxIdleUpstreamPerHost = 0 },
            config.Limits);
        Assert.Equal(new LogConfig { Access = "/var/log/sluice/access.log", Format = AccessLogFormat.Json }, config.Log);
        Assert.Equal(["10.0.0.0/8", "fd00::/8", "169.254.169.254/32"], config.Addresses.Allow.Select(n => n.ToString()));
        Assert.Equal(["10.9.0.0/16", "2001:db8::/32"], config.Addresses.Deny.Select(n => n.ToString()));
    }

    [Fact]
    public void A_partial_section_keeps_the_other_defaults()
    {
        SluiceConfig config = ConfigLoader.Parse("timeouts:\n  connect: 3s\nlimits:\n  maxHeaderCount: 20\n", "partial.yaml");

        Assert.Equal(new TimeoutsConfig { Connect = TimeSpan.FromSeconds(3) }, config.Timeouts);
        Assert.Equal(new LimitsConfig { MaxHeaderCount = 20 }, config.Limits);
        Assert.Equal(new LogConfig(), config.Log);
        Assert.Equal("127.0.0.1:3128", Assert.Single(config.Listeners).Address.ToString());
    }

    [Theory]
    [InlineData("", "an empty file")]
    [InlineData("\n\n", "blank lines")]
    [InlineData("  \t\n", "whitespace only")]
    [InlineData("# nothing configured yet\n", "only a comment")]
    [InlineData("---\n", "an empty document")]
    [InlineData("---\n# still nothing\n...\n", "an empty document with a comment")]
    public void An_empty_file_is_refused_because_a_truncated_file_looks_the_same(string yaml, string why)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "empty.yaml"));

        Assert.True(e.Problem.Contains("the file is empty", StringComparison.Ordinal), $"{why}: {e.Problem}");
        Assert.Contains("{}", e.Problem, StringComparison.Ordinal); // says how to ask for the defaults on purpose
        Assert.Equal($"empty.yaml: {e.Problem}", e.Message);
    }

    [Fact]
    public void An_empty_mapping_gives_the_defaults()
    {
        SluiceConfig config = ConfigLoader.Parse("# every setting at its default\n{}\n", "defaults.yaml");
        var defaults = new SluiceConfig();

        Assert.Equal(defaults.Name, config.Name);
        Assert.Equal("defaults.yaml", config.Source);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:3128"), Assert.Single(config.Listeners).Address);
        Assert.Equal(defaults.Timeouts, config.Timeouts);
        Assert.Equal(defaults.Limits, config.Limits);
        Assert.Equal(defaults.Log, config.Log);
        Assert.Empty(config.Addresses.Allow);
        Assert.Empty(config.Addresses.Deny);
    }

    [Fact]
    public void The_reload_switch_is_off_unless_the_file_sets_it()
    {
        Assert.False(ConfigLoader.Parse("name: a\n", "s.yaml").Reload.AllowNoRules);
        Assert.True(ConfigLoader.Parse("reload:\n  allowNoRules: true\n", "s.yaml").Reload.AllowNoRules);
    }

    [Theory]
    // yaml, line, column, the message names...
    [InlineData("name: a\nlisten: 0.0.0.0:3128\n", 2, 1, "unknown key 'listen' in the top level", "unknown top-level key")]
    [InlineData("timeouts:\n  connect: 5s\n  conect: 5s\n", 3, 3, "unknown key 'conect' in timeouts", "unknown nested key")]
    [InlineData("log:\n  format: json\n  level: debug\n", 3, 3, "unknown key 'level' in log", "unknown key in log")]
    [InlineData("addresses:\n  allowed:\n    - 10.0.0.0/8\n", 2, 3, "unknown key 'allowed' in addresses", "unknown key in addresses")]
    [InlineData("listeners:\n  - address: 127.0.0.1:3128\n    protocol: https\n", 3, 5, "unknown key 'protocol' in listeners[0]", "unknown key in a listener")]
    [InlineData("listeners:\n  - address: 127.0.0.1:3128\n    tls: yes\n", 3, 10, "listeners[0].tls must be a mapping", "tls is a mapping")]
    [InlineData("listeners:\n  - address: 127.0.0.1:3128\n    tls: { key: k.pem }\n", 3, 10, "listeners[0].tls: 'certificate' is required", "tls needs a certificate")]
    [InlineData("listeners:\n  - address: 127.0.0.1:3128\n    tls: { certificate: /nonexistent/sluice.crt, key: k.pem }\n", 3, 25, "listeners[0].tls.certificate: no file at /nonexistent/sluice.crt", "a missing certificate file is named")]
    [InlineData("timeouts:\n  connect: 5 seconds\n", 2, 12, "timeouts.connect: expected a duration", "bad duration")]
    [InlineData("timeouts:\n  idle: 30\n", 2, 9, "timeouts.idle: expected a duration", "duration without a unit")]
    [InlineData("timeouts:\n  upstreamIdle: Infinitys\n", 2, 17, "timeouts.upstreamIdle: expected a duration", "infinite duration is an error, not a crash")]
    [InlineData("timeouts:\n  requestHeaders: 99999999999999999999h\n", 2, 19, "timeouts.requestHeaders", "overflowing duration is an error, not a crash")]
    [InlineData("addresses:\n  allow:\n    - 10.0.0.0/8\n    - 10.1.2.3/8\n", 4, 7, "addresses.allow: expected an address or CIDR", "CIDR with host bits")]
    [InlineData("addresses:\n  deny:\n    - 010.0.0.0/8\n", 3, 7, "addresses.deny: expected an address or CIDR", "octal-looking CIDR")]
    [InlineData("addresses:\n  deny:\n    - example.com\n", 3, 7, "addresses.deny", "a name in a CIDR list")]
    [InlineData("addresses:\n  deny: 10.0.0.0/8\n", 2, 9, "addresses.deny must be a list", "a CIDR where a list belongs")]
    [InlineData("listeners:\n  - address: 127.0.0.1\n", 2, 14, "listeners[0].address: expected host:port", "listener without a port")]
    [InlineData("listeners:\n  - address: '[::1]'\n", 2, 14, "listeners[0].address", "IPv6 listener without a port")]
    [InlineData("listeners:\n  - address: '::1:3128'\n", 2, 14, "listeners[0].address", "IPv6 listener without brackets")]
    [InlineData("listeners:\n  - address: 127.0.0.1:65536\n", 2, 14, "listeners[0].address", "port out of range")]
    [InlineData("listeners:\n  - address: 2130706433:3128\n", 2, 14, "listeners[0].address", "inet_aton number as listener")]
    [InlineData("listeners:\n  - address: example.com:3128\n", 2, 14, "listeners[0].address", "a name as listener")]
    [InlineData("listeners:\n  - port: 3128\n", 2, 5, "listeners[0]: 'address' is required", "listener without an address")]
    [InlineData("listeners:\n  - address: 127.0.0.1:3128\n  - address: 0.0.0.0:3129\n  - address: 127.0.0.1:3128\n", 4, 14, "listeners[2]: 127.0.0.1:3128 is listed twice", "duplicate listener")]
    [InlineData("listeners:\n  - address: '[::]:3128'\n  - address: '[0::0]:3128'\n", 3, 14, "listeners[1]: [::]:3128 is listed twice", "duplicate IPv6 listener in another spelling")]
    [InlineData("listeners: []\n", 1, 12, "listeners: at least one listener is needed", "empty listener list")]
    [InlineData("listeners:\n  - 127.0.0.1:3128\n", 2, 5, "listeners[0] must be a mapping", "listener written as a bare string")]
    [InlineData("limits:\n  maxHeaderCount: 5\n", 2, 19, "limits.maxHeaderCount: expected a whole number from 8 to 10000", "number below the range")]
    [InlineData("limits:\n  maxHeaderBytes: 2000000\n", 2, 19, "limits.maxHeaderBytes: expected a whole number from 1024 to 1048576", "number above the range")]
    [InlineData("limits:\n  maxIdleUpstreamPerHost: -1\n", 2, 27, "limits.maxIdleUpstreamPerHost", "negative number")]
    [InlineData("limits:\n  maxRequestLineBytes: 8k\n", 2, 24, "limits.maxRequestLineBytes", "not a number")]
    [InlineData("log:\n  format: xml\n", 2, 11, "log.format: expected squid or json", "unknown log format")]
    [InlineData("log:\n  format: 1\n", 2, 11, "log.format", "enum number instead of a name")]
    [InlineData("log:\n  format: squid,json\n", 2, 11, "log.format", "two formats at once")]
    [InlineData("log:\n  access: ''\n", 2, 11, "log.access", "empty access log target")]
    [InlineData("reload:\n  allowNoRules: maybe\n", 2, 17, "reload.allowNoRules: expected true or false", "the reload switch is a boolean")]
    [InlineData("reload:\n  allowEmpty: true\n", 2, 3, "unknown key 'allowEmpty' in reload", "unknown key in reload")]
    [InlineData("name: 1st\n", 1, 7, "name: expected a name", "name must start with a letter")]
    [InlineData("name: [a, b]\n", 1, 7, "name: expected a name", "name must be a single value")]
    [InlineData("timeouts: 5s\n", 1, 11, "timeouts must be a mapping", "a value where a section belongs")]
    [InlineData("- name: a\n", 1, 1, "the configuration must be a mapping", "a list at the top")]
    [InlineData("name: a\n---\nname: b\n", 3, 1, "expected one YAML document", "two documents")]
    [InlineData("name: a\nname: b\n", 2, 1, "Duplicate key", "the same key twice")]
    [InlineData("timeouts:\n  connect: [5s\nlimits: {}\n", 2, 12, "not valid YAML", "unclosed flow sequence: YamlDotNet throws a bare InvalidOperationException, still a ConfigException at the [")]
    [InlineData("name: a\nlog: format: json\n", 2, 12, "not valid YAML", "mapping inside a plain scalar")]
    [InlineData("timeouts:\n  connect: 5s\n idle: 1m\n", 3, 2, "not valid YAML", "bad indentation")]
    public void Errors_point_at_the_offending_node(string yaml, long line, long column, string message, string why)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "sluice.yaml"));

        Assert.True(line == e.Line && column == e.Column, $"{why}: expected {line}:{column}, got {e.Line}:{e.Column} ({e.Problem})");
        Assert.True(e.Problem.Contains(message, StringComparison.Ordinal), $"{why}: '{e.Problem}' should contain '{message}'");
        Assert.Equal($"sluice.yaml:{line}:{column}: {e.Problem}", e.Message);
        Assert.Equal("sluice.yaml", e.Source);
    }

    [Fact]
    public void An_error_deep_in_the_full_config_points_at_its_line()
    {
        string yaml = Full.Replace("requestHeaders: 750ms", "requestHeaders: 750", StringComparison.Ordinal);
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "sluice.yaml"));
        Assert.Equal(11, e.Line);
        Assert.Equal(19, e.Column);
        Assert.Contains("timeouts.requestHeaders", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_key_message_lists_the_known_keys()
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("limits:\n  maxHeaders: 10\n", "s.yaml"));
        Assert.Contains("known: maxConnections, maxConnectionsPerClient, maxHeaderBytes, maxHeaderCount, maxIdleUpstreamPerHost, maxRequestLineBytes, maxTunnelsPerClient, perDestination, requestBurstPerClient, requestsPerSecondPerClient", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_a_config_error_without_a_position()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sluice-missing-{Guid.NewGuid():N}", "sluice.yaml");
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(path));
        Assert.Equal(0, e.Line);
        Assert.Contains("cannot read the file", e.Message, StringComparison.Ordinal);
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_reads_what_Parse_reads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sluice-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Full);
        try
        {
            SluiceConfig config = ConfigLoader.LoadFile(path);
            Assert.Equal(path, config.Source);
            Assert.Equal("edge-1", config.Name);
            Assert.Equal(4, config.Listeners.Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
