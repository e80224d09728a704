using Sluice.Client.Export;

namespace Sluice.Client.Tests.Export;

public sealed class EnvExporterTests
{
    private const string Url = "http://etl:s3cr3t%21pw@proxy.test:3128";
    private const string NoProxy = "localhost,.localhost,.corp.example,10.0.0.0/8,db.internal:5432,.db.internal:5432";

    public static TheoryData<string, string[]> Formats => new()
    {
        { "sh", [$"export http_proxy='{Url}'", $"export HTTP_PROXY='{Url}'", $"export https_proxy='{Url}'", $"export HTTPS_PROXY='{Url}'", $"export no_proxy='{NoProxy}'", $"export NO_PROXY='{NoProxy}'"] },
        { "fish", [$"set -gx http_proxy '{Url}'", $"set -gx HTTP_PROXY '{Url}'", $"set -gx https_proxy '{Url}'", $"set -gx HTTPS_PROXY '{Url}'", $"set -gx no_proxy '{NoProxy}'", $"set -gx NO_PROXY '{NoProxy}'"] },
        { "powershell", [$"$env:http_proxy = '{Url}'", $"$env:HTTP_PROXY = '{Url}'", $"$env:https_proxy = '{Url}'", $"$env:HTTPS_PROXY = '{Url}'", $"$env:no_proxy = '{NoProxy}'", $"$env:NO_PROXY = '{NoProxy}'"] },
        { "dotenv", [$"http_proxy={Url}", $"HTTP_PROXY={Url}", $"https_proxy={Url}", $"HTTPS_PROXY={Url}", $"no_proxy={NoProxy}", $"NO_PROXY={NoProxy}"] },
        { "systemd", ["[Service]", "Environment=\"http_proxy=http://etl:s3cr3t%%21pw@proxy.test:3128\"", "Environment=\"HTTP_PROXY=http://etl:s3cr3t%%21pw@proxy.test:3128\"", "Environment=\"https_proxy=http://etl:s3cr3t%%21pw@proxy.test:3128\"", "Environment=\"HTTPS_PROXY=http://etl:s3cr3t%%21pw@proxy.test:3128\"", $"Environment=\"no_proxy={NoProxy}\"", $"Environment=\"NO_PROXY={NoProxy}\""] },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Each_style_writes_both_cases_of_every_variable(string format, string[] expected)
    {
        ExportResult result = ProxyExporters.Find(format)!.Export(ExportTestData.Representative());
        Assert.Equal(expected, result.Lines);
    }

    [Theory]
    [InlineData("sh", "export SSL_CERT_FILE='/etc/ca dir/it'\\''s.pem'")]
    [InlineData("fish", "set -gx SSL_CERT_FILE '/etc/ca dir/it\\'s.pem'")]
    [InlineData("powershell", "$env:SSL_CERT_FILE = '/etc/ca dir/it''s.pem'")]
    [InlineData("dotenv", "SSL_CERT_FILE=\"/etc/ca dir/it's.pem\"")]
    [InlineData("systemd", "Environment=\"SSL_CERT_FILE=/etc/ca dir/it's.pem\"")]
    public void Values_are_quoted_for_each_syntax(string format, string expected)
    {
        ExportResult result = ProxyExporters.Find(format)!.Export(ExportTestData.With("", ca: "/etc/ca dir/it's.pem"));
        Assert.Contains(expected, result.Lines);
    }

    [Fact]
    public void Dotenv_escapes_what_a_reader_would_expand_and_systemd_doubles_percent()
    {
        Assert.Equal("\"a\\$b \\\"c\\\" d\\\\e\"", ExportText.Dotenv("a$b \"c\" d\\e"));
        Assert.Equal("\"X=100%% \\\"q\\\"\"", ExportText.Systemd("X", "100% \"q\""));
    }

    [Fact]
    public void A_ca_file_sets_the_bundle_variables_and_warns_that_some_replace_the_trust_store()
    {
        ExportResult result = ProxyExporters.Find("sh")!.Export(ExportTestData.With("", ca: "/etc/proxy-ca.pem"));
        Assert.Equal(["export SSL_CERT_FILE='/etc/proxy-ca.pem'", "export REQUESTS_CA_BUNDLE='/etc/proxy-ca.pem'", "export NODE_EXTRA_CA_CERTS='/etc/proxy-ca.pem'"], result.Lines.Skip(4));
        Assert.Contains(result.Lints, l => l.Subject == "--ca" && l.Message.StartsWith("SSL_CERT_FILE, REQUESTS_CA_BUNDLE replace the default trust store", StringComparison.Ordinal));
    }

    [Fact]
    public void An_empty_list_writes_no_no_proxy_and_lints_only_Go_s_loopback_bypass()
    {
        ExportResult result = ProxyExporters.Find("sh")!.Export(ExportTestData.With(""));
        Assert.Equal(4, result.Lines.Count);
        ExportLint lint = Assert.Single(result.Lints);
        Assert.Equal(ExportLintSubjects.Loopback, lint.Subject);
        Assert.Equal([ClientRuntime.Go], lint.Differs);
    }

    [Fact]
    public void Docker_writes_the_client_config_proxies_block()
    {
        ExportResult result = ProxyExporters.Find("docker")!.Export(ExportTestData.Representative());
        Assert.Equal(
            [
                "{",
                "  \"proxies\": {",
                "    \"default\": {",
                $"      \"httpProxy\": \"{Url}\",",
                $"      \"httpsProxy\": \"{Url}\",",
                $"      \"noProxy\": \"{NoProxy}\"",
                "    }",
                "  }",
                "}",
            ],
            result.Lines);
    }

    [Fact]
    public void Kubernetes_writes_a_container_env_list_and_warns_about_clear_text_credentials()
    {
        ExportResult result = ProxyExporters.Find("k8s")!.Export(ExportTestData.Representative());
        Assert.Equal(
            [
                "env:",
                "  - name: http_proxy", $"    value: \"{Url}\"",
                "  - name: HTTP_PROXY", $"    value: \"{Url}\"",
                "  - name: https_proxy", $"    value: \"{Url}\"",
                "  - name: HTTPS_PROXY", $"    value: \"{Url}\"",
                "  - name: no_proxy", $"    value: \"{NoProxy}\"",
                "  - name: NO_PROXY", $"    value: \"{NoProxy}\"",
            ],
            result.Lines);
        Assert.Contains(result.Lints, l => l.Subject == "credentials" && l.Message.Contains("Secret", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("docker", "config.json cannot carry a CA")]
    [InlineData("k8s", "inside the container: mount the file there")]
    public void Container_formats_say_what_to_do_with_the_ca(string format, string lint)
    {
        ExportResult result = ProxyExporters.Find(format)!.Export(ExportTestData.With("", ca: "/etc/proxy-ca.pem"));
        Assert.Contains(result.Lints, l => l.Subject == "--ca" && l.Message.Contains(lint, StringComparison.Ordinal));
    }
}
