using System.Diagnostics;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>The test FTP server itself, driven by curl directly (no proxy): what the FTP tests rely on it doing.</summary>
public sealed class FtpServerFixtureTests
{
    [Fact]
    public async Task The_server_serves_a_file_byte_exact_in_passive_mode_and_takes_an_upload()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Users = [("etl", "s3cret")] });
        byte[] content = server.WriteFile("data/file.bin", 300_000);
        string download = Path.Combine(Path.GetTempPath(), $"ftp-{Guid.NewGuid():N}");
        string upload = Path.Combine(Path.GetTempPath(), $"ftp-{Guid.NewGuid():N}");
        try
        {
            (int code, string output) = await CurlAsync("-sS", "--ftp-pasv", "-o", download, $"ftp://127.0.0.1:{server.Port}/data/file.bin");
            Assert.True(code == 0, output + server.Output);
            Assert.Equal(content, await File.ReadAllBytesAsync(download));

            await File.WriteAllBytesAsync(upload, content[..1000]);
            (code, output) = await CurlAsync("-sS", "--ftp-pasv", "-u", "etl:s3cret", "-T", upload, $"ftp://127.0.0.1:{server.Port}/data/up.bin");
            Assert.True(code == 0, output + server.Output);
            Assert.Equal(content[..1000], await File.ReadAllBytesAsync(Path.Combine(server.Root, "data", "up.bin")));
            Assert.Contains("EPSV", server.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(download);
            File.Delete(upload);
        }
    }

    [Fact]
    public async Task Without_EPSV_the_server_answers_PASV_with_the_address_it_is_told_to_name()
    {
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { NoEpsv = true, PassiveAddress = "127.0.0.1", NoMlsd = true });
        server.WriteFile("a.txt", 10);
        (int code, string output) = await CurlAsync("-sS", "--ftp-pasv", "-l", $"ftp://127.0.0.1:{server.Port}/");
        Assert.True(code == 0, output + server.Output);
        Assert.Contains("a.txt", output, StringComparison.Ordinal);
        Assert.Contains("227", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_TLS_the_server_accepts_AUTH_TLS()
    {
        // Python's ftplib, not curl: curl 7.88.1 loses the EPSV reply on pyftpdlib's TLS control connection.
        await using FtpServer server = await FtpServer.StartAsync(new FtpServerOptions { Tls = true });
        server.WriteFile("a.txt", 10);
        (int code, string output) = await RunAsync("python3", "-c",
            "import ftplib, ssl, sys\n"
            + "c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n"
            + $"f = ftplib.FTP_TLS(context=c); f.connect('127.0.0.1', {server.Port}, timeout=20); f.login(); f.prot_p()\n"
            + "print(f.nlst())\n");
        Assert.True(code == 0, output + server.Output);
        Assert.Contains("a.txt", output, StringComparison.Ordinal);
        Assert.Contains("AUTH TLS", server.Output, StringComparison.Ordinal);
    }

    private static Task<(int Code, string Output)> CurlAsync(params string[] arguments) => RunAsync("curl", ["--max-time", "20", .. arguments]);

    private static async Task<(int Code, string Output)> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
