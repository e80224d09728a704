using Sluice.Deploy.Squid;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// A read squid.conf to rules and settings: where Sluice cannot say exactly what a line says, an allow line allows
/// less and a deny line denies more, and the note says so.
/// </summary>
public sealed class SquidTranslatorTests
{
    internal static SquidTranslation Translate(string text) => SquidTranslator.Translate(SquidReader.Read(text, _ => null));

    /// <summary>The rules in one line: name, action, then each matcher the rule has and its via.</summary>
    internal static string Rules(SquidTranslation t) => string.Join(" | ", t.Rules.Select(r => Describe(r.Rule)));

    private static string Describe(Rule r)
    {
        string Part(string key, IEnumerable<object> values) => values.Any() ? $" {key}={string.Join(",", values)}" : "";
        return $"{r.Name} {r.Action.ToString().ToLowerInvariant()}"
            + Part("dest", r.Destinations) + Part("ports", r.Ports.Cast<object>()) + Part("methods", r.Methods) + Part("paths", r.Paths.Select(p => p.Text))
            + Part("schemes", r.Schemes.Cast<object>()) + Part("clients", r.Clients.Cast<object>()) + Part("users", r.Users)
            + (r.Via is null ? "" : $" via={r.Via}") + (r.Tls == TlsMode.Inspect ? " tls=inspect" : "");
    }

