using Sluice.Deploy.Squid;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>squid.conf text to lines of the model, each with its line number; nothing is interpreted yet.</summary>
public sealed class SquidReaderTests
{
    private static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["nets.txt"] = "10.0.0.0/8 # office\n\n# a comment line\n192.168.0.0/16 \\\n  172.16.0.0/12\n",
        ["empty.txt"] = "",
    };

    /// <summary>One line per entry of the model, in the order of its lists: ports, acls, access, directives, problems.</summary>
    private static string Describe(SquidConf conf) => string.Join(" | ", [
        .. conf.Ports.Select(p => $"{p.Line} {p.Directive} {p.Spec} -> {p.Address ?? "none"}{(p.BarePort is { } b ? $" bare {b}" : "")}{string.Concat(p.Options.Select(o => $" [{o.Key}={o.Value}]"))}"),
        .. conf.Acls.Select(a => $"{a.Line} acl {a.Name} {a.Type} ({string.Join(",", a.Values)}){(a.IgnoreCase ? " -i" : "")}{(a.UnreadFile is { } f ? $" unread {f}" : "")}"),
        .. conf.Access.Select(a => $"{a.Line} {(a.Allow ? "allow" : "deny")} {string.Join(",", a.Terms.Select(t => (t.Negated ? "!" : "") + t.Acl))} '{a.Text}'"),
        .. conf.Directives.Select(d => $"{d.Line} {d.Name} ({string.Join(",", d.Arguments)})"),
        .. conf.Problems.Select(p => $"problem {p}"),
    ]);

    [Theory]
    [InlineData("blank lines and comments are skipped, numbers count them", "\n# comment\n   \n  cache_mem 64 MB", "4 cache_mem (64,MB)")]
    [InlineData("a comment after white space ends the directive", "cache_mem 64 MB # or more", "1 cache_mem (64,MB)")]
    [InlineData("a hash inside a word is part of it", "visible_hostname a#b", "1 visible_hostname (a#b)")]
    [InlineData("a backslash joins the next line, numbered by the first", "acl a src \\\n 10.0.0.0/8\nfoo", "1 acl a src (10.0.0.0/8) | 3 foo ()")]
    [InlineData("CRLF line ends", "foo 1\r\nbar 2\r\n", "1 foo (1) | 2 bar (2)")]
    [InlineData("http_access terms, negated with !", "http_access deny CONNECT !SSL_ports", "1 deny CONNECT,!SSL_ports 'http_access deny CONNECT !SSL_ports'")]
    [InlineData("http_access without acls", "http_access   allow", "1 allow  'http_access allow'")]
    [InlineData("http_access without allow or deny is a problem", "http_access maybe all", "problem line 1: http_access: not translated: expected http_access allow|deny ACL...")]
    [InlineData("an acl without a type is a problem", "acl a", "problem line 1: acl: not translated: expected acl NAME TYPE VALUE...")]
    [InlineData("an acl without values has none", "acl a port", "1 acl a port ()")]
    [InlineData("acl flags are left out, -i remembered", "acl d dstdomain -i .Example.com -n -- +i x", "1 acl d dstdomain (.Example.com,x) -i")]
    [InlineData("ssl::server_name's flags are left out", "acl s ssl::server_name --client-requested .example.com", "1 acl s ssl::server_name (.example.com)")]
    [InlineData("ssl_bump lines are directives", "ssl_bump splice !step1 banks", "1 ssl_bump (splice,!step1,banks)")]
    [InlineData("a quoted file's words stand in its place", "acl n src 1.1.1.1 \"nets.txt\" 2.2.2.2", "1 acl n src (1.1.1.1,10.0.0.0/8,192.168.0.0/16,172.16.0.0/12,2.2.2.2)")]
    [InlineData("an empty file adds nothing", "acl n src \"empty.txt\"", "1 acl n src ()")]
    [InlineData("a file that is not here stops the values", "acl n src 1.1.1.1 \"gone.txt\" 2.2.2.2", "1 acl n src (1.1.1.1) unread gone.txt")]
    [InlineData("\"\" alone is a value, not a file", "acl n src \"\"", "1 acl n src (\"\")")]
    [InlineData("a bare port listens on every address", "http_port 3128", "1 http_port 3128 -> [::]:3128 bare 3128")]
    [InlineData("IP:port is kept as written", "http_port 127.0.0.1:3128", "1 http_port 127.0.0.1:3128 -> 127.0.0.1:3128")]
    [InlineData("an IPv6 address in brackets", "https_port [::1]:3129 cert=/a.pem", "1 https_port [::1]:3129 -> [::1]:3129 [cert=/a.pem]")]
    [InlineData("a host name is not an address", "http_port proxy.example:3128", "1 http_port proxy.example:3128 -> none")]
    [InlineData("a bare port out of range is no address", "http_port 99999", "1 http_port 99999 -> none bare 99999")]
    [InlineData("options split at the first =", "http_port 3128 intercept name=a=b", "1 http_port 3128 -> [::]:3128 bare 3128 [intercept=] [name=a=b]")]
    [InlineData("a port line without a port is a problem", "https_port", "problem line 1: https_port: not translated: no port given")]
    [InlineData("other directives keep their words", "auth_param basic realm Corp Proxy", "1 auth_param (basic,realm,Corp,Proxy)")]
    [InlineData("each list keeps file order", "acl b port 2\nhttp_port 1\nacl a port 1\nx", "2 http_port 1 -> [::]:1 bare 1 | 1 acl b port (2) | 3 acl a port (1) | 4 x ()")]
    public void Reads(string proves, string text, string expected)
    {
        Assert.False(string.IsNullOrEmpty(proves));
        Assert.Equal(expected, Describe(SquidReader.Read(text, path => Files.GetValueOrDefault(path))));
    }

    [Fact]
    public void A_value_file_on_disk_is_read_from_the_path_as_written()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("sluice-acl-").FullName, "ports.txt");
        File.WriteAllText(file, "80 443\n");
        try
        {
            Assert.Equal($"1 acl p port (80,443) | 2 acl q port () unread {file}.gone", Describe(SquidReader.Read($"acl p port \"{file}\"\nacl q port \"{file}.gone\"")));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }
}
