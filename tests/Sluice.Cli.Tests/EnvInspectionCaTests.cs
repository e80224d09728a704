using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Cli.Commands;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// Real runtimes configured only by <c>sluice env --inspection-ca</c> output, through the real proxy on loopback,
/// which inspects the first of three HTTPS origins on 127.0.0.1 (it validates that origin against its own upstreamCa
/// and shows the client a certificate it mints with the inspection CA), and tunnels the others untouched: one with a
/// certificate from a CA standing for the system roots (<c>--system-roots</c>: a public origin), one from an
/// unrelated CA. With the emitted settings each runtime trusts the first, keeps trusting what
/// its roots trust, and still refuses the third; without them it refuses the first with a certificate error. No
/// machine trust store is touched; the system format runs in a mount namespace of its own.
/// </summary>
public sealed class EnvInspectionCaTests : IAsyncLifetime, IDisposable
{
    private static readonly string[] Inherited =
    [
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "REQUEST_METHOD",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "NODE_USE_ENV_PROXY",
        "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_PROXY_COMMAND",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "NIX_SSL_CERT_FILE", "AWS_CA_BUNDLE", "HTTPLIB2_CA_CERTS", "SLUICE_INSPECTION_CA",
    ];

    private static readonly string[] TrustedByTheBundle = ["OK", "OK", "CERT"];

    private static readonly string[] TrustedWithOwnRoots = ["OK", "CERT", "CERT"];

    private static readonly string[] Refused = ["CERT", "CERT", "CERT"];

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-env-inspection-").FullName;
    private readonly TestPki _inspectionCa = new("Inspecting proxy CA");
    private readonly TestPki _inspectedOriginCa = new("Inspected origin's CA");
    private readonly TestPki _publicRoot = new("Public root CA");
    private readonly TestPki _otherCa = new("Unrelated CA");
    private readonly List<TestOrigin> _origins = [];
    private TestProxy _proxy = null!;

    private string Bundle => Path.Combine(_dir, "inspection-bundle.pem");

    /// <summary>The inspected origin, the public one, the unrelated one.</summary>
    private string[] Urls => _origins.Select(o => $"https://127.0.0.1:{o.Port}/hello").ToArray();

    public async Task InitializeAsync()
    {
        foreach (TestPki ca in (TestPki[])[_inspectedOriginCa, _publicRoot, _otherCa])
        {
            (string cert, string key, _) = ca.Server($"origin-{_origins.Count}"); // for 127.0.0.1, ::1 and localhost
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(cert, key);
            _origins.Add(await TestOrigin.StartAsync(issued: X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)));
        }

