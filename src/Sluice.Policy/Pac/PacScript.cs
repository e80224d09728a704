using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Policy.Pac;

/// <summary>
/// One destination a PAC file sends direct, in Sluice's excluded-list semantics: a name and its subdomains, its
/// subdomains only, or a network that matches destinations written as addresses; optionally on a range of ports.
/// </summary>
/// <param name="Name">Normalised (lower case, punycode, no trailing dot); null for a network.</param>
/// <param name="FirstPort">0 for every port.</param>
readonly partial record struct PacEntry(string? Name, bool SubdomainsOnly, IPNetwork? Network, int FirstPort, int LastPort)
{
    public static PacEntry ForName(string name, bool subdomainsOnly, int? port = null) => new(name, subdomainsOnly, null, port ?? 0, port ?? 0);

    public static PacEntry ForNetwork(IPNetwork network, int firstPort = 0, int lastPort = 0) => new(null, false, network, firstPort, lastPort);
}

/// <summary>
/// Writes a PAC file (<c>FindProxyForURL</c>) for <c>sluice env --format pac</c> and the admin endpoint's
/// <c>/proxy.pac</c>: one generator, so both answer alike. The script is plain ECMAScript 3 and calls none of the PAC
/// helpers, so it runs the same in every engine (browsers, WinHTTP's JScript, Java's PAC readers); above all it never
/// calls <c>dnsResolve</c> or <c>isInNet</c>, which resolve names: like NO_PROXY, a network matches only a destination
/// written as an address. It reads the host as Sluice's HostNames does (case, one trailing dot, brackets and zone of
/// an IPv6 literal, inet_aton's IPv4 notations) and the port from the URL, with the scheme's default. A host that is
/// not a valid name or address goes to the proxy, which says why. Names must arrive as punycode, as browsers pass them.
/// </summary>
/// <remarks>
/// Compiled into Sluice.Client too (a linked file), where it stays internal: the declarations here have no
/// accessibility, and <c>PublicPac.cs</c>, which only Sluice.Policy compiles, makes them public. Keep this file
/// self-contained: nothing from the rest of Sluice.Policy.
/// </remarks>
static partial class PacScript
{
    /// <summary>The MIME type browsers and WinHTTP expect a PAC file to be served with.</summary>
    public const string ContentType = "application/x-ns-proxy-autoconfig";

    /// <summary>What the script returns for the proxy: <c>PROXY host:port</c>, or <c>HTTPS host:port</c> for TLS to the proxy.</summary>
    public static string Directive(bool tls, string host, int port) =>
        $"{(tls ? "HTTPS" : "PROXY")} {(host.Contains(':') ? $"[{host}]" : host)}:{port.ToString(CultureInfo.InvariantCulture)}";

    /// <param name="header">Comment lines: what the file was generated from (never credentials).</param>
    /// <param name="directive">From <see cref="Directive"/>.</param>
    /// <param name="allDirect">Everything goes direct (<c>*</c>).</param>
    public static string Build(IEnumerable<string> header, string directive, bool allDirect, IEnumerable<PacEntry> entries)
    {
        var js = new StringBuilder();
        foreach (string line in header)
        {
            js.Append("// ").Append(OneLine(line)).Append('\n');
        }

        if (allDirect)
        {
            js.Append("// * is excluded: every destination goes direct.\n");
            js.Append("function FindProxyForURL(url, host) {\n  return \"DIRECT\";\n}\n");
            return js.ToString();
        }

        PacEntry[] distinct = [.. entries.Distinct()];
        js.Append("var PROXY = ").Append(Quote(directive)).Append(";\n\n");
        js.Append("// Direct: each name and its subdomains. [name, first port, last port]; port 0: every port.\n");
        Table(js, "NAMES", distinct.Where(e => e.Name is not null && !e.SubdomainsOnly).OrderBy(e => e.Name, StringComparer.Ordinal).ThenBy(e => e.FirstPort).ThenBy(e => e.LastPort)
            .Select(e => $"[{Quote(e.Name!)}, {Ports(e)}]"));
        js.Append("// Direct: the subdomains of each name, not the name itself (*.name).\n");
        Table(js, "SUBDOMAINS", distinct.Where(e => e.Name is not null && e.SubdomainsOnly).OrderBy(e => e.Name, StringComparer.Ordinal).ThenBy(e => e.FirstPort).ThenBy(e => e.LastPort)
            .Select(e => $"[{Quote(e.Name!)}, {Ports(e)}]"));
        js.Append("// Direct: destinations written as an address in a network (a name is never resolved to find out).\n");
        js.Append("// [address, prefix length, first port, last port].\n");
        Table(js, "NETWORKS", distinct.Where(e => e.Network is not null).OrderBy(e => e.Network!.Value, NetworkOrder.Instance).ThenBy(e => e.FirstPort).ThenBy(e => e.LastPort)
            .Select(e => $"[{Quote(e.Network!.Value.BaseAddress.ToString())}, {e.Network.Value.PrefixLength.ToString(CultureInfo.InvariantCulture)}, {Ports(e)}]"));
        js.Append(Matcher);
        return js.ToString();
    }

