using Sluice.Client.Export;

namespace Sluice.Client.Tests.Export;

public sealed class JavaExporterTests
{
    [Fact]
    public void Representative_settings()
    {
        ExportResult result = new JavaExporter().Export(ExportTestData.Representative());
        Assert.Equal(
            ["export JAVA_TOOL_OPTIONS='-Dhttp.proxyHost=proxy.test -Dhttp.proxyPort=3128 -Dhttps.proxyHost=proxy.test -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts=localhost|*.localhost|*.corp.example|10.*|db.internal|*.db.internal -Djdk.http.auth.tunneling.disabledSchemes= -Djdk.http.auth.proxying.disabledSchemes='"],
            result.Lines);
        Assert.Equal(
            [
                "localhost: Java reads localhost as that host only: written localhost|*.localhost",
                "10.0.0.0/8: http.nonProxyHosts has no CIDR: written 10.*, the same addresses as text patterns",
                "db.internal:5432: Java reads db.internal as that host only: written db.internal|*.db.internal",
                "db.internal:5432: http.nonProxyHosts has no ports: written without one, so in Java every port of db.internal goes direct",
                "destinations ending in a dot: a URL that writes the name with a trailing dot (www.example.com.) still goes through the proxy in Java, which compare the name with its dot; write URLs without it",
                "loopback destinations: the JDK appends localhost|127.*|[::1]|0.0.0.0|[::0] to a non-empty http.nonProxyHosts: in Java, loopback destinations always go direct",
                "credentials: not written: the JDK reads no proxy credentials from properties and the JVM prints JAVA_TOOL_OPTIONS on stderr; give the code a java.net.Authenticator (Basic for proxies and tunnels was re-enabled with jdk.http.auth.*.disabledSchemes=)",
            ],
            ExportTestData.Lints(result));
    }

    [Theory]
    [InlineData("example.com", "example.com|*.example.com", "Java reads example.com as that host only")]
    [InlineData(".example.com", "example.com|*.example.com", "Java reads example.com as that host only")]
    [InlineData("*.example.com", "*.example.com", null)]
    [InlineData("10.1.2.3", "10.1.2.3", null)]
    [InlineData("192.168.0.0/16", "192.168.*", "no CIDR: written 192.168.*")]
    [InlineData("172.16.0.0/12", "172.16.*|172.17.*|172.18.*|172.19.*|172.20.*|172.21.*|172.22.*|172.23.*|172.24.*|172.25.*|172.26.*|172.27.*|172.28.*|172.29.*|172.30.*|172.31.*", "no CIDR")]
    [InlineData("10.1.2.64/30", "10.1.2.64|10.1.2.65|10.1.2.66|10.1.2.67", "no CIDR")]
    [InlineData("0.0.0.0/0", "*", "no CIDR")]
    [InlineData("::1", "[::1]", null)]
    [InlineData("fd00::/8", "", "IPv6 text has no stable prefix: left out")]
    [InlineData("api.example.com:8443", "api.example.com|*.api.example.com", "no ports: written without one, so in Java every port of api.example.com goes direct")]
    public void Non_proxy_hosts(string excluded, string written, string? lint)
    {
        NoProxyTranslation translation = JavaExporter.TranslateNonProxyHosts(NoProxyList.Parse(excluded));
        ExportTestData.AssertTranslation(translation, "|", written, lint);
    }

    [Fact]
    public void A_lone_star_writes_no_proxy_properties_at_all()
    {
        ExportResult result = new JavaExporter().Export(ExportTestData.With("*,a.example"));
        Assert.Equal(["export JAVA_TOOL_OPTIONS=''"], result.Lines);
        Assert.Contains("*: every destination bypasses the proxy: no proxy properties were written (a lone * in http.nonProxyHosts throws on older JDKs)", ExportTestData.Lints(result));
    }

    [Fact]
    public void An_https_proxy_is_linted_and_a_ca_gets_the_truststore_hint()
    {
        ExportResult result = new JavaExporter().Export(ExportTestData.With("", "https://proxy.test:3129", "/etc/sluice/proxy-ca.pem"));
        Assert.Equal(
            [
                "# trust the CA: copy the JDK's roots, then add it (javax.net.ssl.trustStore replaces cacerts)",
                "rm -f '/etc/sluice/proxy-ca.p12'",
                "keytool -importkeystore -noprompt -srckeystore \"${JAVA_HOME:-$(dirname \"$(dirname \"$(readlink -f \"$(command -v java)\")\")\")}/lib/security/cacerts\" -srcstorepass changeit -destkeystore '/etc/sluice/proxy-ca.p12' -deststoretype PKCS12 -deststorepass changeit",
                "keytool -importcert -noprompt -alias sluice-proxy-ca -file '/etc/sluice/proxy-ca.pem' -keystore '/etc/sluice/proxy-ca.p12' -storetype PKCS12 -storepass changeit",
                "export JAVA_TOOL_OPTIONS='-Dhttp.proxyHost=proxy.test -Dhttp.proxyPort=3129 -Dhttps.proxyHost=proxy.test -Dhttps.proxyPort=3129 -Dhttp.nonProxyHosts= -Djavax.net.ssl.trustStore=/etc/sluice/proxy-ca.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit'",
            ],
            result.Lines);
        Assert.Contains(result.Lints, l => l.Subject == "type: https" && l.Message.StartsWith("the JDK's HTTP clients cannot speak TLS to a proxy", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Lints, l => l.Subject == "http.nonProxyHosts"); // an empty list stays empty: loopback is proxied too
    }
}