        // The first origin is inspected: the proxy mints its certificate with the inspection CA the settings trust.
        var inspected = new Policy.Rules.Rule
        {
            Name = "inspected-origin",
            Action = Policy.Rules.RuleAction.Allow,
            Destinations = [Policy.Rules.DestinationPattern.TryParse($"127.0.0.1:{_origins[0].Port}", out var pattern, out _) ? pattern : throw new InvalidOperationException()],
            Tls = Policy.Rules.TlsMode.Inspect,
        };
        _proxy = await TestProxy.StartAsync(c => c with
        {
            Inspection = new Policy.Config.InspectionConfig { Ca = _inspectionCa.CaPath, Key = _inspectionCa.CaKeyPath, UpstreamCa = _inspectedOriginCa.CaPath },
            Rules = [inspected],
        });
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        foreach (TestOrigin origin in _origins)
        {
            await origin.DisposeAsync();
        }
    }

    public void Dispose()
    {
        _inspectionCa.Dispose();
        _inspectedOriginCa.Dispose();
        _publicRoot.Dispose();
        _otherCa.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Curl_with_the_sh_environment()
    {
        Require("curl");
        const string check = """
            for u in "$@"; do
              out=$(curl -sS --max-time 10 -o /dev/null "$u" 2>&1); rc=$?
              case $rc in 0) echo OK ;; 60) echo CERT ;; *) echo "ERR $rc $out" ;; esac
            done
            """;
        Assert.Equal(TrustedByTheBundle, await OutcomesAsync(Env("sh", trust: true), check));
        await AssertThroughTheProxyAsync("curl");
        Assert.Equal(Refused, await OutcomesAsync(Env("sh", trust: false), check));
    }

    [Fact]
    public async Task Python_urllib_with_the_python_environment()
    {
        Require("python3");
        string check = Python("""
            import ssl, sys, urllib.request
            for u in sys.argv[1:]:
                try:
                    urllib.request.urlopen(u, timeout=10).read()
                    print("OK")
                except Exception as e:
                    print("CERT" if isinstance(getattr(e, "reason", e), ssl.SSLCertVerificationError) else f"ERR {e!r}")
            """);
        Assert.Equal(TrustedByTheBundle, await OutcomesAsync(Env("python", trust: true), check));
        await AssertThroughTheProxyAsync("urllib");
        Assert.Equal(Refused, await OutcomesAsync(Env("python", trust: false), check));
    }

    [FactWhen(Probe.PythonRequests)]
    public async Task Python_requests_with_the_python_environment()
    {
        string check = Python("""
            import sys, requests
            for u in sys.argv[1:]:
                try:
                    requests.get(u, timeout=10)
                    print("OK")
                except requests.exceptions.SSLError as e:
                    print("CERT" if "CERTIFICATE_VERIFY_FAILED" in str(e) else f"ERR {e!r}")
                except Exception as e:
                    print(f"ERR {e!r}")
            """);
        Assert.Equal(TrustedByTheBundle, await OutcomesAsync(Env("python", trust: true), check));
        await AssertThroughTheProxyAsync("requests");

        // requests from pip trusts certifi's roots, not the system's: REQUESTS_CA_BUNDLE is what changes that.
        Assert.Equal(Refused, await OutcomesAsync(Env("python", trust: false), check));
    }

    [FactWhen(Probe.Node)]
    public async Task Node_https_get_with_the_node_environment()
    {
        // Node 20 has no proxy support of its own: the script opens the CONNECT tunnel itself (to HTTPS_PROXY, as the
        // settings say), then TLS over it with Node's roots and NODE_EXTRA_CA_CERTS.
        File.WriteAllText(Path.Combine(_dir, "fetch.js"), """
            const http = require('http'), tls = require('tls');
            const certificateErrors = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED']);
            const proxy = new URL(process.env.HTTPS_PROXY || process.env.https_proxy);
            const get = url => new Promise(done => {
              const u = new URL(url);
              const connect = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: `${u.hostname}:${u.port}`, timeout: 10000 });
              connect.on('connect', (answer, socket) => {
                if (answer.statusCode !== 200) { socket.destroy(); return done(`ERR CONNECT ${answer.statusCode}`); }
                const secure = tls.connect({ socket, host: u.hostname, ALPNProtocols: ['http/1.1'] }, () => {
                  secure.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
                });
                secure.once('data', () => { secure.destroy(); done('OK'); });
                secure.on('error', e => done(certificateErrors.has(e.code) ? 'CERT' : `ERR ${e.code} ${e.message}`));
              });
              connect.on('error', e => done(`ERR ${e.code} ${e.message}`));
              connect.end();
            });
            (async () => { for (const url of process.argv.slice(2)) console.log(await get(url)); })();
            """);

        // NODE_EXTRA_CA_CERTS adds the CA to Node's own roots: the public root of --system-roots is not one of them.
        string[] node = Env("node", trust: true).TakeWhile(l => !l.StartsWith("cat >> ~/.npmrc", StringComparison.Ordinal)).ToArray();
        Assert.Contains($"export NODE_EXTRA_CA_CERTS='{_inspectionCa.CaPath}'", node);
        Assert.Equal(TrustedWithOwnRoots, await OutcomesAsync(node, $"node fetch.js \"$@\""));
        await AssertThroughTheProxyAsync("Node");
        string[] without = Env("node", trust: false).TakeWhile(l => !l.StartsWith("cat >> ~/.npmrc", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Refused, await OutcomesAsync(without, $"node fetch.js \"$@\""));
    }

    [Fact]
    public async Task Java_with_the_trust_store_the_java_lines_build()
    {
        Require("java");
        Require("keytool");
        File.WriteAllText(Path.Combine(_dir, "Fetch.java"), """
            import java.net.HttpURLConnection;
            import java.net.URL;
            import java.security.KeyStore;
            import javax.net.ssl.SSLHandshakeException;
            import javax.net.ssl.TrustManagerFactory;
            import javax.net.ssl.X509TrustManager;

            public class Fetch {
                public static void main(String[] args) throws Exception {
                    TrustManagerFactory roots = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                    roots.init((KeyStore) null);
                    System.out.println("ROOTS " + ((X509TrustManager) roots.getTrustManagers()[0]).getAcceptedIssuers().length);
                    for (String u : args) {
                        try {
                            HttpURLConnection c = (HttpURLConnection) new URL(u).openConnection();
                            c.setConnectTimeout(10000);
                            c.setReadTimeout(10000);
                            c.getResponseCode();
                            System.out.println("OK");
                        } catch (SSLHandshakeException e) {
                            System.out.println(String.valueOf(e.getMessage()).contains("PKIX path building failed") ? "CERT" : "ERR " + e);
                        } catch (Exception e) {
                            System.out.println("ERR " + e);
                        }
                    }
                }
            }
            """);
        string[] with = await OutcomesAsync(Env("java", trust: true), "java Fetch.java \"$@\"", TimeSpan.FromSeconds(180));
        string[] without = await OutcomesAsync(Env("java", trust: false), "java Fetch.java \"$@\"", TimeSpan.FromSeconds(180));
        Assert.Equal(TrustedWithOwnRoots, with[1..]);
        Assert.Equal(Refused, without[1..]);
        await AssertThroughTheProxyAsync("Java");

        // The store is the JDK's roots plus the CA: nothing the JDK trusted is lost.
        int Roots(string[] outcome) => int.Parse(outcome[0]["ROOTS ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Roots(without) > 50, $"the JDK's own store has only {Roots(without)} roots");
        Assert.Equal(Roots(without) + 1, Roots(with));
    }

    [Fact]
    public async Task Git_with_http_sslCAInfo_fails_on_http_not_on_tls()
    {
        string git = Require("git");
        var args = new List<string>();
        foreach (string line in Env("git", trust: true))
        {
            string[] words = line.Split(' ', 5);
            Assert.Equal(["git", "config", "--global"], words[..3]);
            args.AddRange(["-c", $"{words[3].Trim('\'')}={words[4].Trim('\'')}"]);
        }

        Assert.Contains($"http.sslCAInfo={Bundle}", args);
        var with = new List<string>();
        var without = new List<string>();
        foreach (string url in Urls)
        {
            with.Add(GitOutcome(await RunAsync(git, [.. args, "ls-remote", url + "/x"])));
            without.Add(GitOutcome(await RunAsync(git, ["-c", $"http.proxy={_proxy.Uri}", "ls-remote", url + "/x"])));
        }

        Assert.True(TrustedByTheBundle.SequenceEqual(with), string.Join("\n", with));
        await AssertThroughTheProxyAsync("git");
        Assert.True(Refused.SequenceEqual(without), string.Join("\n", without));

        // The origin is no git server: a TLS connection that worked ends in git's HTTP error; one that did not, in
        // libcurl's certificate error (OpenSSL's wording, or GnuTLS's in Debian's git).
        static string GitOutcome((int Exit, string Output, string Errors) run) =>
            run.Exit == 0 ? "ERR git ls-remote succeeded against a plain web server"
            : run.Errors.Contains("SSL certificate problem", StringComparison.Ordinal) || run.Errors.Contains("server certificate verification failed", StringComparison.Ordinal) ? "CERT"
            : run.Errors.Contains("not found", StringComparison.Ordinal) || run.Errors.Contains("returned error: 404", StringComparison.Ordinal) ? "OK"
            : $"ERR {run.Errors.Trim()}";
    }

    [Fact]
    public async Task Dotnet_reads_SSL_CERT_FILE_from_the_dotenv_lines()
    {
        string project = Directory.CreateDirectory(Path.Combine(_dir, "fetch")).FullName;
        File.WriteAllText(Path.Combine(project, "Fetch.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Program.cs"), """
            using System.Security.Authentication;

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (string url in args)
            {
                try
                {
                    using HttpResponseMessage response = await http.GetAsync(url);
                    Console.WriteLine("OK");
                }
                catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.SecureConnectionError && e.InnerException is AuthenticationException)
                {
                    Console.WriteLine("CERT");
                }
                catch (Exception e)
                {
                    Console.WriteLine($"ERR {e.GetType().Name}: {e.Message}");
                }
            }
            """);

        // Built before any setting applies; .NET reads SSL_CERT_FILE once per process, so each run is a new process.
        (int built, string buildOutput, _) = await RunAsync("dotnet", ["build", project, "-o", Path.Combine(project, "out"), "-nologo", "-v", "q"], TimeSpan.FromSeconds(300), keepHome: true);
        Assert.True(built == 0, $"the .NET client did not build: {buildOutput}");
        string run = $"dotnet {Quote(Path.Combine(project, "out", "Fetch.dll"))} \"$@\"";
        string[] dotenv = Env("dotenv", trust: true);
        Assert.Contains($"SSL_CERT_FILE={Bundle}", dotenv);
        string[] exported = dotenv.Select(l => "export " + l).ToArray();
        Assert.Equal(TrustedByTheBundle, await OutcomesAsync(exported, run, keepHome: true));
        await AssertThroughTheProxyAsync(".NET");
        Assert.Equal(Refused, await OutcomesAsync(Env("dotenv", trust: false).Select(l => "export " + l), run, keepHome: true));
    }

    [FactWhen(Probe.MountNamespace)]
    public async Task The_system_lines_install_the_ca_where_update_ca_certificates_finds_it_in_a_namespace_of_our_own()
    {
        Require("curl");
        Require("update-ca-certificates");
        string script = Path.Combine(_dir, "system.sh");
        File.WriteAllLines(script, Env("system", trust: true));
        string before = Sha256("/etc/ssl/certs/ca-certificates.crt");

        // Copies of the trust store and /etc/environment, mounted over the real ones in a mount namespace that ends
        // with this shell; no hook (the JDK's keystore is not rebuilt).
        string ns = Directory.CreateDirectory(Path.Combine(_dir, "ns")).FullName;
        string shell = $"""
            set -e
            mkdir -p {ns}/certs {ns}/local {ns}/hooks
            cp -a /etc/ssl/certs/. {ns}/certs/
            cp -a /usr/local/share/ca-certificates/. {ns}/local/
            : > {ns}/environment
            mount --bind {ns}/certs /etc/ssl/certs
            mount --bind {ns}/local /usr/local/share/ca-certificates
            mount --bind {ns}/hooks /etc/ca-certificates/update.d
            mount --bind {ns}/environment /etc/environment
            sh {script} >/dev/null
            set +e
            set -a; . /etc/environment; set +a
            for u in "$@"; do
              out=$(curl -sS --max-time 10 -o /dev/null "$u" 2>&1); rc=$?
              case $rc in 0) echo OK ;; 60) echo CERT ;; *) echo "ERR $rc $out" ;; esac
            done
            """;
        (int exit, string output, string errors) = await RunAsync("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", shell, "sh", .. Urls]);
        Assert.True(exit == 0, $"the namespace run failed ({exit}): {errors}");

        // The system's roots (copied) and the inspecting proxy's CA: the test's public root is in neither.
        Assert.Equal(TrustedWithOwnRoots, output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        await AssertThroughTheProxyAsync("curl after /etc/environment");
        Assert.True(File.Exists(Path.Combine(ns, "local", "sluice-inspection-ca.crt")));
        Assert.Contains($"https_proxy={_proxy.Uri.ToString().TrimEnd('/')}", File.ReadAllText(Path.Combine(ns, "environment")), StringComparison.Ordinal);

        // The machine's own store is as it was.
        Assert.Equal(before, Sha256("/etc/ssl/certs/ca-certificates.crt"));
        Assert.False(File.Exists("/usr/local/share/ca-certificates/sluice-inspection-ca.crt"));
    }

    // The request itself in the log, as the proxy read it inside the tunnel: the runtime trusted the minted certificate.
    private async Task AssertThroughTheProxyAsync(string who) =>
        await _proxy.AccessLog.WaitForAsync(l => l.Contains("TCP_MISS/", StringComparison.Ordinal) && l.Contains($" https://127.0.0.1:{_origins[0].Port}/hello", StringComparison.Ordinal), $"for {who}'s request inside the inspected tunnel");

    private string[] Env(string format, bool trust)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var request = new EnvCommand.EnvRequest(format, _proxy.Uri.ToString());
        if (trust)
        {
            request = request with { InspectionCa = new FileInfo(_inspectionCa.CaPath), BundleOut = new FileInfo(Bundle), SystemRoots = new FileInfo(_publicRoot.CaPath) };
        }

        int exit = EnvCommand.Run(request, output, errors);
        Assert.True(exit == 0, $"sluice env --format {format} failed: {errors}");
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    }

    /// <summary>
    /// The settings, then the check, in one shell with the URLs as its arguments; one outcome per line (OK, CERT for a
    /// certificate error, ERR with what else went wrong), whatever else the settings' commands print.
    /// </summary>
    private async Task<string[]> OutcomesAsync(IEnumerable<string> settings, string check, TimeSpan? timeout = null, bool keepHome = false)
    {
        string script = string.Join("\n", settings) + "\n" + check + "\n";
        (int exit, string output, string errors) = await RunAsync("/bin/sh", ["-c", script, "sh", .. Urls], timeout, keepHome);
        Assert.True(exit == 0, $"the check failed ({exit}): {errors}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())
            .Where(l => l is "OK" or "CERT" || l.StartsWith("ERR ", StringComparison.Ordinal) || l.StartsWith("ROOTS ", StringComparison.Ordinal))
            .ToArray();
    }

    private static string Python(string program) => $"python3 -c {Quote(program)} \"$@\"";

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static string Require(string program) =>
        Programs.Find(program) ?? throw new Xunit.Sdk.XunitException($"{program} is not installed on this machine (not on PATH): this real-client test needs it");

    /// <summary>A program with none of the machine's proxy or CA variables, in the test's folder, bounded by a timeout.</summary>
    private async Task<(int Exit, string Output, string Errors)> RunAsync(string program, IReadOnlyList<string> args, TimeSpan? timeout = null, bool keepHome = false)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (string name in Inherited)
        {
            info.Environment.Remove(name);
        }

        if (!keepHome)
        {
            info.Environment["HOME"] = _dir; // no ~/.gitconfig, ~/.curlrc or ~/.npmrc takes part
        }

        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_TERMINAL_PROMPT"] = "0";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(90);
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish within {limit.TotalSeconds} s; stderr: {await errors}");
        }

        return (process.ExitCode, (await output).Replace("\r\n", "\n", StringComparison.Ordinal), await errors);
    }
}

/// <summary>What a real-runtime test needs of this machine beyond what .ci/run installs.</summary>
public enum Probe
{
    /// <summary>python3 with the requests package (Debian: python3-requests).</summary>
    PythonRequests,

    /// <summary>node (Debian: nodejs).</summary>
    Node,

    /// <summary>A private mount namespace (unshare -m), which needs root or CAP_SYS_ADMIN.</summary>
    MountNamespace,
}

/// <summary>A test skipped, with the reason, when the machine lacks what it runs (probed once, at discovery).</summary>
public sealed class FactWhenAttribute : FactAttribute
{
    public FactWhenAttribute(Probe probe)
    {
        string? missing = probe switch
        {
            Probe.PythonRequests => Runs("python3", "-c", "import requests") ? null : "python3 cannot import requests here (Debian: apt-get install python3-requests)",
            Probe.Node => Runs("node", "--version") ? null : "node is not installed here (Debian: apt-get install nodejs)",
            _ => Runs("unshare", "-m", "--propagation", "private", "true") ? null : "no private mount namespace here (unshare -m needs root or CAP_SYS_ADMIN)",
        };
        if (missing is not null)
        {
            Skip = missing;
        }
    }

    private static bool Runs(string program, params string[] args)
    {
        if (Programs.Find(program) is not { } path)
        {
            return false;
        }

        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        return process.WaitForExit(30_000) && process.ExitCode == 0;
    }
}

internal static class Programs
{
    /// <summary>The program's path on PATH, or null.</summary>
    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
