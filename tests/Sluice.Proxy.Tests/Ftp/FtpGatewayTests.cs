using System.Text;
using Sluice.Proxy.Tests.Infrastructure;
using static Sluice.Proxy.Tests.Ftp.FtpGatewayKit;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>
/// ftp:// URLs through the proxy's FTP gateway, against a real FTP server (pyftpdlib) on loopback, with real clients:
/// curl without -p and wget with ftp_proxy (both send GET ftp://... to the proxy), and raw sockets.
/// </summary>
public sealed class FtpGatewayTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("sluice-ftpgw-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task Curl_fetches_a_several_megabyte_file_byte_exact_and_the_access_log_has_its_squid_line()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        byte[] content = server.WriteFile("data/big.bin", 5 * 1024 * 1024 + 17);
        await using TestProxy proxy = await StartProxyAsync();
        string file = Path.Combine(_temp, "big.bin");

        (int code, string output) = await CurlAsync(proxy, "-o", file, $"ftp://{Host}:{server.Port}/data/big.bin");

        Assert.True(code == 0, output + server.Output);
        Assert.Equal(content, await File.ReadAllBytesAsync(file));
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://"), "the access-log line of the ftp:// GET");
        Assert.Contains($" TCP_MISS/200 ", line);
        Assert.Contains($" GET ftp://{Host}:{server.Port}/data/big.bin - HIER_DIRECT/127.0.0.1 application/octet-stream", line);
        Assert.Contains("EPSV", server.Output);
        Assert.Contains("RETR big.bin", server.Output);
    }

    [Fact]
    public async Task Wget_with_ftp_proxy_fetches_the_file_byte_exact()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        byte[] content = server.WriteFile("pub/archive.tar.gz", 3 * 1024 * 1024 + 5, seed: 7);
        await using TestProxy proxy = await StartProxyAsync();
        string file = Path.Combine(_temp, "archive.tar.gz");

        (int code, string output) = await WgetAsync(proxy, "-O", file, $"ftp://{Host}:{server.Port}/pub/archive.tar.gz");

        Assert.True(code == 0, output + server.Output);
        Assert.Equal(content, await File.ReadAllBytesAsync(file));
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://"), "wget's ftp:// GET");
        Assert.Contains(" TCP_MISS/200 ", line);
        Assert.Contains(" application/gzip", line);
    }

    [Fact]
    public async Task Head_answers_the_size_as_content_length_and_the_connection_carries_the_next_request()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        server.WriteFile("report.csv", 12_345);
        byte[] small = server.WriteFile("small.txt", 100, seed: 3);
        await using TestProxy proxy = await StartProxyAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        string url = $"ftp://{Host}:{server.Port}";

        await client.SendAsync($"HEAD {url}/report.csv HTTP/1.1\r\nHost: {Host}:{server.Port}\r\n\r\n");
        string head = await client.ReadHeadAsync(30_000);
        await client.SendAsync($"GET {url}/small.txt HTTP/1.1\r\nHost: {Host}:{server.Port}\r\n\r\n");
        string next = await client.ReadHeadAsync(30_000);
        byte[] body = await client.ReadExactlyAsync(100, 30_000);

        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Contains("\r\nContent-Length: 12345\r\n", head);
        Assert.Contains("\r\nContent-Type: text/csv\r\n", head);
        Assert.StartsWith("HTTP/1.1 200 ", next);
        Assert.Contains("\r\nContent-Length: 100\r\n", next);
        Assert.Equal(small, body);
        Assert.DoesNotContain("RETR report.csv", server.Output);
    }

    [Fact]
    public async Task A_directory_is_an_html_listing_from_MLSD_with_names_escaped_and_linked()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        server.WriteFile("files/<b>&x.txt", 42);
        server.WriteFile("files/sub dir/inner.bin", 1);
        await using TestProxy proxy = await StartProxyAsync();

        (int code, string output) = await CurlAsync(proxy, $"ftp://{Host}:{server.Port}/files/");

        Assert.True(code == 0, output + server.Output);
        Assert.Contains($"Index of ftp://{Host}:{server.Port}/files/", output);
        Assert.Contains("<a href=\"%3Cb%3E%26x.txt\">&lt;b&gt;&amp;x.txt</a></td><td>42</td>", output);
        Assert.Contains("<a href=\"sub%20dir/\">sub dir/</a>", output);
        Assert.Contains("<a href=\"../\">", output);
        Assert.DoesNotContain("<b>&x", output);
        Assert.Contains("MLSD", server.Output);
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" GET ftp://"), "the listing's line");
        Assert.Contains(" TCP_MISS/200 ", line);
        Assert.Contains(" text/html", line);
    }

    [Fact]
    public async Task Without_MLSD_the_listing_is_read_from_LIST()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { NoMlsd = true });
        server.WriteFile("a file.txt", 1234);
        Directory.CreateDirectory(Path.Combine(server.Root, "nested"));
        await using TestProxy proxy = await StartProxyAsync();

        (int code, string output) = await CurlAsync(proxy, $"ftp://{Host}:{server.Port}/");

        Assert.True(code == 0, output + server.Output);
        Assert.Contains("<a href=\"a%20file.txt\">a file.txt</a></td><td>1234</td>", output);
        Assert.Contains("<a href=\"nested/\">nested/</a>", output);
        Assert.DoesNotContain("<a href=\"../\">", output); // the root has no way up
        Assert.Contains("LIST", server.Output);
        Assert.DoesNotContain("MLSD", server.Output);
    }

    [Fact]
    public async Task A_file_url_that_names_a_directory_is_redirected_to_its_trailing_slash()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        server.WriteFile("docs/readme.txt", 10);
        await using TestProxy proxy = await StartProxyAsync();

        (string head, _) = await RawAsync(proxy, $"GET ftp://{Host}:{server.Port}/docs HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 301 ", head);
        Assert.Contains($"\r\nLocation: ftp://{Host}:{server.Port}/docs/\r\n", head);
    }

    [Fact]
    public async Task Put_stores_the_body_byte_exact_with_credentials_from_curl_u()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Users = [("etl", "s3cret")], Anonymous = false });
        Directory.CreateDirectory(Path.Combine(server.Root, "in"));
        byte[] content = new byte[2 * 1024 * 1024 + 3];
        new Random(11).NextBytes(content);
        string file = Path.Combine(_temp, "upload.bin");
        await File.WriteAllBytesAsync(file, content);
        await using TestProxy proxy = await StartProxyAsync();

        (int code, string output) = await CurlAsync(proxy, "-u", "etl:s3cret", "-T", file, "-w", "%{http_code}", $"ftp://{Host}:{server.Port}/in/upload.bin");

        Assert.True(code == 0, output + server.Output);
        Assert.EndsWith("201", output);
        Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(server.Root, "in", "upload.bin")));
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains(" PUT ftp://"), "the PUT's line");
        Assert.Contains(" TCP_MISS/201 ", line);
        Assert.DoesNotContain("s3cret", string.Join("\n", proxy.AccessLog.Lines));
    }

    [Fact]
    public async Task Credentials_in_the_url_log_in_and_never_reach_the_access_log_or_an_error()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Users = [("etl", "s3cret")], Anonymous = false });
        byte[] content = server.WriteFile("private/ledger.bin", 70_000);
        await using TestProxy proxy = await StartProxyAsync();
        string file = Path.Combine(_temp, "ledger.bin");

        (int code, string output) = await CurlAsync(proxy, "-o", file, $"ftp://etl:s3cret@{Host}:{server.Port}/private/ledger.bin");
        (string missing, byte[] body) = await RawAsync(proxy, $"GET ftp://etl:s3cret@{Host}:{server.Port}/private/nothing.bin HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        Assert.True(code == 0, output + server.Output);
        Assert.Equal(content, await File.ReadAllBytesAsync(file));
        Assert.StartsWith("HTTP/1.1 404 ", missing);
        Assert.DoesNotContain("s3cret", missing + Encoding.UTF8.GetString(body));
        await proxy.AccessLog.WaitForAsync(l => l.Contains("nothing.bin"), "the 404's line");
        string log = string.Join("\n", proxy.AccessLog.Lines);
        Assert.Contains($" GET ftp://{Host}:{server.Port}/private/ledger.bin ", log);
        Assert.DoesNotContain("s3cret", log);
        Assert.DoesNotContain("etl", log);
    }

    [Fact]
    public async Task Credentials_in_the_authorization_field_log_in()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Users = [("etl", "s3cret")], Anonymous = false });
        byte[] content = server.WriteFile("x.bin", 500);
        await using TestProxy proxy = await StartProxyAsync();
        string basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("etl:s3cret"));

        (string head, byte[] body) = await RawAsync(proxy, $"GET ftp://{Host}:{server.Port}/x.bin HTTP/1.1\r\nHost: {Host}\r\nAuthorization: Basic {basic}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Equal(content, body);
        Assert.Contains("USER etl", server.Output);
    }

    [Fact]
    public async Task A_refused_anonymous_login_is_a_401_challenge_and_refused_url_credentials_a_403()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Users = [("etl", "s3cret")], Anonymous = false });
        server.WriteFile("x.bin", 5);
        await using TestProxy proxy = await StartProxyAsync();

        (string anonymous, _) = await RawAsync(proxy, $"GET ftp://{Host}:{server.Port}/x.bin HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");
        (string wrong, byte[] body) = await RawAsync(proxy, $"GET ftp://etl:guess@{Host}:{server.Port}/x.bin HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 401 ", anonymous);
        Assert.Contains($"\r\nWWW-Authenticate: Basic realm=\"FTP {Host}\"\r\n", anonymous);
        Assert.Contains("\r\nProxy-Status: sluice-test; details=", anonymous);
        Assert.StartsWith("HTTP/1.1 403 ", wrong);
        Assert.DoesNotContain("guess", wrong + Encoding.UTF8.GetString(body));
        await proxy.AccessLog.WaitForAsync(l => l.Contains(" TCP_MISS/403 "), "the refused login's line");
        Assert.Contains(proxy.AccessLog.Lines, l => l.Contains(" TCP_MISS/401 "));
        Assert.DoesNotContain("guess", string.Join("\n", proxy.AccessLog.Lines));
    }

    [Fact]
    public async Task A_missing_file_is_a_404_and_the_connection_stays_open()
    {
        await using FtpServer server = await FtpServer.StartAsync();
        await using TestProxy proxy = await StartProxyAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);

        await client.SendAsync($"GET ftp://{Host}:{server.Port}/no/such.bin HTTP/1.1\r\nHost: {Host}\r\n\r\n");
        string first = await client.ReadHeadAsync(30_000);
        byte[] firstBody = await client.ReadExactlyAsync(ContentLength(first), 30_000);
        await client.SendAsync($"GET ftp://{Host}:{server.Port}/none.bin HTTP/1.1\r\nHost: {Host}\r\n\r\n");
        string second = await client.ReadHeadAsync(30_000);

        Assert.StartsWith("HTTP/1.1 404 ", first);
        Assert.StartsWith("HTTP/1.1 404 ", second);
        Assert.Contains("550", first); // the FTP server's answer is in Proxy-Status's details
        Assert.StartsWith("404 Not Found: ", Encoding.UTF8.GetString(firstBody));
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("none.bin"), "the second 404's line");
        Assert.Contains(" TCP_MISS/404 ", line);
    }

    [Fact]
    public async Task Without_EPSV_the_gateway_falls_back_to_PASV()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { NoEpsv = true });
        byte[] content = server.WriteFile("f.bin", 200_000);
        await using TestProxy proxy = await StartProxyAsync();
        string file = Path.Combine(_temp, "f.bin");

        (int code, string output) = await CurlAsync(proxy, "-o", file, $"ftp://{Host}:{server.Port}/f.bin");

        Assert.True(code == 0, output + server.Output);
        Assert.Equal(content, await File.ReadAllBytesAsync(file));
        Assert.Contains("PASV", server.Output);
    }

    [Fact]
    public async Task A_227_naming_another_address_is_not_dialled_the_data_goes_to_the_control_address()
    {
        // 192.0.2.1 (TEST-NET-1) is never connected to: the data connection goes to the control connection's 127.0.0.1.
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { NoEpsv = true, PassiveAddress = "192.0.2.1" });
        byte[] content = server.WriteFile("f.bin", 300_000);
        await using TestProxy proxy = await StartProxyAsync();
        string file = Path.Combine(_temp, "f.bin");

        (int code, string output) = await CurlAsync(proxy, "-o", file, $"ftp://{Host}:{server.Port}/f.bin");

        Assert.True(code == 0, output + server.Output);
        Assert.Equal(content, await File.ReadAllBytesAsync(file));
        Assert.Contains("192,0,2,1", server.Output);
    }

    [Fact]
    public async Task Other_methods_get_405_with_allow()
    {
        await using TestProxy proxy = await StartProxyAsync();

        (string head, _) = await RawAsync(proxy, $"DELETE ftp://{Host}/x.bin HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 405 ", head);
        Assert.Contains("\r\nAllow: GET, HEAD, PUT\r\n", head);
    }

    private static int ContentLength(string head) =>
        int.Parse(System.Text.RegularExpressions.Regex.Match(head, @"\r\nContent-Length: (\d+)\r\n").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
}
