using System.Diagnostics;
using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Ftp;

/// <summary>What the FTP gateway tests share: the proxy with ftp.test on loopback, and real clients (curl, wget).</summary>
internal static class FtpGatewayKit
{
    public const string Host = "ftp.test";

    public static async Task<TestProxy> StartProxyAsync(Func<SluiceConfig, SluiceConfig>? configure = null)
    {
        TestProxy proxy = await TestProxy.StartAsync(configure);
        proxy.Resolver.Map(Host, IPAddress.Loopback);
        return proxy;
    }

    public static string ProxyArg(TestProxy proxy) => $"http://127.0.0.1:{proxy.Endpoint.Port}";

    /// <summary>curl with the proxy and without -p: it sends GET ftp://... to the proxy (the gateway, not a tunnel).</summary>
    public static Task<(int Code, string Output)> CurlAsync(TestProxy proxy, params string[] arguments) =>
        RunAsync("curl", [], ["--max-time", "60", "-sS", "-x", ProxyArg(proxy), .. arguments]);

    public static Task<(int Code, string Output)> WgetAsync(TestProxy proxy, params string[] arguments) =>
        RunAsync("wget", [("ftp_proxy", ProxyArg(proxy)), ("no_proxy", "")], ["--tries=1", "--timeout=60", .. arguments]);

    public static async Task<(int Code, string Output)> RunAsync(string program, (string Name, string Value)[] environment, string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>One raw request to the proxy; the response head and what followed it until the proxy closed.</summary>
    public static async Task<(string Head, byte[] Body)> RawAsync(TestProxy proxy, string request)
    {
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(request);
        string head = await client.ReadHeadAsync(30_000);
        return (head, await client.ReadToEndAsync(30_000));
    }
}