    private static void Table(StringBuilder js, string name, IEnumerable<string> rows)
    {
        string[] all = [.. rows];
        js.Append("var ").Append(name).Append(all.Length == 0 ? " = [];\n\n" : " = [\n");
        if (all.Length > 0)
        {
            js.Append("  ").Append(string.Join(",\n  ", all)).Append("\n];\n\n");
        }
    }

    private static string Ports(PacEntry e) =>
        $"{e.FirstPort.ToString(CultureInfo.InvariantCulture)}, {e.LastPort.ToString(CultureInfo.InvariantCulture)}";

    // Names and addresses are plain ASCII here; anything else is escaped so that no text can end the string.
    private static string Quote(string text)
    {
        var s = new StringBuilder("\"");
        foreach (char c in text)
        {
            s.Append(c is >= ' ' and <= '~' and not '"' and not '\\' ? c.ToString() : $"\\u{(int)c:x4}");
        }

        return s.Append('"').ToString();
    }

    private static string OneLine(string text) => new([.. text.Select(c => char.IsControl(c) ? ' ' : c)]);

    private sealed class NetworkOrder : IComparer<IPNetwork>
    {
        public static readonly NetworkOrder Instance = new();

        public int Compare(IPNetwork x, IPNetwork y)
        {
            byte[] a = x.BaseAddress.GetAddressBytes(), b = y.BaseAddress.GetAddressBytes();
            int byFamily = (x.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 0 : 1) - (y.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 0 : 1);
            int byAddress = a.AsSpan().SequenceCompareTo(b);
            return byFamily != 0 ? byFamily : byAddress != 0 ? byAddress : x.PrefixLength.CompareTo(y.PrefixLength);
        }
    }

