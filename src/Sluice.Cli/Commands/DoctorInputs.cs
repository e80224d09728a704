using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Client;
using Sluice.Client.Diagnostics;
using Sluice.Policy.Config;
using static Sluice.Cli.Commands.DoctorCommand;

namespace Sluice.Cli.Commands;

/// <summary><c>sluice doctor</c>'s inputs: targets from every source, the proxy and its credentials, the extra CA.</summary>
internal static class DoctorInputs
{
    public static bool TryBuild(DoctorRequest request, DoctorIo io, List<string> notes, out ProbeOptions? options, out List<ProbeTarget> targets, out SluiceConfig? policy, out string problem)
    {
        options = null;
        policy = null;
        targets = [];
        foreach (string text in request.Targets)
        {
            if (!ProbeTarget.TryParse(text, out ProbeTarget? target, out problem))
            {
                return false;
            }

            targets.Add(target!);
        }

        if (request.TargetsFile is not null && !DoctorTargets.TryReadFile(request.TargetsFile, targets, out problem))
        {
            return false;
        }

        if (request.FromPolicy is not null)
        {
            if (!DoctorTargets.TryFromPolicy(request.FromPolicy, targets, notes, out SluiceConfig config, out problem))
            {
                return false;
            }

            if (!IPAddress.TryParse(request.Client, out _))
            {
                problem = $"--client '{request.Client}' is not an IP address";
                return false;
            }

            policy = config;
        }
        else if (request.Parents)
        {
            problem = "--parents needs --from-policy: the parents are those of the policy's upstreams";
            return false;
        }

        targets = targets.DistinctBy(t => (t.Host, t.Port)).ToList();
        if (targets.Count == 0)
        {
            problem = request.FromPolicy is not null && request.Targets.Length == 0 && request.TargetsFile is null
                ? $"{request.FromPolicy} allows no exact host name to check"
                : "nothing to check: give TARGET (host:port or https://host), --targets FILE or --from-policy CONFIG";
            return false;
        }

        if (request.Parallel < 1 || request.Timeout <= 0 || double.IsNaN(request.Timeout) || request.Timeout > 3600)
        {
            problem = "--parallel must be at least 1 and --timeout between 0 and 3600 seconds";
            return false;
        }

        if (!TryProxy(request, io, out ProxySettings? proxy, out problem) || !TryCa(request.Ca, out X509Certificate2Collection? ca, out problem))
        {
            return false;
        }

        options = new ProbeOptions
        {
            Proxy = proxy!,
            TrustedCa = ca,
            MaxConcurrency = request.Parallel,
            Timeout = TimeSpan.FromSeconds(request.Timeout),
        };
        return true;
    }

    private static bool TryProxy(DoctorRequest request, DoctorIo io, out ProxySettings? proxy, out string problem)
    {
        problem = "";
        try
        {
            proxy = request.Proxy is not null ? ProxySettings.FromUrl(request.Proxy) : ProxyEnvironment.ForHttps(io.Environment);
        }
        catch (FormatException e)
        {
            proxy = null;
            problem = request.Proxy is null ? $"the proxy in the environment: {e.Message}" : $"--proxy: {e.Message}";
            return false;
        }

        if (proxy is null)
        {
            problem = "no proxy: pass --proxy URL, or set https_proxy";
            return false;
        }

        if (request.User is null)
        {
            if (request.PasswordStdin)
            {
                problem = "--password-stdin needs --user";
                return false;
            }

            return true;
        }

        string? password = request.PasswordStdin ? io.Input.ReadLine() : io.Environment(PasswordVariable);
        password ??= io.PromptPassword?.Invoke($"Proxy password for {request.User}: ");
        if (password is null)
        {
            problem = $"--user {request.User} needs a password: set {PasswordVariable}, pass --password-stdin, or run on a terminal to be asked";
            return false;
        }

        proxy = proxy with { Credentials = new NetworkCredential(request.User, password) };
        return true;
    }

    private static bool TryCa(string? path, out X509Certificate2Collection? ca, out string problem)
    {
        ca = null;
        problem = "";
        if (path is null)
        {
            return true;
        }

        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPemFile(path);
            if (collection.Count == 0)
            {
                problem = $"--ca {path} holds no PEM certificate";
                return false;
            }

            ca = collection;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            problem = $"--ca {path}: {e.Message}";
            return false;
        }
    }

    public static string? PromptPassword(string prompt)
    {
        Console.Error.Write(prompt);
        var password = new StringBuilder();
        while (true)
        {
            ConsoleKeyInfo key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                password.Length = Math.Max(0, password.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return password.ToString();
    }
}
