namespace Sluice.Cli.Tests;

/// <summary>
/// `sluice import-squid` as an operator runs it: the configuration on standard output or in the file named by -o,
/// the notes on standard error in line order, and the exit code saying whether the result loads. The translation
/// itself is tested in Sluice.Deploy.Tests.
/// </summary>
public sealed class ImportSquidTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-squid-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private const string Conf = """
        http_port 127.0.0.1:3128
        acl SSL_ports port 443
        acl localnet src 10.0.0.0/8
        acl lunch time 12:00-13:00
        http_access deny CONNECT !SSL_ports
        http_access allow localnet lunch
        http_access allow localnet
        coredump_dir /var/spool/squid
        """;

    [Fact]
    public async Task With_output_the_file_is_written_the_notes_are_in_line_order_and_the_result_passes_check()
    {
        string conf = Write("corp.conf", Conf);
        string output = Path.Combine(_dir, "sluice.yaml");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("import-squid", conf, "-o", output);
        Assert.Equal(0, exit);
        Assert.Equal("", stdout);
        string[] lines = stderr.Split('\n');
        string[] expected = ["corp.conf:line 4: acl: not translated: lunch: type time", "corp.conf:line 6: http_access: not translated: lunch: acl type time", "corp.conf:line 8: coredump_dir: not translated"];
        Assert.Equal(expected.Length + 1, lines.Length);
        Assert.All(expected.Zip(lines), pair => Assert.StartsWith(pair.First, pair.Second, StringComparison.Ordinal));
        Assert.Equal($"wrote {output}", lines[^1]);

        string yaml = File.ReadAllText(output);
        Assert.StartsWith("---\n# Converted by `sluice import-squid` from corp.conf.\n", yaml, StringComparison.Ordinal);
        Assert.Contains("# line 7: http_access allow localnet\n", yaml, StringComparison.Ordinal);
        (int checkExit, _, string checkErrors) = await SluiceProcess.RunAsync("check", "--config", output);
        Assert.True(checkExit == 0, $"sluice check refused the converted file: {checkErrors}\n{yaml}");
    }

    [Fact]
    public async Task Without_output_the_same_configuration_goes_to_standard_output()
    {
        string conf = Write("corp.conf", Conf);
        string output = Path.Combine(_dir, "sluice.yaml");
        Assert.Equal(0, (await SluiceProcess.RunAsync("import-squid", conf, "--output", output)).Exit);
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("import-squid", conf);
        Assert.Equal(0, exit);
        Assert.Equal(File.ReadAllText(output).TrimEnd('\n'), stdout);
        Assert.DoesNotContain("wrote", stderr, StringComparison.Ordinal);
        Assert.Equal(3, stderr.Split('\n').Length);
    }

    [Fact]
    public async Task A_missing_users_file_is_reported_and_the_exit_code_says_so()
    {
        string conf = Write("auth.conf", "http_port 3128\nauth_param basic program /usr/lib/squid/basic_ncsa_auth /nonexistent/passwd\nacl a proxy_auth REQUIRED\nhttp_access allow a\n");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("import-squid", conf);
        Assert.Equal(1, exit);
        Assert.Contains("sluice import-squid: the converted configuration does not load yet:", stderr, StringComparison.Ordinal);
        Assert.Contains("(line ", stderr, StringComparison.Ordinal);
        Assert.Contains("usersFile: /nonexistent/passwd", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_cannot_be_read_is_a_usage_error()
    {
        string missing = Path.Combine(_dir, "nothere.conf");
        (int exit, string stdout, string stderr) = await SluiceProcess.RunAsync("import-squid", missing);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith($"sluice import-squid: cannot read {missing}:", stderr, StringComparison.Ordinal);
        Assert.Equal(2, (await SluiceProcess.RunAsync("import-squid")).Exit);
    }
}
