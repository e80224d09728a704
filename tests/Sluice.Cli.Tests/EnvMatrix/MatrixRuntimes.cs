using Sluice.Client.Export;

namespace Sluice.Cli.Tests.EnvMatrix;

/// <summary>
/// One column of the matrix: a real client, the <c>sluice env</c> format it is configured with, how its version is
/// asked, and the shell that runs it for one case inside the namespace (in the case's folder, where
/// <c>FORMAT.lines</c> holds the exact output of <c>sluice env --format FORMAT</c>, with <c>HOME</c> its own).
/// </summary>
/// <param name="Key">The URL path token and output file name.</param>
/// <param name="Label">The column's name, with {0} where the version found goes.</param>
/// <param name="Program">What must be on PATH (the test fails, naming it, when it is not).</param>
/// <param name="Command">The case's shell, given the case's URLs of a column (by key) as quoted shell words; null when
/// another column's process makes this column's requests too (one interpreter start per case instead of two).</param>
/// <param name="Finish">Shell run once after every case (the one JVM), or null.</param>
internal sealed record MatrixRuntime(string Key, string Label, string Format, ClientRuntime Client, string Program, string Version, Func<Func<string, string>, string?> Command, string? Finish = null);

internal static class MatrixRuntimes
{
    public static IReadOnlyList<MatrixRuntime> All { get; } =
    [
        new("curl", "curl {0}", "sh", ClientRuntime.Curl, "curl", "curl --version | head -n1 | cut -d' ' -f2",
            urls => $". ./sh.lines; for u in {urls("curl")}; do curl -g -s -o /dev/null --max-time 10 \"$u\"; done"),
        new("wget", "wget {0}", "sh", ClientRuntime.Wget, "wget", "wget --version | head -n1 | cut -d' ' -f3",
            urls => $". ./sh.lines; for u in {urls("wget")}; do wget -q -O /dev/null -T 10 -t 1 \"$u\"; done"),
        new("urllib", "Python {0} urllib", "python", ClientRuntime.PythonUrllib, "python3", "python3 --version | cut -d' ' -f2",
            urls => $". ./python.lines; \"$PY\" \"$CLIENTS/python_client.py\" {urls("urllib")} -- {urls("requests")}"),
        new("requests", "requests {0}", "python", ClientRuntime.PythonRequests, "python3", "python3 -c 'import requests; print(requests.__version__)'",
            _ => null),
        new("fetch", "Node {0} fetch", "node", ClientRuntime.NodeFetch, "node", "node --version | tr -d v",
            _ => null),
        new("npm", "npm {0}", "node", ClientRuntime.Npm, "npm", "npm --version",
            urls => $". ./node.lines; node \"$CLIENTS/node_client.js\" {urls("fetch")} -- {urls("npm")}"),
        new("java-url", "Java {0} HttpURLConnection", "java", ClientRuntime.Java, "java", "java -version 2>&1 | head -n1 | cut -d'\"' -f2",
            urls => $". ./java.lines; printf '%s\\n' \"$JAVA_TOOL_OPTIONS\" > java.options; echo \"$PWD/java.options\" {urls("java-url")} >> \"$LAB/java-url.manifest\"",
            "unset JAVA_TOOL_OPTIONS; java \"$CLIENTS/JavaClient.java\" \"$LAB/java-url.manifest\" url"),
        new("java-http", "Java {0} HttpClient", "java", ClientRuntime.Java, "java", "java -version 2>&1 | head -n1 | cut -d'\"' -f2",
            urls => $". ./java.lines; printf '%s\\n' \"$JAVA_TOOL_OPTIONS\" > java.options; echo \"$PWD/java.options\" {urls("java-http")} >> \"$LAB/java-http.manifest\"",
            "unset JAVA_TOOL_OPTIONS; java \"$CLIENTS/JavaClient.java\" \"$LAB/java-http.manifest\" http"),
        new("git", "git {0}", "git", ClientRuntime.Git, "git", "git --version | cut -d' ' -f3",
            urls => $". ./git.lines; for u in {urls("git")}; do git ls-remote \"$u\" >/dev/null 2>&1; done"),
        new("dotnet", ".NET {0} HttpClient", "sh", ClientRuntime.DotNet, "dotnet", "dotnet --list-runtimes | grep Microsoft.NETCore.App | tail -n1 | cut -d' ' -f2",
            urls => $". ./sh.lines; dotnet \"{DotnetClientPath}\" {urls("dotnet")}"),
        new("apt", "apt {0}", "apt", ClientRuntime.Apt, "apt-get", "apt-get --version | head -n1 | cut -d' ' -f2",
            urls => "{ printf 'Dir::Etc::parts \"/nonexistent\";\\nDir::Etc::main \"/dev/null\";\\nDir::Etc::SourceList \"%s/sources.list\";\\nDir::Etc::SourceParts \"/nonexistent\";\\nDir::State \"%s/state\";\\nDir::Cache \"%s/cache\";\\nDebug::NoLocking \"true\";\\nAPT::Sandbox::User \"root\";\\nAcquire::Retries \"0\";\\nAcquire::http::Timeout \"10\";\\n' \"$HOME\" \"$HOME\" \"$HOME\"; cat ./apt.lines; } > \"$HOME/apt.conf\"; "
                + $"mkdir -p \"$HOME/state/lists/partial\" \"$HOME/cache/archives/partial\"; for u in {urls("apt")}; do echo \"deb [trusted=yes] $u stable main\"; done > \"$HOME/sources.list\"; APT_CONFIG=\"$HOME/apt.conf\" apt-get -qq update"),
    ];

    /// <summary>Where the .NET column's helper is: built with the tests (a project reference), beside them.</summary>
    public static string DotnetClientPath => Path.Combine(AppContext.BaseDirectory, "EnvMatrixDotnetClient.dll");
}
