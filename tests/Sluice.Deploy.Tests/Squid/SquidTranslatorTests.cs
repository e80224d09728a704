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
            + Part("dest", r.Destinations) + Part("ports", r.Ports.Cast<object>()) + Part("methods", r.Methods)
            + Part("schemes", r.Schemes.Cast<object>()) + Part("clients", r.Clients.Cast<object>()) + Part("users", r.Users)
            + (r.Via is null ? "" : $" via={r.Via}");
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
    [InlineData("http_port 3128 ssl-bump=on", "line 1: http_port: not translated: 'ssl-bump=on': Sluice is an explicit forward proxy only")]
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
}