    // The matching function, the same in every file. ECMAScript 3 only (no let, no Array.indexOf, no String.trim):
    // Windows' WinHTTP still runs PAC files in JScript.
    private const string Matcher = """
        function FindProxyForURL(url, host) {
          var h = sluiceHost(String(host)), port = sluicePort(String(url)), i, e, n;
          if (h === null) {
            return PROXY; // not a name or an address: the proxy says why
          }
          for (i = 0; i < NAMES.length && h.name !== null; i++) {
            e = NAMES[i];
            if (sluicePorts(e, 1, port) && (h.name === e[0] || sluiceUnder(h.name, e[0]))) return "DIRECT";
          }
          for (i = 0; i < SUBDOMAINS.length && h.name !== null; i++) {
            e = SUBDOMAINS[i];
            if (sluicePorts(e, 1, port) && sluiceUnder(h.name, e[0])) return "DIRECT";
          }
          for (i = 0; i < NETWORKS.length && h.name === null; i++) {
            e = NETWORKS[i];
            n = sluiceHost(e[0]);
            if (sluicePorts(e, 2, port) && sluiceIn(h.bytes, n.bytes, e[1])) return "DIRECT";
          }
          return PROXY;
        }

        function sluiceUnder(name, parent) {
          return name.length > parent.length + 1 && name.substring(name.length - parent.length - 1) === "." + parent;
        }

        function sluicePorts(e, at, port) {
          return e[at] === 0 || (port >= e[at] && port <= e[at + 1]);
        }

        // The URL's port, or its scheme's default; -1 when neither is known (then no entry with a port matches).
        function sluicePort(url) {
          var m = /^([A-Za-z][A-Za-z0-9+.\-]*):\/\/([^\/?#]*)/.exec(url), authority, p;
          if (!m) return -1;
          authority = m[2].substring(m[2].lastIndexOf("@") + 1);
          p = /:([0-9]*)$/.exec(authority);
          if (p && p[1] !== "") return parseInt(p[1], 10);
          switch (m[1].toLowerCase()) {
            case "http": case "ws": return 80;
            case "https": case "wss": return 443;
            case "ftp": return 21;
          }
          return -1;
        }

        // {name} for a host name (lower case, without its trailing dot), {name: null, bytes} for an address (an
        // IPv4-mapped IPv6 address as its IPv4 form), null for neither.
        function sluiceHost(text) {
          var t = text.replace(/^\s+|\s+$/g, ""), b, labels, i;
          if (t.charAt(0) === "[" && t.charAt(t.length - 1) === "]") t = t.substring(1, t.length - 1);
          if (t.indexOf(":") >= 0) {
            if (t.indexOf("%") >= 0) t = t.substring(0, t.indexOf("%")); // a zone names the sender's interface only
            b = sluiceV6(t);
            if (b === null) return null;
            for (i = 0; i < 10 && b[i] === 0; i++) {}
            return { name: null, bytes: i === 10 && b[10] === 255 && b[11] === 255 ? b.slice(12) : b };
          }
          if (t.charAt(t.length - 1) === ".") t = t.substring(0, t.length - 1);
          if (t.length === 0 || t.length > 253) return null;
          if (/^[0-9][0-9a-fA-FxX]*(\.[0-9][0-9a-fA-FxX]*)*$/.test(t)) {
            b = sluiceV4(t);
            return b === null ? null : { name: null, bytes: b };
          }
          if (!/^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$/.test(t)) return null;
          labels = t.split(".");
          for (i = 0; i < labels.length; i++) {
            if (labels[i].length > 63) return null;
          }
          return { name: t.toLowerCase(), bytes: null };
        }

        // IPv4 in any notation inet_aton reads: 1 to 4 parts, decimal, octal (0...) or hex (0x...), the last filling the rest.
        function sluiceV4(t) {
          var parts = t.split("."), bytes = [], i, j, v, m;
          if (parts.length > 4) return null;
          for (i = 0; i < parts.length; i++) {
            m = /^0[xX]([0-9a-fA-F]*)$/.exec(parts[i]);
            v = m ? (m[1] === "" ? 0 : parseInt(m[1], 16))
              : /^0[0-7]*$/.test(parts[i]) ? parseInt("0" + parts[i], 8)
              : /^[1-9][0-9]*$/.test(parts[i]) ? parseInt(parts[i], 10) : -1;
            if (v < 0 || v >= Math.pow(256, i === parts.length - 1 ? 4 - i : 1)) return null;
            for (j = (i === parts.length - 1 ? 3 - i : 0); j >= 0; j--) bytes.push(Math.floor(v / Math.pow(256, j)) % 256);
          }
          return bytes;
        }

        // IPv6 as 16 bytes: groups of 1 to 4 hex digits, at most one "::", optionally a dotted IPv4 tail.
        function sluiceV6(t) {
          var halves = t.split("::"), groups = [], tail, v4, i, g, bytes = [];
          if (halves.length > 2) return null;
          tail = /^(.*:)?([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)$/.exec(t);
          if (tail) {
            v4 = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/.test(tail[2]) ? sluiceV4(tail[2]) : null;
            if (v4 === null || v4.length !== 4) return null;
            return sluiceV6((tail[1] || "") + (v4[0] * 256 + v4[1]).toString(16) + ":" + (v4[2] * 256 + v4[3]).toString(16));
          }
          for (i = 0; i < halves.length; i++) {
            halves[i] = halves[i] === "" ? [] : halves[i].split(":");
          }
          if (halves.length === 1 ? halves[0].length !== 8 : halves[0].length + halves[1].length > 7) return null;
          groups = halves[0];
          while (halves.length === 2 && groups.length + halves[1].length < 8) groups.push("0");
          if (halves.length === 2) groups = groups.concat(halves[1]);
          for (i = 0; i < 8; i++) {
            if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return null;
            g = parseInt(groups[i], 16);
            bytes.push(Math.floor(g / 256), g % 256);
          }
          return bytes;
        }

        // Whether the first prefix bits of two addresses of one family agree. An IPv4-mapped network ("::ffff:a.b.c.d/104")
        // is read as IPv4 with a prefix longer than 32: it matches nothing, as in Sluice, which compares mapped hosts as IPv4.
        function sluiceIn(address, network, prefix) {
          var i, bits, unit;
          if (address.length !== network.length || prefix > address.length * 8) return false;
          for (i = 0; i * 8 < prefix; i++) {
            bits = Math.min(8, prefix - i * 8);
            unit = Math.pow(2, 8 - bits);
            if (Math.floor(address[i] / unit) !== Math.floor(network[i] / unit)) return false;
          }
          return true;
        }

        """;
}
