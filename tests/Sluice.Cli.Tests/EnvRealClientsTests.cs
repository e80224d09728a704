using System.Diagnostics;
using System.Net;
using Sluice.Cli.Commands;
using Sluice.Client;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// Real clients configured only by <c>sluice env</c> output, against the real proxy on loopback: each reaches
/// origin.test (a name only the proxy resolves) through the proxy and the excluded localhost origin directly, proven
/// by the proxy's access log (a line for the proxied request, none for the excluded one).
/// </summary>
public sealed class EnvRealClientsTests : IAsyncLifetime, IDisposable
{
    private static readonly string[] ProxyVariables =
    [
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_USE_ENV_PROXY",
        "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_PROXY_COMMAND", "REQUEST_METHOD",
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-env-clients-").FullName;
    private TestOrigin _origin = null!;
    private TestProxy _proxy = null!;

    private string Proxied => $"http://origin.test:{_origin.Port}/hello";

    private string Excluded => $"http://localhost:{_origin.Port}/hello";

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync();
        _proxy = await TestProxy.StartAsync();
        _proxy.Resolver.Map("origin.test", IPAddress.Loopback);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Curl_with_the_sh_environment()
    {
        Require("curl");
        string[] sh = Env("sh", "localhost");
        (int exit, string output, string errors) = await RunAsync("/bin/sh", ["-c", Script(sh, $"curl -sS --max-time 10 {Excluded}", "echo", $"curl -sS --max-time 10 {Proxied}")]);
        Assert.True(exit == 0, $"curl failed ({exit}): {errors}");
        Assert.Equal("hello from origin\nhello from origin", output.Trim());
        await AssertProxiedNotExcludedAsync("localhost");
    }

    [Fact]
    public async Task Python_urllib_with_the_python_environment()
    {
        Require("python3");
        string[] python = Env("python", "localhost");
        const string fetch = "import sys, urllib.request\nfor u in sys.argv[1:]: print(urllib.request.urlopen(u, timeout=10).read().decode())";
        (int exit, string output, string errors) = await RunAsync("/bin/sh", ["-c", Script(python, $"python3 -c {Quote(fetch)} {Excluded} {Proxied}")]);
        Assert.True(exit == 0, $"python3 failed ({exit}): {errors}");
        Assert.Equal("hello from origin\nhello from origin", output.Trim());
        await AssertProxiedNotExcludedAsync("localhost");
    }

    [Fact]
    public async Task Java_with_JAVA_TOOL_OPTIONS()
    {
        Require("java");
        File.WriteAllText(Path.Combine(_dir, "Fetch.java"), """
            import java.net.HttpURLConnection;
            import java.net.URL;

            public class Fetch {
                public static void main(String[] args) throws Exception {
                    for (String u : args) {
                        HttpURLConnection c = (HttpURLConnection) new URL(u).openConnection();
                        c.setConnectTimeout(10000);
                        c.setReadTimeout(10000);
                        System.out.println(c.getResponseCode() + " " + new String(c.getInputStream().readAllBytes()));
                    }
                }
            }
            """);
        string[] java = Env("java", "localhost");

        // 127.0.0.1 is not excluded, but the JDK appends its loopback defaults to a non-empty list (the lint says so).
        string loopback = $"http://127.0.0.1:{_origin.Port}/hello";
        (int exit, string output, string errors) = await RunAsync("/bin/sh", ["-c", Script(java, $"java Fetch.java {Excluded} {Proxied} {loopback}")], TimeSpan.FromSeconds(120));
        Assert.True(exit == 0, $"java failed ({exit}): {errors}");
        Assert.Equal("200 hello from origin\n200 hello from origin\n200 hello from origin", output.Trim());
        await AssertProxiedNotExcludedAsync("localhost");
        Assert.DoesNotContain(_proxy.AccessLog.Lines, l => l.Contains($"127.0.0.1:{_origin.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Git_with_the_git_config_lines()
    {
        string git = Require("git");

        // git matches excluded URLs with their port, so the excluded entry carries it.
        string[] lines = Env("git", $"127.0.0.1:{_origin.Port}");
        var args = new List<string>();
        foreach (string line in lines)
        {
            string[] words = ShellWords(line);
            Assert.Equal(["git", "config", "--global"], words[..3]);
            args.Add("-c");
            args.Add($"{words[3]}={words[4]}");
        }

        int before = _origin.Connections;
        (int exit, _, string errors) = await RunAsync(git, [.. args, "ls-remote", $"http://127.0.0.1:{_origin.Port}/x"]);
        Assert.NotEqual(0, exit); // the origin is no git server: it answers 404
        Assert.True(_origin.Connections > before, $"git did not reach the excluded origin directly: {errors}");
        (exit, _, errors) = await RunAsync(git, [.. args, "ls-remote", $"http://origin.test:{_origin.Port}/x"]);
        Assert.NotEqual(0, exit);
        await _proxy.AccessLog.WaitForAsync(l => l.Contains($"http://origin.test:{_origin.Port}/x/info/refs", StringComparison.Ordinal), $"for git's request through the proxy (git said: {errors})");
        Assert.DoesNotContain(_proxy.AccessLog.Lines, l => l.Contains($"127.0.0.1:{_origin.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dotnet_with_ProxyEnvironment_from_the_dotenv_lines()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in Env("dotenv", "localhost"))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            variables[line[..equals]] = line[(equals + 1)..];
        }

        ProxySettings settings = ProxyEnvironment.ForHttp(name => variables.GetValueOrDefault(name))!;
        using var client = new HttpClient(ProxyHandlerFactory.Create(settings)) { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal("hello from origin", await client.GetStringAsync(new Uri(Excluded)));
        Assert.Equal("hello from origin", await client.GetStringAsync(new Uri(Proxied)));
        await AssertProxiedNotExcludedAsync("localhost");
    }

    private async Task AssertProxiedNotExcludedAsync(string excludedHost)
    {
        await _proxy.AccessLog.WaitForAsync(l => l.Contains($" http://origin.test:{_origin.Port}/hello ", StringComparison.Ordinal), "for the request to origin.test through the proxy");

        // The excluded request was made first: had it gone through the proxy, its line would be there by now.
        Assert.DoesNotContain(_proxy.AccessLog.Lines, l => l.Contains($"{excludedHost}:{_origin.Port}", StringComparison.Ordinal));
    }

    private string[] Env(string format, string noProxy)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = EnvCommand.Run(new EnvCommand.EnvRequest(format, _proxy.Uri.ToString(), NoProxy: [noProxy]), output, errors);
        Assert.True(exit == 0, $"sluice env --format {format} failed: {errors}");
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    }

    private static string Script(IEnumerable<string> settings, params string[] commands) => string.Join("\n", settings.Concat(commands)) + "\n";

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Words of a shell line as sluice env writes them: bare words and single-quoted strings.</summary>
    private static string[] ShellWords(string line)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        bool quoted = false, any = false;
        foreach (char c in line)
        {
            if (c == '\'')
            {
                quoted = !quoted;
                any = true;
            }
            else if (c == ' ' && !quoted)
            {
                if (any)
                {
                    words.Add(current.ToString());
                }

                current.Clear();
                any = false;
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        if (any)
        {
            words.Add(current.ToString());
        }

        return [.. words];
    }

    private static string Require(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string path = Path.Combine(dir, program);
            if (File.Exists(path))
            {
                return path;
            }
        }

        Assert.Fail($"{program} is not installed on this machine (not on PATH): this real-client test needs it");
        return null!;
    }

    /// <summary>Runs a program with no proxy variable inherited, bounded by a timeout.</summary>
    private async Task<(int Exit, string Output, string Errors)> RunAsync(string program, IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _dir,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (string name in ProxyVariables)
        {
            info.Environment.Remove(name);
        }

        info.Environment["HOME"] = _dir; // no user config (~/.gitconfig, ~/.curlrc, ~/.npmrc) takes part
        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_TERMINAL_PROMPT"] = "0";
        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds} s; stderr: {await errors}");
        }

        return (process.ExitCode, (await output).Replace("\r\n", "\n", StringComparison.Ordinal), await errors);
    }
}