    [Theory]
    [InlineData("deny CONNECT to other ports", "acl SSL_ports port 443\nhttp_access deny CONNECT !SSL_ports", "deny-CONNECT-not-SSL_ports deny ports=1-442,444-65535 methods=CONNECT")]
    [InlineData("port acls are merged", "acl p port 80 81 82-90 443\nhttp_access allow p", "allow-p allow ports=80-90,443")]
    [InlineData("every port is no ports matcher", "acl p port 1-65535\nhttp_access allow p", "allow-p allow")]
    [InlineData("ANDed port acls intersect", "acl a port 1-100\nacl b port 50-200\nhttp_access allow a b", "allow-a-b allow ports=50-100")]
    [InlineData("!CONNECT is forwarded requests only", "http_access allow !CONNECT", "allow-not-CONNECT allow schemes=Http")]
    [InlineData("a negated method on an allow line lists the other standard methods", "acl w method POST PUT\nhttp_access allow !w", "allow-not-w allow methods=GET,HEAD,DELETE,PATCH,OPTIONS,TRACE,CONNECT")]
    [InlineData("!CONNECT takes CONNECT out of the methods", "acl r method GET CONNECT\nhttp_access allow r !CONNECT", "allow-r-not-CONNECT allow methods=GET schemes=Http")]
    [InlineData("methods are upper case, once each", "acl m method get GET head\nhttp_access allow m", "allow-m allow methods=GET,HEAD")]
    [InlineData("src: netmasks and ranges become CIDRs", "acl o src 192.168.1.0/255.255.255.0 10.0.0.0-10.0.1.255\nhttp_access allow o", "allow-o allow clients=192.168.1.0/24,10.0.0.0/23")]
    [InlineData("src: host bits are cleared as Squid does", "acl o src 10.1.2.3/8\nhttp_access allow o", "allow-o allow clients=10.0.0.0/8")]
    [InlineData("!src is the complement", "acl o src 128.0.0.0/1 ::/1\nhttp_access deny !o", "deny-not-o deny clients=0.0.0.0/1,8000::/1")]
    [InlineData("a nested range is left out", "acl o src 10.0.0.0/8 10.1.0.0/16\nhttp_access allow o", "allow-o allow clients=10.0.0.0/8")]
    [InlineData("everything is no clients matcher", "acl o src 0.0.0.0/0 ::/0\nhttp_access allow o", "allow-o allow")]
    [InlineData("dst on an allow line matches IP literals", "acl d dst 203.0.113.0/24\nhttp_access allow d", "allow-d allow dest=203.0.113.0/24")]
    [InlineData("!dst on an allow line is the complement", "acl d dst 0.0.0.0/1 ::/1\nhttp_access allow !d", "allow-not-d allow dest=128.0.0.0/1,8000::/1")]
    [InlineData("!dst on a deny line is widened", "acl d dst 10.0.0.0/8\nhttp_access deny !d", "deny-not-d deny")]
    [InlineData("dstdomain names, lower case, once each", "acl v dstdomain .Example.com api.example.net .example.com\nhttp_access allow v", "allow-v allow dest=.example.com,api.example.net")]
    [InlineData("!dstdomain on an allow line is left out", "acl v dstdomain .example.com\nhttp_access allow !v", "")]
    [InlineData("!dstdomain on a deny line is widened", "acl v dstdomain .example.com\nhttp_access deny !v", "deny-not-v deny")]
    [InlineData("two disjoint dstdomain acls never match", "acl a dstdomain a.example\nacl b dstdomain b.example\nhttp_access allow a b", "")]
    [InlineData("two dstdomain acls match the names both match", "acl a dstdomain .example.com b.example\nacl b dstdomain api.example.com .x.example.com .b.example\nhttp_access allow a b", "allow-a-b allow dest=api.example.com,.x.example.com,b.example")]
    [InlineData("a dstdomain and a dst acl on a deny line keep the names", "acl a dstdomain a.example\nacl d dst 10.0.0.0/8\nhttp_access deny a d", "deny-a-d deny dest=a.example")]
    [InlineData("an undefined acl drops an allow line", "http_access allow nothere", "")]
    [InlineData("an undefined acl widens a deny line", "http_access deny nothere", "deny-nothere deny")]
    [InlineData("an unsupported acl type drops an allow line", "acl t time 12:00-13:00\nhttp_access allow t", "")]
    [InlineData("!all never matches", "http_access allow !all\nhttp_access deny all", "deny-all deny")]
    [InlineData("manager never matches, !manager always holds", "http_access allow manager\nhttp_access deny !manager", "deny-not-manager deny")]
    [InlineData("localhost and to_localhost are predefined", "http_access deny to_localhost\nhttp_access allow localhost", "deny-to_localhost deny dest=127.0.0.0/8,0.0.0.0/32,::1/128,::/128 | allow-localhost allow clients=127.0.0.1/32,::1/128")]
    [InlineData("a file's definition replaces a predefined acl", "acl localhost src 10.0.0.1\nhttp_access allow localhost", "allow-localhost allow clients=10.0.0.1/32")]
    [InlineData("lines naming one acl add up", "acl p port 80\nacl p port 443\nhttp_access allow p", "allow-p allow ports=80,443")]
    [InlineData("an acl with two types is unsupported", "acl p port 80\nacl p src 10.0.0.0/8\nhttp_access allow p", "")]
    [InlineData("acls with nothing in common never match", "acl a port 80\nacl b port 443\nhttp_access allow a b", "")]
    [InlineData("proxy_auth REQUIRED needs no matcher", "acl u proxy_auth REQUIRED\nhttp_access allow u", "allow-u allow")]
    [InlineData("proxy_auth users", "acl u proxy_auth alice bob\nhttp_access allow u", "allow-u allow users=alice,bob")]
    [InlineData("!proxy_auth drops an allow line", "acl u proxy_auth REQUIRED\nhttp_access allow !u", "")]
    [InlineData("a rule an earlier one covers is left out", "http_access allow all\nhttp_access allow localhost", "allow-all allow")]
    [InlineData("a second rule of the same name is named by its line", "acl p port 80\nacl p port 81\nhttp_access allow localhost p\nhttp_access deny p\nacl x src 10.0.0.0/8\nhttp_access allow x p", "allow-localhost-p allow ports=80-81 clients=127.0.0.1/32,::1/128 | deny-p deny ports=80-81")]
    [InlineData("quotes and spaces never reach a rule name", "acl \"q\" port 80\nhttp_access allow \"q\"", "allow-_q_ allow ports=80")]
    public void Access_lines_become_rules(string proves, string text, string expected)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        Assert.Equal(expected, Rules(Translate(text)));
    }

    [Theory]
    [InlineData("http_access deny nothere", "line 1: http_access: not translated: acl nothere is not defined (Squid refuses such a file); this deny line is translated without that condition, so it denies more than in Squid")]
    [InlineData("http_access allow nothere", "line 1: http_access: not translated: acl nothere is not defined (Squid refuses such a file); this allow line is left out, so the requests it allowed are decided by the lines after it")]
    [InlineData("acl w method POST\nhttp_access deny !w", "line 2: http_access: not translated: !w: Sluice cannot say \"any method but\" POST; this deny line")]
    [InlineData("acl w method POST\nhttp_access allow !w", "line 2: http_access: !w: Sluice cannot say \"any method but\"; the rule lists the standard methods other than POST (extension methods are not allowed by it)")]
    [InlineData("acl d dst 10.0.0.0/8\nhttp_access allow !d", "line 2: http_access: !d: Sluice matches address ranges against destinations written as IP addresses only")]
    [InlineData("acl d dst 10.0.0.0/8\nhttp_access deny d", "line 2: http_access: d: the rule matches destinations written as IP addresses; names resolving into non-public ranges are refused by the address guard")]
    [InlineData("acl a dstdomain a.example\nacl d dst 10.0.0.0/8\nhttp_access allow a d", "line 3: http_access: not translated: a dstdomain and a dst acl on one line (a name and its resolved address); this allow line is left out")]
    [InlineData("acl t time 12:00\nhttp_access allow t", "line 1: acl: not translated: t: type time has no Sluice equivalent (http_access lines using it are narrowed or widened, see below)\nline 2: http_access: not translated: t: acl type time has no Sluice equivalent; this allow line is left out")]
    [InlineData("acl p port 80\nacl p src 10.0.0.0/8\nhttp_access allow p", "line 3: http_access: not translated: p: acl p is defined with two types")]
    [InlineData("acl f src \"gone.txt\"\nhttp_access deny f", "line 1: acl: not translated: f: the file gone.txt is not here to read its values\nline 2: http_access: not translated: f: its values are in gone.txt, which could not be read; this deny line")]
    [InlineData("acl t time \"gone.txt\"", "line 1: acl: not translated: t: type time has no Sluice equivalent")]
    [InlineData("acl s src example.com 10.0.0.0/33", "line 1: acl: not translated: s: 'example.com' is not an address, CIDR, netmask or IPv4 range (Sluice never resolves names in acls)\nline 1: acl: not translated: s: '10.0.0.0/33' is not an address")]
    [InlineData("acl p port 0 http", "line 1: acl: not translated: p: '0' is not a port or range\nline 1: acl: not translated: p: 'http' is not a port or range")]
    [InlineData("acl d dstdomain *.x.example", "line 1: acl: not translated: d: '*.x.example' is not a domain name (dstdomain takes names)")]
    [InlineData("http_access allow !all", "line 1: http_access: never matches in Sluice (!all matches nothing); left out")]
    [InlineData("http_access deny manager", "line 1: http_access: never matches in Sluice (manager matches Squid's cache-manager requests")]
    [InlineData("http_access deny !manager", "line 1: http_access: !manager: every Sluice request is not a cache-manager request, so the condition always holds")]
    [InlineData("acl a port 80\nacl b port 443\nhttp_access allow a b", "line 3: http_access: never matches in Sluice (its acls have nothing in common); left out")]
    [InlineData("http_access deny all\nhttp_access deny localhost", "line 2: http_access: never decides anything: the rule from line 1 (deny-all) comes first and matches every request this one does; left out (Sluice refuses unreachable rules)")]
    [InlineData("acl u proxy_auth REQUIRED\nhttp_access allow u", "line 2: proxy_auth: not translated: no auth_param basic program basic_ncsa_auth FILE: without a users file the converted rules cannot ask for credentials")]
    [InlineData("http_port 3128\nauth_param basic program /usr/lib/squid/basic_ncsa_auth /p\nhttp_access allow all", "line 2: auth_param: basic_ncsa_auth's file becomes auth.basic.usersFile /p: Sluice accepts bcrypt and SHA-crypt hashes only (re-create DES, MD5 or SHA1 entries with `sluice passwd`)\nline 2: auth_param: no http_access line uses a proxy_auth acl, so no authentication is configured")]
    [InlineData("http_port 3128\nauth_param basic program /usr/lib/squid/basic_ncsa_auth /p\nacl u proxy_auth REQUIRED\nhttp_access allow localhost\nhttp_access allow u", "line 2: auth_param: allow lines before the first proxy_auth acl served clients without credentials in Squid; with auth.required: true Sluice asks them too")]
    [InlineData("auth_param digest program x", "line 1: auth_param: not translated: scheme 'digest': Sluice supports Basic authentication only")]
    [InlineData("auth_param basic program /usr/lib/squid/basic_ldap_auth -b x", "line 1: auth_param: not translated: helper 'basic_ldap_auth': Sluice checks an htpasswd file itself (basic_ncsa_auth FILE is what translates)")]
    [InlineData("auth_param basic children 5", "line 1: auth_param: not translated: basic children: Sluice has no helper processes to tune; it caches successful checks for 5 minutes itself")]
    [InlineData("http_port 3128 intercept", "line 1: http_port: not translated: 'intercept': Sluice is an explicit forward proxy only (no interception or reverse-proxy mode)")]
    [InlineData("http_port 3128 ssl-bump", "line 1: http_port: not translated: ssl-bump without tls-cert=: there is no CA to sign with (Squid refuses to bump here too)")]
    [InlineData("http_port 3128 ssl-bump intercept tls-cert=/ca.pem", "line 1: http_port: not translated: 'intercept': Sluice is an explicit forward proxy only")]
    [InlineData("https_port 3129 ssl-bump intercept cert=/ca.pem", "line 1: https_port: not translated: 'ssl-bump': Sluice is an explicit forward proxy only")]
    [InlineData("http_port 3128", "line 1: http_port: port 3128 alone listens on every address, as Squid does: [::]:3128 (IPv6 and IPv4)")]
    [InlineData("http_port proxy:3128", "line 1: http_port: not translated: 'proxy:3128' is not IP:port (Sluice listens on addresses, not host names)")]
    [InlineData("http_port 99999", "line 1: http_port: port 99999 alone listens on every address, as Squid does: [::]:99999 (IPv6 and IPv4)\nline 1: http_port: not translated: '99999' is not IP:port")]
    [InlineData("http_port 127.0.0.1:3128 name=x", "line 1: http_port: not translated: option 'name' has no Sluice equivalent; the listener is translated without it")]
    [InlineData("http_port 127.0.0.1:3128\nhttp_port 127.0.0.1:3128", "line 2: http_port: not translated: 127.0.0.1:3128 is already a listener")]
    [InlineData("https_port 127.0.0.1:3129", "line 1: https_port: not translated: no cert= given: an HTTPS listener needs a certificate")]
    [InlineData("https_port 127.0.0.1:3129 cert=/c.pem", "line 1: https_port: no key= given: Squid reads the key from the cert= file, so key is the same file")]
    [InlineData("http_access allow all", "line 0: http_port: none given: Squid's default port 3128 on every address")]
    [InlineData("read_timeout 2 minutes", "line 1: read_timeout: becomes timeouts.idle 2m: Sluice ends a tunnel or exchange after that long without a byte in either direction")]
    [InlineData("connect_timeout 1 fortnight", "line 1: connect_timeout: not translated: '1 fortnight' is not a duration Sluice can write (N seconds|minutes|hours|days)")]
    [InlineData("access_log syslog:local0", "line 1: access_log: not translated: 'syslog:local0': only files (stdio:, daemon: or a path) and none translate")]
    [InlineData("access_log /var/log/a.log combined", "line 1: access_log: not translated: log formats and acls on the log line: Sluice writes Squid's native format (or JSON with log.format)")]
    [InlineData("visible_hostname 1proxy", "line 1: visible_hostname: not translated: not a name Sluice accepts (letters, digits, '.', '-', '_')")]
    [InlineData("cache_dir ufs /var/spool 100 16 256", "line 1: cache_dir: not translated: Sluice does not cache")]
    [InlineData("include /etc/squid/conf.d/*", "line 1: include: not translated: the files it names are not read; convert them separately and merge their lines by hand, in order")]
    [InlineData("frobnicate on", "line 1: frobnicate: not translated: no Sluice equivalent")]
    [InlineData("acl a\nhttp_access maybe\nhttps_port", "line 1: acl: not translated: expected acl NAME TYPE VALUE...\nline 2: http_access: not translated: expected http_access allow|deny ACL...\nline 3: https_port: not translated: no port given")]
    public void Notes_say_what_did_not_translate_exactly(string text, string expected)
    {
        Assert.Contains(expected, string.Join("\n", Translate(text).Notes), StringComparison.Ordinal);
    }

    [Fact]
    public void Notes_are_in_line_order_and_a_line_keeps_the_order_of_its_notes()
    {
        SquidTranslation t = Translate("http_access allow x\nacl s src bogus1 bogus2\nhttp_port 3128 name=a\nfrobnicate");
        Assert.Equal([1, 2, 2, 3, 3, 4], t.Notes.Select(n => n.Line));
        Assert.Contains("bogus1", t.Notes[1].Text, StringComparison.Ordinal);
        Assert.Contains("bogus2", t.Notes[2].Text, StringComparison.Ordinal);
        Assert.Contains("alone listens", t.Notes[3].Text, StringComparison.Ordinal);
        Assert.Contains("option 'name'", t.Notes[4].Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1 minute", "1m")]
    [InlineData("15 minutes", "15m")]
    [InlineData("30 seconds", "30s")]
    [InlineData("90", "90s")]
    [InlineData("2 hours", "2h")]
    [InlineData("90 min", "90m")]
    [InlineData("2 days", "48h")]
    [InlineData("1 week", "168h")]
    [InlineData("500 msec", "500ms")]
    [InlineData("0.25 sec", "250ms")]
    [InlineData("1.4 seconds", "1s")]
    [InlineData("0", null)]
    [InlineData("-5 seconds", null)]
    [InlineData("abc", null)]
    [InlineData("1 fortnight", null)]
    [InlineData("1 2 3", null)]
    [InlineData("1e300 days", null)]
    [InlineData("Infinity", null)]
    [InlineData("NaN", null)]
    public void Timeouts_are_written_as_sluice_durations(string squid, string? sluice)
    {
        SquidTranslation t = Translate($"connect_timeout {squid}\nread_timeout {squid}");
        Assert.Equal(sluice, t.ConnectTimeout is { } connect ? Durations.Format(connect) : null);
        Assert.Equal(sluice, t.IdleTimeout is { } idle ? Durations.Format(idle) : null);
    }

    [Theory]
    [InlineData("access_log none", "off")]
    [InlineData("access_log stdio:/var/log/squid/access.log", "/var/log/squid/access.log")]
    [InlineData("access_log daemon:/var/log/a.log squid", "/var/log/a.log")]
    [InlineData("access_log /var/log/a.log combined", "/var/log/a.log")]
    [InlineData("access_log syslog:local0", null)]
    [InlineData("access_log stdio:/a.log\naccess_log none", "off")]
    public void The_access_log_is_a_file_or_off(string text, string? expected) => Assert.Equal(expected, Translate(text).AccessLog);

    [Theory]
    [InlineData("visible_hostname proxy.example", "proxy.example")]
    [InlineData("visible_hostname 1proxy", null)]
    [InlineData("visible_hostname a b", null)]
    [InlineData("visible_hostname proxy!", null)]
    public void Visible_hostname_is_the_name_when_sluice_accepts_it(string text, string? expected) => Assert.Equal(expected, Translate(text).Name);

    [Theory]
    [InlineData("", "deny", "no http_access lines: Squid denies every request")]
    [InlineData("http_access allow localhost", "deny", "Squid's implicit default is the opposite of the last http_access line (line 1: http_access allow localhost)")]
    [InlineData("acl p port 80\nhttp_access deny p", "allow", "Squid's implicit default is the opposite of the last http_access line (line 2: http_access deny p)")]
    [InlineData("http_access allow all", "deny", "never reached: the last http_access line (line 1: http_access allow all) matches every request")]
    [InlineData("http_access deny all", "deny", "never reached: the last http_access line (line 1: http_access deny all)")]
    [InlineData("http_access allow all\nhttp_access deny all", "allow", "Squid's implicit default is the opposite of the last http_access line (line 2: http_access deny all)")]
    public void The_default_is_the_opposite_of_the_last_line_unless_that_line_matches_everything(string text, string action, string why)
    {
        SquidTranslation t = Translate(text);
        Assert.Equal(action, t.Default.ToString().ToLowerInvariant());
        Assert.StartsWith(why, t.DefaultWhy, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http_port 3128", "[::]:3128 ")]
    [InlineData("", "[::]:3128 ")]
    [InlineData("http_port 127.0.0.1:3128\nhttp_port 3128 intercept\nhttp_port [::1]:3128", "127.0.0.1:3128  | [::1]:3128 ")]
    [InlineData("https_port 0.0.0.0:3129 cert=/c.pem key=/k.pem clientca=/ca.pem", "0.0.0.0:3129 /c.pem,/k.pem,/ca.pem")]
    [InlineData("https_port 0.0.0.0:3129 tls-cert=/c.pem", "0.0.0.0:3129 /c.pem,/c.pem,")]
    [InlineData("http_port 127.0.0.1:3128 cert=/ignored.pem", "127.0.0.1:3128 ")]
    public void Ports_become_listeners(string text, string expected)
    {
        SquidTranslation t = Translate(text);
        Assert.Equal(expected, string.Join(" | ", t.Listeners.Select(l => $"{l.Address} {(l.Tls is { } tls ? $"{tls.Certificate},{tls.Key},{tls.ClientCa}" : "")}")));
    }

    [Theory]
    [InlineData("auth_param basic realm Corp Proxy", "Corp Proxy")]
    [InlineData("auth_param basic realm \"quoted\"", null)]
    [InlineData("auth_param basic realm", null)]
    public void Authentication_is_required_once_a_line_uses_proxy_auth(string realm, string? expected)
    {
        SquidTranslation t = Translate($"auth_param basic program /usr/lib/squid/basic_ncsa_auth /etc/squid/passwd\n{realm}\nacl u proxy_auth REQUIRED\nhttp_access allow u");
        Assert.Equal(new SquidAuth(expected, "/etc/squid/passwd"), t.Auth);
        Assert.Null(Translate("auth_param basic program /usr/lib/squid/basic_ncsa_auth /etc/squid/passwd\nhttp_access allow all").Auth);
    }

    private const string BumpPort = "http_port 3128 ssl-bump tls-cert=/ca.pem tls-key=/ca.key\nacl step1 at_step SslBump1\nacl localnet src 10.0.0.0/8\n";

    /// <summary>The rules, then what tls.inspection says: its neverInspect, or that there is none.</summary>
    private static string Inspection(SquidTranslation t) =>
        Rules(t) + (t.Inspection is { } i ? $" || never={string.Join(",", i.NeverInspect)}" : " || no inspection");

    [Theory]
    [InlineData("bump all but banks: every rule that opens tunnels inspects, the banks are neverInspect",
        "acl banks ssl::server_name .bank.example\nhttp_access allow localnet\nssl_bump peek step1\nssl_bump splice banks\nssl_bump bump all",
        "allow-localnet allow clients=10.0.0.0/8 tls=inspect || never=.bank.example")]
    [InlineData("bump !banks is the same", "acl banks ssl::server_name .bank.example\nhttp_access allow localnet\nssl_bump peek step1\nssl_bump bump !banks\nssl_bump splice all",
        "allow-localnet allow clients=10.0.0.0/8 tls=inspect || never=.bank.example")]
    [InlineData("bump some: a rule for every destination is split, the bumped ones first", "acl gh ssl::server_name github.com\nhttp_access allow localnet\nssl_bump peek step1\nssl_bump bump gh\nssl_bump splice all",
        "allow-localnet-inspect allow dest=github.com clients=10.0.0.0/8 tls=inspect | allow-localnet allow clients=10.0.0.0/8 || never=")]
    [InlineData("a rule whose destinations are all bumped inspects as it is; a path rule decides the requests inside",
        "acl gh dstdomain github.com\nacl org urlpath_regex ^/our-org/\nhttp_access allow CONNECT gh\nhttp_access allow gh org\nssl_bump bump gh",
        "allow-CONNECT-gh allow dest=github.com methods=CONNECT tls=inspect | allow-gh-org allow dest=github.com paths=/our-org/* || never=")]
    [InlineData("only the bumped part of a rule's destinations is inspected", "acl sites dstdomain github.com .example.com\nacl gh dstdomain github.com\nhttp_access allow sites\nssl_bump bump gh",
        "allow-sites-inspect allow dest=github.com tls=inspect | allow-sites allow dest=github.com,.example.com || never=")]
    [InlineData("a bumped name inside a rule's domain", "acl g dstdomain .google.com\nacl mail dstdomain mail.google.com\nhttp_access allow g\nssl_bump bump mail",
        "allow-g-inspect allow dest=mail.google.com tls=inspect | allow-g allow dest=.google.com || never=")]
    [InlineData("deny rules, http-only rules and rules without CONNECT among their methods do not inspect; !CONNECT includes the requests inside",
        "acl w method POST\nacl r method GET\nhttp_access deny w\nhttp_access allow !CONNECT localnet\nhttp_access allow r\nssl_bump bump all",
        "deny-w deny methods=POST | allow-not-CONNECT-localnet allow schemes=Http,Https clients=10.0.0.0/8 | allow-r allow methods=GET || never=")]
    [InlineData("terminate: a deny rule for those CONNECTs comes first", "acl evil ssl::server_name .evil.example\nhttp_access allow localnet\nssl_bump terminate evil\nssl_bump splice all",
        "terminate-evil deny dest=.evil.example methods=CONNECT | allow-localnet allow clients=10.0.0.0/8 || no inspection")]
    [InlineData("terminate for the rest refuses every CONNECT", "acl ok ssl::server_name .ok.example\nhttp_access allow localnet\nssl_bump splice ok\nssl_bump terminate all",
        "terminate-all deny methods=CONNECT | allow-localnet allow clients=10.0.0.0/8 || no inspection")]
    [InlineData("a rule that only opens the terminated tunnels is left out", "acl evil dstdomain .evil.example\nhttp_access allow CONNECT evil\nhttp_access allow localnet\nssl_bump terminate evil",
        "terminate-evil deny dest=.evil.example methods=CONNECT | allow-localnet allow clients=10.0.0.0/8 || no inspection")]
    [InlineData("Squid 3.4's words: client-first and server-first bump, none splices", "acl banks dstdomain .bank.example\nhttp_access allow localnet\nssl_bump none banks\nssl_bump server-first all",
        "allow-localnet allow clients=10.0.0.0/8 tls=inspect || never=.bank.example")]
    [InlineData("peek on any acl decides nothing", "http_access allow localnet\nssl_bump peek localnet\nssl_bump bump all",
        "allow-localnet allow clients=10.0.0.0/8 tls=inspect || never=")]
    [InlineData("peek, stare and at_step decide nothing", "acl step2 at_step SslBump2\nacl step3 at_step SslBump3\nhttp_access allow localnet\nssl_bump peek step1\nssl_bump stare step2\nssl_bump bump step3",
        "allow-localnet allow clients=10.0.0.0/8 tls=inspect || never=")]
    [InlineData("a splice after a bump of a wider name is never reached", "acl g ssl::server_name .google.com\nacl mail ssl::server_name mail.google.com\nhttp_access allow localnet\nssl_bump bump g\nssl_bump splice mail",
        "allow-localnet-inspect allow dest=.google.com clients=10.0.0.0/8 tls=inspect | allow-localnet allow clients=10.0.0.0/8 || never=")]
    [InlineData("a splice of a wider name than a bumped one wins in Sluice", "acl g ssl::server_name .google.com\nacl mail ssl::server_name mail.google.com\nhttp_access allow localnet\nssl_bump bump mail\nssl_bump splice g",
        "allow-localnet-inspect allow dest=mail.google.com clients=10.0.0.0/8 tls=inspect | allow-localnet allow clients=10.0.0.0/8 || never=.google.com")]
    [InlineData("ssl_bump by client address is not translated: nothing is inspected", "http_access allow localnet\nssl_bump bump localnet\nssl_bump splice all",
        "allow-localnet allow clients=10.0.0.0/8 || no inspection")]
    [InlineData("the lines before one that does not translate still do", "acl gh ssl::server_name github.com\nacl r ssl::server_name_regex gitlab\nhttp_access allow localnet\nssl_bump bump gh\nssl_bump bump r\nssl_bump bump all",
        "allow-localnet-inspect allow dest=github.com clients=10.0.0.0/8 tls=inspect | allow-localnet allow clients=10.0.0.0/8 || never=")]
    [InlineData("nothing bumped: no inspection", "http_access allow localnet\nssl_bump peek step1\nssl_bump splice all", "allow-localnet allow clients=10.0.0.0/8 || no inspection")]
    [InlineData("no ssl_bump line: Squid's default is splice", "http_access allow localnet", "allow-localnet allow clients=10.0.0.0/8 || no inspection")]
    public void Ssl_bump_becomes_inspecting_rules_and_never_inspect(string proves, string text, string expected)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        Assert.Equal(expected, Inspection(Translate(BumpPort + text)));
    }

    [Fact]
    public void The_ca_is_the_ssl_bump_ports_and_upstream_ca_the_outgoing_cafile()
    {
        SquidInspection i = Translate(BumpPort + "http_access allow all\ntls_outgoing_options cafile=/roots.pem min-version=1.2\nssl_bump bump all").Inspection!;
        Assert.Equal(("/ca.pem", "/ca.key", "/roots.pem"), (i.Ca, i.Key, i.UpstreamCa));
        i = Translate("http_port 3128 ssl-bump cert=/both.pem\nsslproxy_cafile /old-roots.pem\nhttp_access allow all\nssl_bump bump all").Inspection!;
        Assert.Equal(("/both.pem", "/both.pem", "/old-roots.pem"), (i.Ca, i.Key, i.UpstreamCa));
        Assert.Equal("[::]:3128", Assert.Single(Translate("http_port 3128 ssl-bump cert=/both.pem").Listeners).Address);
        Assert.Null(Translate("http_port 3128\nhttp_access allow all\nssl_bump bump all").Inspection);
    }

    [Theory]
    [InlineData("http_port 3128 ssl-bump cert=/both.pem", "line 1: http_port: ssl-bump without tls-key=: Squid reads the key from the tls-cert= file, so tls.inspection.key is the same file")]
    [InlineData(BumpPort, "line 1: http_port: ssl-bump: the CA becomes tls.inspection (ca /ca.pem, key /ca.key); the listener is a plain one, as every Sluice listener can inspect")]
    [InlineData(BumpPort, "line 1: http_port: ssl-bump: nothing is inspected (no ssl_bump line that translates bumps anything; Squid's default is splice), so tls.inspection is left out")]
    [InlineData("http_port 3128 ssl-bump tls-cert=/a.pem generate-host-certificates=off dynamic_cert_mem_cache_size=4MB", "line 1: http_port: not translated: generate-host-certificates=off: Sluice always mints a certificate per host")]
    [InlineData("http_port 3128 ssl-bump tls-cert=/a.pem dynamic_cert_mem_cache_size=4MB tls-dh=prime256v1:/dh.pem", "line 1: http_port: dynamic_cert_mem_cache_size: Sluice keeps the certificates it mints in a bounded cache of its own")]
    [InlineData("http_port 3128 ssl-bump tls-cert=/a.pem dynamic_cert_mem_cache_size=4MB tls-dh=prime256v1:/dh.pem", "line 1: http_port: not translated: option 'tls-dh' has no Sluice equivalent; the listener is translated without it")]
    [InlineData("http_port 127.0.0.1:3128 ssl-bump tls-cert=/a.pem\nhttp_port 127.0.0.1:3129 ssl-bump tls-cert=/b.pem", "line 2: http_port: not translated: a second ssl-bump CA: Sluice inspects with one, the one of line 1")]
    [InlineData("http_port 3128\nhttp_access allow all\nssl_bump bump all", "line 3: ssl_bump: not translated: Squid bumps here, but no http_port has ssl-bump with tls-cert= (the CA it signs with): nothing is inspected")]
    [InlineData(BumpPort + "ssl_bump peek step1", "line 4: ssl_bump: peek and stare only look: Sluice decides each CONNECT once, by its host (which a client's SNI must name)")]
    [InlineData(BumpPort + "ssl_bump client-first all", "line 4: ssl_bump: client-first is Squid 3.4's word for bump, and is read as such")]
    [InlineData(BumpPort + "ssl_bump bounce all", "line 4: ssl_bump: not translated: expected ssl_bump splice|bump|peek|stare|terminate ACL..., got 'ssl_bump bounce all'")]
    [InlineData(BumpPort + "ssl_bump bump localnet\nssl_bump splice all", "line 4: ssl_bump: not translated: localnet: Sluice decides inspection by destination name (ssl::server_name or dstdomain), not by a client address (src): this line is not translated; nor are the lines after it (to line 5), so the CONNECTs they would decide are tunnelled")]
    [InlineData(BumpPort + "ssl_bump bump nothere", "line 4: ssl_bump: not translated: acl nothere is not defined (Squid refuses such a file): this line is not translated, so")]
    [InlineData(BumpPort + "acl r ssl::server_name_regex x\nssl_bump splice r", "line 4: acl: not translated: r: a regular expression over server names; Sluice matches names as ssl::server_name and dstdomain list them (http_access lines using it are narrowed or widened, see below)\nline 5: ssl_bump: not translated: r: a regular expression over server names")]
    [InlineData(BumpPort + "ssl_bump bump all\nssl_bump splice all", "line 5: ssl_bump: never reached: line 4 decides every CONNECT that gets this far; left out")]
    [InlineData(BumpPort + "ssl_bump bump !all", "line 4: ssl_bump: never matches (!all, or acls with no name in common); left out")]
    [InlineData(BumpPort + "acl a ssl::server_name .a.example\nacl b ssl::server_name .b.example\nssl_bump bump !a\nssl_bump splice !b", "line 7: ssl_bump: not translated: a second line of the form ACTION !NAMES")]
    [InlineData(BumpPort + "acl a ssl::server_name .a.example\nssl_bump bump a !a", "line 5: ssl_bump: not translated: names and !names on one line")]
    [InlineData(BumpPort + "acl g ssl::server_name .google.com\nacl mail ssl::server_name mail.google.com\nssl_bump bump mail\nssl_bump splice g", "line 7: ssl_bump: not translated: .google.com: Squid bumps mail.google.com first (line 6) and splices the rest; neverInspect wins over every rule in Sluice, so mail.google.com is tunnelled too")]
    [InlineData(BumpPort + "acl g ssl::server_name .google.com\nacl mail ssl::server_name mail.google.com\nssl_bump splice mail\nssl_bump terminate g", "line 7: ssl_bump: not translated: .google.com: Squid splices mail.google.com first (line 6) and terminates the rest; Sluice refuses every CONNECT to .google.com, mail.google.com included")]
    [InlineData(BumpPort + "acl g ssl::server_name .google.com\nacl mail ssl::server_name mail.google.com\nssl_bump bump g\nssl_bump splice mail", "line 7: ssl_bump: never decides anything: the lines before it decide every name it names; left out")]
    [InlineData(BumpPort + "http_access allow localnet\nssl_bump terminate all", "line 5: ssl_bump: not translated: terminate for every destination the lines before it do not name: Sluice cannot refuse the CONNECTs to \"every destination but\" some; it refuses every CONNECT (the rule terminate-all comes first)")]
    [InlineData(BumpPort + "acl e dstdomain .e.example\nhttp_access allow CONNECT e\nssl_bump terminate e", "line 5: http_access: never decides anything once ssl_bump terminate e refuses those CONNECTs; left out")]
    [InlineData(BumpPort + "acl s ssl::server_name .s.example\nhttp_access allow s", "line 5: http_access: not translated: s: ssl::server_name names the TLS server for ssl_bump; in http_access a dstdomain acl says the same and translates; this allow line is left out")]
    [InlineData(BumpPort + "http_access deny step1", "line 4: http_access: not translated: step1: at_step only means something to ssl_bump; this deny line is translated without that condition")]
    [InlineData("sslcrtd_program /usr/lib/squid/security_file_certgen -s /var/lib/ssl_db -M 4MB", "line 1: sslcrtd_program: Sluice mints the certificates itself, in a bounded in-memory cache: no helper to run")]
    [InlineData("sslproxy_cert_error allow all", "line 1: sslproxy_cert_error: not translated: Sluice never accepts an origin certificate that does not validate: such a CONNECT gets 502 with error=tls_certificate_error")]
    [InlineData("sslproxy_capath /etc/ssl/certs", "line 1: sslproxy_capath: not translated: a folder of CAs: Sluice reads one PEM file; concatenate them into tls.inspection.upstreamCa")]
    [InlineData("tls_outgoing_options cafile=/r.pem flags=DONT_VERIFY_PEER min-version=1.2 foo=bar", "line 1: tls_outgoing_options: not translated: flags=DONT_VERIFY_PEER: Sluice always validates origin certificates (system roots plus upstreamCa) and checks the name\nline 1: tls_outgoing_options: not translated: min-version=1.2: Sluice negotiates TLS 1.2 or 1.3 with origins with the platform's settings\nline 1: tls_outgoing_options: not translated: option 'foo' has no Sluice equivalent")]
    [InlineData("tls_outgoing_options cafile=/r.pem", "line 1: tls_outgoing_options: /r.pem is for bumped connections, and nothing is inspected: left out")]
    public void Ssl_bump_notes_say_what_did_not_translate_exactly(string text, string expected)
    {
        Assert.Contains(expected, string.Join("\n", Translate(text).Notes), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("^/our-org/", false, "/our-org/*")]
    [InlineData("^/api/v1.*", false, "/api/v1*")]
    [InlineData("^/a\\.b", false, "/a.b*")]
    [InlineData("^/", false, "/*")]
    [InlineData("^/123", true, "/123*")]
    [InlineData("^/a-b_c~d:e@f", false, "/a-b_c~d:e@f*")]
    [InlineData("^/a.b", false, null)]
    [InlineData("/a", false, null)]
    [InlineData("^/a$", false, null)]
    [InlineData("^/a|^/b", false, null)]
    [InlineData("^/a/(x|y)", false, null)]
    [InlineData("^/[a-z]", false, null)]
    [InlineData("^/a//b", false, null)]
    [InlineData("^/a/../b", false, null)]
    [InlineData("^/a/./b", false, null)]
    [InlineData("^/a%20b", false, null)]
    [InlineData("^/a\\?b", false, null)]
    [InlineData("^/a\\.*", false, null)]
    [InlineData("^/Admin", true, null)]
    public void Only_an_anchored_literal_prefix_becomes_a_path(string regex, bool ignoreCase, string? glob)
    {
        bool ok = Sluice.Deploy.Squid.SquidPaths.TryPrefix(regex, ignoreCase, out string result, out string why);
        Assert.Equal(glob, ok ? result : null);
        Assert.True(ok || why.Length > 0);
    }

    [Theory]
    [InlineData("allow: the path rule", "acl p urlpath_regex ^/pub/ ^/docs\nhttp_access allow p", "allow-p allow paths=/pub/*,/docs*")]
    [InlineData("deny: the path rule", "acl p urlpath_regex ^/admin\nhttp_access deny p", "deny-p deny paths=/admin*")]
    [InlineData("one value that is not a prefix: an allow line is left out", "acl p urlpath_regex ^/pub/ \\.exe$\nhttp_access allow p", "")]
    [InlineData("one value that is not a prefix: a deny line is widened", "acl p urlpath_regex ^/pub/ \\.exe$\nhttp_access deny p", "deny-p deny")]
    [InlineData("-i: an allow line with letters is left out", "acl p urlpath_regex -i ^/pub/\nhttp_access allow p", "")]
    [InlineData("!path on a deny line is widened", "acl p urlpath_regex ^/pub/\nhttp_access deny !p", "deny-not-p deny")]
    [InlineData("two path acls on an allow line: left out", "acl p urlpath_regex ^/pub/\nacl q urlpath_regex ^/pub/x\nhttp_access allow p q", "")]
    [InlineData("url_regex on an allow line is left out", "acl u url_regex ^https://x\\.example/\nhttp_access allow u", "")]
    [InlineData("url_regex on a deny line is widened", "acl u url_regex ^https://x\\.example/\nhttp_access deny u", "deny-u deny")]
    public void Path_acls_become_paths_where_they_say_exactly_a_prefix(string proves, string text, string expected)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        Assert.Equal(expected, Rules(Translate(text)));
    }

    [Theory]
    [InlineData("acl p urlpath_regex ^/pub/ ^/docs", "line 1: acl: p: urlpath_regex becomes paths: /pub/*, /docs* (the same string prefix; Sluice matches the path with escapes decoded and dot segments removed, Squid the path as written)")]
    [InlineData("acl p urlpath_regex ^/pub/ \\.exe$", "line 1: acl: not translated: p: urlpath_regex '\\.exe$': not anchored at the start of the path (^/...)")]
    [InlineData("acl p urlpath_regex -i ^/Pub", "line 1: acl: not translated: p: urlpath_regex '^/Pub': -i: Squid compares it without regard to case, and Sluice paths are case-sensitive")]
    [InlineData("acl p urlpath_regex ^/a(b|c)", "line 1: acl: not translated: p: urlpath_regex '^/a(b|c)': '(' makes it more than a literal prefix")]
    [InlineData("acl u url_regex -i ^https?://[^/]+/track", "line 1: acl: not translated: u: url_regex matches the whole URL with a regular expression; Sluice rules match destinations: and paths: (segment prefixes and globs), so write those by hand (http_access lines using it are narrowed or widened, see below)")]
    [InlineData("acl p urlpath_regex ^/pub/\nhttp_access deny !p", "line 2: http_access: not translated: !p: Sluice cannot say \"any path but\" these; this deny line is translated without that condition")]
    public void Path_notes_say_what_became_a_path_and_what_did_not(string text, string expected)
    {
        Assert.Contains(expected, string.Join("\n", Translate(text).Notes), StringComparison.Ordinal);
    }
}
