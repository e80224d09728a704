using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;

namespace Sluice.Policy.Tests.Config;

public sealed class UpstreamsConfigTests : IDisposable
{
    // One upstream with one proxy: the cases below add a line (line 4) or replace one.
    private const string Corp = "upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:3128\"]\n";
    private const string CorpTls = "upstreams:\n  - name: corp\n    proxies: [\"https://proxy-a.corp:3129\"]\n";
    private const string Saas = "rules:\n  - name: saas\n    action: allow\n    destinations: [.example-saas.com]\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-upstreams-").FullName;

    public UpstreamsConfigTests()
    {
        // A certificate made for the test; only its public part is written, and only to the temporary folder.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Sluice test parent CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(_dir, "ca.pem"), ca.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(_dir, "not-pem.txt"), "this is not a certificate\n");
        File.WriteAllText(Path.Combine(_dir, "broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAA\n-----END CERTIFICATE-----\n");
        File.WriteAllText(Path.Combine(_dir, "corp-proxy"), "not-a-real-password\n");
        File.WriteAllText(Path.Combine(_dir, "corp-user"), "svc-sluice\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SluiceConfig Parse(string yaml) => ConfigLoader.Parse(yaml, Path.Combine(_dir, "sluice.yaml"));

    private string InDir(string name) => Path.Combine(_dir, name);

    [Fact]
    public void A_full_upstream_is_read_with_every_key()
    {
        SluiceConfig config = Parse("""
            upstreams:
              - name: corp
                proxies: ["http://proxy-a.corp:3128", "https://PROXY-B.corp:3129", "https://proxy-c.corp/", "http://[2001:db8::8]"]
                balance: hash-destination
                credentials: { userEnv: CORP_PROXY_USER, passwordFile: corp-proxy }
                ca: ca.pem
                checkDestinations: parent
              - name: lab.proxies_2
                proxies: ["http://10.0.0.5:8080"]
                balance: round-robin
                credentials: { user: svc-sluice, passwordEnv: LAB_PROXY_PASSWORD }
              - name: office
                proxies: ["http://proxy.office.test:3128"]
                balance: failover
                credentials: { userFile: corp-user, passwordFile: corp-proxy }
                checkDestinations: local
            rules:
              - { name: saas, action: allow, destinations: [".example-saas.com"], via: corp }
              - { name: lab, action: allow, destinations: [".lab.test"], via: lab.proxies_2 }
              - { name: out, action: allow, destinations: [".example.org"], via: direct }
              - { name: rest, action: allow, destinations: [".example.net"] }
            route: { default: office }
            """);

        Assert.Equal(["corp", "lab.proxies_2", "office"], config.Upstreams.Select(u => u.Name));
        Assert.Equal([2L, 8L, 12L], config.Upstreams.Select(u => u.Line));

        UpstreamConfig corp = config.Upstreams[0];
        Assert.Equal(
            ["http://proxy-a.corp:3128", "https://proxy-b.corp:3129", "https://proxy-c.corp:443", "http://[2001:db8::8]:80"],
            corp.Proxies.Select(p => p.ToString()));
        Assert.Equal(["proxy-a.corp:3128", "proxy-b.corp:3129", "proxy-c.corp:443", "[2001:db8::8]:80"], corp.Proxies.Select(p => p.Endpoint));
        Assert.Equal([false, true, true, false], corp.Proxies.Select(p => p.Tls));
        Assert.Equal(Balance.HashDestination, corp.Balance);
        Assert.Equal(DestinationCheck.Parent, corp.CheckDestinations);
        Assert.Equal(InDir("ca.pem"), corp.Ca);
        SecretSource user = corp.Credentials!.User;
        Assert.Equal((SecretKind.Environment, "CORP_PROXY_USER", "upstreams[0].credentials.userEnv"), (user.Kind, user.Name, user.Key));
        Assert.Equal((InDir("sluice.yaml"), 5L, 29L), (user.ConfigSource, user.Line, user.Column));
        SecretSource password = corp.Credentials.Password;
        Assert.Equal((SecretKind.File, InDir("corp-proxy"), "upstreams[0].credentials.passwordFile"), (password.Kind, password.Name, password.Key));
        Assert.Equal("the file " + InDir("corp-proxy"), password.Describe());
        Assert.Equal("the environment variable CORP_PROXY_USER", user.Describe());

        UpstreamConfig lab = config.Upstreams[1];
        Assert.Equal(Balance.RoundRobin, lab.Balance);
        Assert.Equal(DestinationCheck.Local, lab.CheckDestinations);
        Assert.Null(lab.Ca);
        Assert.Equal((SecretKind.Literal, "svc-sluice"), (lab.Credentials!.User.Kind, lab.Credentials.User.Name));
        Assert.Equal("the configuration file", lab.Credentials.User.Describe());
        Assert.Equal((SecretKind.Environment, "LAB_PROXY_PASSWORD"), (lab.Credentials.Password.Kind, lab.Credentials.Password.Name));

        UpstreamConfig office = config.Upstreams[2];
        Assert.Equal(Balance.Failover, office.Balance);
        Assert.Equal((SecretKind.File, InDir("corp-user")), (office.Credentials!.User.Kind, office.Credentials.User.Name));

        Assert.Equal(["corp", "lab.proxies_2", "direct", null], config.Rules.Select(r => r.Via));
        Assert.Equal("office", config.Route.Default);
    }

    [Fact]
    public void An_upstream_with_only_a_name_and_proxies_takes_the_defaults()
    {
        SluiceConfig config = Parse(Corp + Saas);

        UpstreamConfig corp = Assert.Single(config.Upstreams);
        Assert.Equal(Balance.Failover, corp.Balance);
        Assert.Equal(DestinationCheck.Local, corp.CheckDestinations);
        Assert.Null(corp.Credentials);
        Assert.Null(corp.Ca);
        Assert.Equal(RouteConfig.Direct, config.Route.Default);
        Assert.Null(config.Rules[0].Via);
    }

    [Fact]
    public void Without_upstreams_everything_goes_direct()
    {
        SluiceConfig config = Parse(Saas);
        Assert.Empty(config.Upstreams);
        Assert.Equal("direct", config.Route.Default);
        Assert.Equal("direct", Parse(Saas + "route: {}\n").Route.Default);
        Assert.Equal("direct", Parse(Saas + "route: { default: direct }\n").Route.Default);
    }

    [Fact]
    public void Via_direct_is_accepted_with_or_without_upstreams()
    {
        Assert.Equal("direct", Parse(Saas + "    via: direct\n").Rules[0].Via);
        SluiceConfig config = Parse(Corp + Saas + "    via: direct\nroute: { default: corp }\n");
        Assert.Equal("direct", config.Rules[0].Via);
        Assert.Equal("corp", config.Route.Default);
    }

    [Fact]
    public void A_proxy_url_may_end_in_a_slash_and_takes_its_scheme_default_port()
    {
        SluiceConfig config = Parse("upstreams:\n  - name: corp\n    proxies: [\"HTTP://proxy-a.corp/\", \"https://proxy-b.corp\"]\n");
        Assert.Equal(["http://proxy-a.corp:80", "https://proxy-b.corp:443"], config.Upstreams[0].Proxies.Select(p => p.ToString()));
    }

    [Theory]
    // Unknown keys, each in its section.
    [InlineData(Corp + "    balanse: failover\n", 4, 5, "unknown key 'balanse' in upstreams[0] (known: balance, ca, checkDestinations, credentials, name, proxies)", "unknown key in an upstream")]
    [InlineData(Corp + "    credentials: { userEnv: CORP_USER, passwordEnv: CORP_PASSWORD, realm: corp }\n", 4, 68, "unknown key 'realm' in upstreams[0].credentials (known: password, passwordEnv, passwordFile, user, userEnv, userFile)", "unknown key in credentials")]
    [InlineData(Corp + "route: { default: corp, fallback: direct }\n", 4, 25, "unknown key 'fallback' in route (known: default)", "unknown key in route")]
    [InlineData(Corp + "upstream: []\n", 4, 1, "unknown key 'upstream' in the top level", "the section misspelt")]
    // Names.
    [InlineData("upstreams:\n  - proxies: [\"http://proxy-a.corp:3128\"]\n", 2, 5, "upstreams[0]: 'name' is required (rules name it with via:)", "missing name")]
    [InlineData("upstreams:\n  - name: 9corp\n    proxies: [\"http://proxy-a.corp:3128\"]\n", 2, 11, "upstreams[0]: the name '9corp' must be 1 to 64 letters, digits, '.', '-' or '_', starting with a letter", "a name starting with a digit")]
    [InlineData("upstreams:\n  - name: corp proxy\n    proxies: [\"http://proxy-a.corp:3128\"]\n", 2, 11, "upstreams[0]: the name 'corp proxy' must be 1 to 64", "a name with a space")]
    [InlineData("upstreams:\n  - name: ''\n    proxies: [\"http://proxy-a.corp:3128\"]\n", 2, 11, "upstreams[0]: the name '' must be 1 to 64", "an empty name")]
    [InlineData("upstreams:\n  - name: [corp]\n    proxies: [\"http://proxy-a.corp:3128\"]\n", 2, 11, "upstreams[0].name must be a single value", "a list as the name")]
    [InlineData("upstreams:\n  - name: direct\n    proxies: [\"http://proxy-a.corp:3128\"]\n", 2, 11, "upstreams[0]: 'direct' names the direct route; choose another name", "the reserved name")]
    [InlineData(Corp + "  - name: corp\n    proxies: [\"http://proxy-b.corp:3128\"]\n", 4, 11, "upstreams[1]: the name 'corp' is already used by the upstream on line 2", "duplicate names")]
    // The section's shape.
    [InlineData("upstreams: { name: corp }\n", 1, 12, "upstreams must be a list", "a mapping where the list belongs")]
    [InlineData("upstreams:\n  - corp\n", 2, 5, "upstreams[0] must be a mapping of keys to values", "a bare name as an upstream")]
    // Proxies.
    [InlineData("upstreams:\n  - name: corp\n    proxies: []\n", 3, 14, "upstreams[0].proxies: at least one proxy is needed, e.g. [\"http://proxy.corp:3128\"]", "empty proxies")]
    [InlineData("upstreams:\n  - name: corp\n", 2, 5, "upstreams[0].proxies: at least one proxy is needed", "missing proxies")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: http://proxy-a.corp:3128\n", 3, 14, "upstreams[0].proxies must be a list", "a single URL, not a list")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [[\"http://proxy-a.corp:3128\"]]\n", 3, 15, "upstreams[0].proxies: expected a URL such as http://proxy.corp:3128, got sequence", "a nested list")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"socks5://proxy-a.corp:1080\"]\n", 3, 15, "upstreams[0].proxies: 'socks5://proxy-a.corp:1080': a parent proxy is http:// or https:// (TLS to the proxy), not socks5://", "a SOCKS proxy")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"ftp://proxy-a.corp\"]\n", 3, 15, "'ftp://proxy-a.corp': a parent proxy is http:// or https:// (TLS to the proxy), not ftp://", "an FTP URL")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"socks5://proxy-a.corp\"]\n", 3, 15, "not socks5://", "the scheme is named even when it has no default port")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"proxy-a.corp:3128\"]\n", 3, 15, "'proxy-a.corp:3128' is not a URL", "no scheme")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:99999\"]\n", 3, 15, "upstreams[0].proxies: invalid port '99999'", "a port out of range")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://alice:hunter2@proxy-a.corp:3128\"]\n", 3, 15, "upstreams[0].proxies: a proxy URL carries no user or password; give them in credentials:", "userinfo")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:3128/proxy\"]\n", 3, 15, "upstreams[0].proxies: 'http://proxy-a.corp:3128/proxy': a proxy URL is scheme://host:port, without a path", "a path")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:3128?via=1\"]\n", 3, 15, "without a path", "a query")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:3128#top\"]\n", 3, 15, "without a path", "a fragment")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:3128\", \"https://PROXY-A.corp.:3128\"]\n", 3, 43, "upstreams[0].proxies: proxy-a.corp:3128 is listed twice", "a duplicate proxy in another spelling and scheme")]
    [InlineData("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp\", \"http://proxy-a.corp:80\"]\n", 3, 38, "upstreams[0].proxies: proxy-a.corp:80 is listed twice", "a duplicate proxy by its default port")]
    // Balance and the address guard mode.
    [InlineData(Corp + "    balance: random\n", 4, 14, "upstreams[0].balance: expected failover, round-robin or hash-destination, got 'random'", "unknown balance")]
    [InlineData(Corp + "    balance: Failover\n", 4, 14, "upstreams[0].balance: expected failover", "balances are lower-case")]
    [InlineData(Corp + "    checkDestinations: none\n", 4, 24, "upstreams[0].checkDestinations: expected local or parent, got 'none'", "unknown check mode")]
    // The CA.
    [InlineData(Corp + "    ca: ca.pem\n", 4, 9, "upstreams[0].ca: only https:// proxies use a CA, and this upstream has none", "a CA without https proxies")]
    [InlineData(CorpTls + "    ca: missing.pem\n", 4, 9, "upstreams[0].ca: cannot read ", "a missing CA file")]
    [InlineData(CorpTls + "    ca: not-pem.txt\n", 4, 9, "upstreams[0].ca: ", "a CA file that is not PEM")]
    [InlineData(CorpTls + "    ca: broken.pem\n", 4, 9, "upstreams[0].ca: ", "a CA file with a broken certificate")]
    // Credentials.
    [InlineData(Corp + "    credentials: corp\n", 4, 18, "upstreams[0].credentials must be a mapping of keys to values", "credentials as a single value")]
    [InlineData(Corp + "    credentials: {}\n", 4, 18, "upstreams[0].credentials: give one of user, userEnv or userFile", "no credentials given")]
    [InlineData(Corp + "    credentials: { user: svc-sluice }\n", 4, 18, "upstreams[0].credentials: give one of passwordEnv or passwordFile", "no password given")]
    [InlineData(Corp + "    credentials: { passwordEnv: CORP_PASSWORD }\n", 4, 18, "upstreams[0].credentials: give one of user, userEnv or userFile", "no user given")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, userEnv: CORP_USER, passwordEnv: CORP_PASSWORD }\n", 4, 47, "upstreams[0].credentials: give one of user, userEnv or userFile", "two users given")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, passwordEnv: CORP_PASSWORD, passwordFile: corp-proxy }\n", 4, 80, "upstreams[0].credentials: give one of passwordEnv or passwordFile", "two passwords given")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, password: hunter2 }\n", 4, 48, "upstreams[0].credentials.password: a password is never written in the configuration; use passwordEnv or passwordFile", "a literal password")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, passwordFile: missing }\n", 4, 52, "upstreams[0].credentials.passwordFile: no file at ", "a missing password file")]
    [InlineData(Corp + "    credentials: { userFile: missing, passwordEnv: CORP_PASSWORD }\n", 4, 30, "upstreams[0].credentials.userFile: no file at ", "a missing user file")]
    [InlineData(Corp + "    credentials: { userEnv: CORP-USER, passwordEnv: CORP_PASSWORD }\n", 4, 29, "upstreams[0].credentials.userEnv: 'CORP-USER' is not an environment variable name (letters, digits and '_')", "a dash in a variable name")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, passwordEnv: 1PASSWORD }\n", 4, 51, "upstreams[0].credentials.passwordEnv: '1PASSWORD' is not an environment variable name", "a variable name starting with a digit")]
    [InlineData(Corp + "    credentials: { user: '', passwordEnv: CORP_PASSWORD }\n", 4, 26, "upstreams[0].credentials.user is empty", "an empty user")]
    [InlineData(Corp + "    credentials: { userEnv: '', passwordEnv: CORP_PASSWORD }\n", 4, 29, "upstreams[0].credentials.userEnv is empty", "an empty user variable")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, passwordEnv: }\n", 4, 51, "upstreams[0].credentials.passwordEnv is empty", "an empty password variable")]
    [InlineData(Corp + "    credentials: { user: svc-sluice, passwordFile: '' }\n", 4, 52, "upstreams[0].credentials.passwordFile is empty", "an empty password file")]
    [InlineData(Corp + "    credentials: { user: [svc-sluice], passwordEnv: CORP_PASSWORD }\n", 4, 26, "upstreams[0].credentials.user must be a single value", "a list as the user")]
    [InlineData(Corp + "    credentials: { user: 'svc:sluice', passwordEnv: CORP_PASSWORD }\n", 4, 26, "upstreams[0].credentials.user: a user name for Basic authentication has no ':'", "a colon would end the user name in Basic")]
    // Routes.
    [InlineData(Corp + Saas + "    via: crop\n", 8, 10, "rules[0].via: no upstream is named 'crop' (known: direct, corp)", "via naming an unknown upstream")]
    [InlineData(Saas + "    via: corp\n", 5, 10, "rules[0].via: no upstream is named 'corp' (there are no upstreams: add one under upstreams:)", "via without any upstream")]
    [InlineData(Corp + Saas + "    via: Corp\n", 8, 10, "no upstream is named 'Corp'", "names are case-sensitive")]
    [InlineData(Corp + "rules:\n  - name: block\n    action: deny\n    destinations: [.example.com]\n    via: corp\n", 8, 10, "rules[0] 'block': a deny rule sends nothing anywhere, so via: has no meaning here", "via on a deny rule")]
    [InlineData(Corp + "rules:\n  - name: block\n    action: deny\n    destinations: [.example.com]\n    via: direct\n", 8, 10, "a deny rule sends nothing anywhere", "via: direct on a deny rule")]
    [InlineData(Corp + "route: { default: crop }\n", 4, 19, "route.default: no upstream is named 'crop' (known: direct, corp)", "route.default unknown")]
    [InlineData(Corp + "route: corp\n", 4, 8, "route must be a mapping of keys to values", "route as a single value")]
    public void Errors_point_at_the_offending_node(string yaml, int line, int column, string message, string why)
    {
        ConfigException error = Assert.Throws<ConfigException>(() => Parse(yaml));
        Assert.True(error.Line == line && error.Column == column, $"{why}: got {error.Line}:{error.Column} {error.Problem}");
        Assert.Contains(message, error.Problem);
    }

    [Theory]
    [InlineData("http://alice:hunter2@proxy-a.corp:3128")]
    [InlineData("https://alice:hunter2@proxy-a.corp:3129/path")]
    [InlineData("socks5://alice:hunter2@proxy-a.corp:1080")]
    [InlineData("ftp://alice:hunter2@proxy-a.corp")]
    [InlineData("http://alice:hun/ter2@proxy-a.corp:3128")]
    [InlineData("http://alice:hun?ter2@proxy-a.corp:3128")]
    [InlineData("http://alice:hun#ter2@proxy-a.corp:3128")]
    [InlineData("http://alice:hunter2@[2001:db8::1")]
    [InlineData("socks5://alice:hun/ter2@proxy-a.corp")]
    [InlineData("http://alice:hun\\ter2@proxy-a.corp:3128")]
    public void A_password_in_a_proxy_url_is_refused_without_being_repeated(string url)
    {
        ConfigException error = Assert.Throws<ConfigException>(() => Parse($"upstreams:\n  - name: corp\n    proxies: ['{url}']\n"));
        Assert.True(error.Line == 3 && error.Column == 15, $"got {error.Line}:{error.Column} {error.Problem}");
        Assert.Contains("a proxy URL carries no user or password", error.Problem);
        Assert.DoesNotContain("hun", error.Message);
        Assert.DoesNotContain("alice", error.Message);
    }

    [Fact]
    public void A_literal_password_is_refused_without_being_repeated()
    {
        ConfigException error = Assert.Throws<ConfigException>(() => Parse(Corp + "    credentials: { user: svc-sluice, password: hunter2 }\n"));
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [Fact]
    public void A_ca_file_names_the_full_path_and_says_what_is_wrong()
    {
        ConfigException notPem = Assert.Throws<ConfigException>(() => Parse(CorpTls + "    ca: not-pem.txt\n"));
        Assert.Equal($"upstreams[0].ca: {InDir("not-pem.txt")} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", notPem.Problem);

        ConfigException broken = Assert.Throws<ConfigException>(() => Parse(CorpTls + "    ca: broken.pem\n"));
        Assert.StartsWith($"upstreams[0].ca: {InDir("broken.pem")} holds a certificate that cannot be read", broken.Problem);

        ConfigException missing = Assert.Throws<ConfigException>(() => Parse(CorpTls + "    ca: missing.pem\n"));
        Assert.StartsWith($"upstreams[0].ca: cannot read {InDir("missing.pem")}: ", missing.Problem);

        Assert.Equal(InDir("ca.pem"), Parse(CorpTls + $"    ca: {InDir("ca.pem")}\n").Upstreams[0].Ca);
        Assert.Equal(InDir("ca.pem"), Parse("upstreams:\n  - name: corp\n    proxies: [\"http://proxy-a.corp:3128\", \"https://proxy-b.corp:3129\"]\n    ca: ca.pem\n").Upstreams[0].Ca);
    }

    [Fact]
    public void A_password_file_is_checked_to_exist_but_not_read_at_load()
    {
        // The file is read by the proxy when it builds a snapshot: the configuration only knows where it lives.
        SluiceConfig config = Parse(Corp + "    credentials: { user: svc-sluice, passwordFile: corp-proxy }\n");
        Assert.DoesNotContain("not-a-real-password", config.Upstreams[0].ToString());
        Assert.DoesNotContain("not-a-real-password", config.Upstreams[0].Credentials!.ToString());
    }

    // SecretSource.Read: what the proxy calls at every snapshot.

    private SecretSource PasswordFrom(string key, string value)
    {
        SluiceConfig config = Parse(Corp + $"    credentials:\n      user: svc-sluice\n      {key}: {value}\n");
        return config.Upstreams[0].Credentials!.Password;
    }

    private static string UniqueVariable() => $"SLUICE_TEST_SECRET_{Guid.NewGuid():N}".ToUpperInvariant();

    [Fact]
    public void An_environment_secret_is_read_when_asked_not_when_loaded()
    {
        string name = UniqueVariable();
        SecretSource secret = PasswordFrom("passwordEnv", name);
        try
        {
            Environment.SetEnvironmentVariable(name, "first value");
            Assert.Equal("first value", secret.Read());
            Environment.SetEnvironmentVariable(name, "rotated value");
            Assert.Equal("rotated value", secret.Read());
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void An_unset_environment_secret_is_a_config_error_at_its_place_in_the_file()
    {
        string name = UniqueVariable();
        SecretSource secret = PasswordFrom("passwordEnv", name);

        ConfigException error = Assert.Throws<ConfigException>(secret.Read);

        Assert.Equal((InDir("sluice.yaml"), 6L, 20L), (error.Source, error.Line, error.Column));
        Assert.Equal($"upstreams[0].credentials.passwordEnv: the environment variable {name} is not set", error.Problem);
    }

    [Fact]
    public void An_empty_environment_secret_is_a_config_error()
    {
        string name = UniqueVariable();
        SecretSource secret = PasswordFrom("passwordEnv", name);
        try
        {
            Environment.SetEnvironmentVariable(name, "");
            ConfigException error = Assert.Throws<ConfigException>(secret.Read);
            Assert.Equal((6L, 20L), (error.Line, error.Column));
            Assert.Equal($"upstreams[0].credentials.passwordEnv: the environment variable {name} is empty", error.Problem);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Theory]
    [InlineData("not-a-real-password\n", "not-a-real-password", "a trailing newline is not part of the password")]
    [InlineData("not-a-real-password", "not-a-real-password", "no newline at all")]
    [InlineData("not-a-real-password\r\n", "not-a-real-password", "a CRLF line end")]
    [InlineData("first line\nsecond line\n", "first line", "only the first line")]
    [InlineData("with spaces inside \n", "with spaces inside ", "spaces are part of it")]
    [InlineData("\uFEFFafter a byte order mark\n", "after a byte order mark", "a UTF-8 byte order mark is not part of it")]
    public void A_file_secret_is_its_first_line(string content, string expected, string why)
    {
        File.WriteAllText(InDir("secret"), content);
        SecretSource secret = PasswordFrom("passwordFile", "secret");
        Assert.True(expected == secret.Read(), why);
    }

    [Fact]
    public void A_file_secret_is_read_again_at_every_call_so_a_rotated_mount_takes_effect()
    {
        File.WriteAllText(InDir("secret"), "before\n");
        SecretSource secret = PasswordFrom("passwordFile", "secret");
        Assert.Equal("before", secret.Read());
        File.WriteAllText(InDir("secret"), "after\n");
        Assert.Equal("after", secret.Read());
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("\nthe password on the second line\n")]
    public void An_empty_file_secret_is_a_config_error(string content)
    {
        File.WriteAllText(InDir("secret"), content);
        SecretSource secret = PasswordFrom("passwordFile", "secret");

        ConfigException error = Assert.Throws<ConfigException>(secret.Read);

        Assert.Equal((6L, 21L), (error.Line, error.Column));
        Assert.Equal($"upstreams[0].credentials.passwordFile: {InDir("secret")} is empty", error.Problem);
    }

    [Fact]
    public void A_file_secret_gone_since_the_load_is_a_config_error_at_its_place_in_the_file()
    {
        File.WriteAllText(InDir("secret"), "not-a-real-password\n");
        SecretSource secret = PasswordFrom("passwordFile", "secret");
        File.Delete(InDir("secret"));

        ConfigException error = Assert.Throws<ConfigException>(secret.Read);

        Assert.Equal((InDir("sluice.yaml"), 6L, 21L), (error.Source, error.Line, error.Column));
        Assert.StartsWith($"upstreams[0].credentials.passwordFile: cannot read {InDir("secret")}: ", error.Problem);
    }

    [Fact]
    public void A_file_secret_that_cannot_be_opened_is_a_config_error()
    {
        File.WriteAllText(InDir("secret"), "not-a-real-password\n");
        SecretSource secret = PasswordFrom("passwordFile", "secret");
        File.Delete(InDir("secret"));
        Directory.CreateDirectory(InDir("secret")); // a folder where the file was: unreadable even as root

        ConfigException error = Assert.Throws<ConfigException>(secret.Read);

        Assert.Equal((6L, 21L), (error.Line, error.Column));
        Assert.StartsWith($"upstreams[0].credentials.passwordFile: cannot read {InDir("secret")}: ", error.Problem);
    }

    [Fact]
    public void A_literal_user_is_read_as_written()
    {
        SluiceConfig config = Parse(Corp + "    credentials: { user: svc-sluice, passwordEnv: CORP_PASSWORD }\n");
        Assert.Equal("svc-sluice", config.Upstreams[0].Credentials!.User.Read());
    }
}
