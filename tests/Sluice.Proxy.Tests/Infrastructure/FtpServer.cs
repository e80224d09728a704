using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>How the test's FTP server behaves.</summary>
public sealed record FtpServerOptions
{
    /// <summary>Users with full rights on the root (name, password).</summary>
    public IReadOnlyList<(string Name, string Password)> Users { get; init; } = [];

    /// <summary>Anonymous logins (user <c>anonymous</c> or <c>ftp</c>) may read the root.</summary>
    public bool Anonymous { get; init; } = true;

    /// <summary>The address the server names in its 227 replies instead of its own (pyftpdlib's masquerade_address).</summary>
    public string? PassiveAddress { get; init; }

    /// <summary>The server does not understand EPSV (500), so clients fall back to PASV.</summary>
    public bool NoEpsv { get; init; }

    /// <summary>The server does not understand MLSD or MLST (and FEAT does not list MLST), so listings are LIST.</summary>
    public bool NoMlsd { get; init; }

    /// <summary>The server offers AUTH TLS (explicit FTPS) with a certificate made for the test; plain FTP still works.</summary>
    public bool Tls { get; init; }
}

/// <summary>
/// A real FTP server on 127.0.0.1 for the test: Debian's pyftpdlib run by Debian's python3, serving a fresh temporary
/// directory (<see cref="Root"/>), passive data ports on 127.0.0.1 chosen by the server. Its log (every command it
/// received and every reply) is in <see cref="Output"/>. Dispose kills it and deletes the directory.
/// </summary>
public sealed partial class FtpServer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";

    // Written to the temporary directory at each start; nothing here is installed or committed as a separate file.
    private const string Script = """
        import argparse, logging, sys
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        p = argparse.ArgumentParser()
        p.add_argument('--root', required=True)
        p.add_argument('--user', action='append', default=[])
        p.add_argument('--anonymous', action='store_true')
        p.add_argument('--masquerade')
        p.add_argument('--no-epsv', action='store_true')
        p.add_argument('--no-mlsd', action='store_true')
        p.add_argument('--tls-cert')
        p.add_argument('--tls-key')
        a = p.parse_args()

        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format='ftpd %(message)s')
        auth = DummyAuthorizer()
        for u in a.user:
            name, password = u.split(':', 1)
            auth.add_user(name, password, a.root, perm='elradfmwMT')
        if a.anonymous:
            auth.add_anonymous(a.root)

        base = FTPHandler
        if a.tls_cert:
            from pyftpdlib.handlers import TLS_FTPHandler
            base = TLS_FTPHandler

        class Handler(base):
            pass

        Handler.authorizer = auth
        Handler.banner = 'sluice test ftpd ready'
        if a.tls_cert:
            Handler.certfile = a.tls_cert
            Handler.keyfile = a.tls_key
        if a.masquerade:
            Handler.masquerade_address = a.masquerade
        commands = dict(Handler.proto_cmds)
        if a.no_epsv:
            commands.pop('EPSV', None)
        if a.no_mlsd:
            commands.pop('MLSD', None)
            commands.pop('MLST', None)
        Handler.proto_cmds = commands

        server = FTPServer(('127.0.0.1', 0), Handler)
        print('listening on port', server.address[1], flush=True)
        server.serve_forever()
        """;

    private readonly ParentProcess _process;
    private readonly string _directory;

    private FtpServer(ParentProcess process, string directory, string root, int port)
    {
        _process = process;
        _directory = directory;
        Root = root;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The directory the server serves; tests put files here and read uploads back.</summary>
    public string Root { get; }

    /// <summary>What the server logged: the commands it received and its replies.</summary>
    public string Output => _process.Output;

    public static async Task<FtpServer> StartAsync(FtpServerOptions? options = null)
    {
        options ??= new FtpServerOptions();
        string python = RequirePyftpdlib();
        string directory = ParentProcess.CreateDirectory("sluice-ftpd-");
        string root = Path.Combine(directory, "root");
        Directory.CreateDirectory(root);
        string script = Path.Combine(directory, "ftpd.py");
        await File.WriteAllTextAsync(script, Script);
        var arguments = new List<string> { "-u", script, "--root", root };
        foreach ((string name, string password) in options.Users)
        {
            arguments.AddRange(["--user", $"{name}:{password}"]);
        }

        if (options.Anonymous)
        {
            arguments.Add("--anonymous");
        }

        if (options.PassiveAddress is { } masquerade)
        {
            arguments.AddRange(["--masquerade", masquerade]);
        }

        if (options.NoEpsv)
        {
            arguments.Add("--no-epsv");
        }

        if (options.NoMlsd)
        {
            arguments.Add("--no-mlsd");
        }

        if (options.Tls)
        {
            (string cert, string key) = WriteCertificate(directory);
            arguments.AddRange(["--tls-cert", cert, "--tls-key", key]);
        }

        ParentProcess process = ParentProcess.Start(python, arguments, directory);
        int port = 0;
        await process.WaitUntilReadyAsync(0, () => (port = PortOf(process.Output)) > 0, () => false, TimeSpan.FromSeconds(20), () => process.Output);
        return new FtpServer(process, directory, root, port);
    }

    /// <summary>Writes a file of <paramref name="length"/> pseudo-random bytes (seeded: the same every run) under the root.</summary>
    public byte[] WriteFile(string relativePath, int length, int seed = 1)
    {
        byte[] content = new byte[length];
        new Random(seed).NextBytes(content);
        string path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return content;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.StopAsync();
        ParentProcess.DeleteDirectory(_directory);
    }

    private static string RequirePyftpdlib()
    {
        string python = ParentProcess.RequireBinary("python3", Python);
        var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(python, ["-c", "import pyftpdlib"])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        check.WaitForExit();
        if (check.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException(
                "pyftpdlib is not installed for /usr/bin/python3. The FTP tests run a real FTP server: install it with "
                + "`apt-get install -y python3-pyftpdlib python3-openssl` (.ci/run installs both).");
        }

        return python;
    }

    // A certificate made here for this run only, as PEM files pyOpenSSL reads; the key never leaves the temp directory.
    private static (string Certificate, string Key) WriteCertificate(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(2));
        string certPath = Path.Combine(directory, "ftpd.crt");
        string keyPath = Path.Combine(directory, "ftpd.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    private static int PortOf(string output) =>
        ListeningLine().Match(output) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex(@"listening on port (\d+)")]
    private static partial Regex ListeningLine();
}
