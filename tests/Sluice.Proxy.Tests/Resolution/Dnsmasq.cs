using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Resolution;

/// <summary>
/// A real dnsmasq on 127.0.0.1 and a free port, with only the records a test class gives it: no upstream servers, no
/// /etc/hosts, every query logged to a file so tests can count what reached it. Stopped (by its process id) on dispose.
/// </summary>
public sealed partial class Dnsmasq : IDisposable
{
    private const string Binary = "/usr/sbin/dnsmasq";

    private readonly Process _process;
    private readonly string _log;
    private int _sentinels;

    private Dnsmasq(Process process, string log, int port, string directory)
    {
        _process = process;
        _log = log;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    /// <summary>A folder of the test's own, for hosts files it hands to dnsmasq (--addn-hosts) or the resolver.</summary>
    public string Directory { get; }

    /// <param name="records">dnsmasq options giving the data: --host-record=..., --address=/.../, --addn-hosts=...</param>
    public static Dnsmasq Start(string directory, params string[] records)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: install dnsmasq-base (.ci/run does)");
        for (int tries = 0; ; tries++)
        {
            int port = Ports.Free(IPAddress.Loopback, udp: true);
            string log = Path.Combine(directory, $"dnsmasq-{port}.log");
            var start = new ProcessStartInfo(Binary) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string argument in (string[])[
                "--no-resolv", "--no-hosts", "--keep-in-foreground", "--bind-interfaces", "--listen-address=127.0.0.1",
                $"--port={port}", "--pid-file=", "--user=root", "--log-queries", $"--log-facility={log}", "--local=/test/", .. records])
            {
                start.ArgumentList.Add(argument);
            }

            Process process = Process.Start(start)!;
            var server = new Dnsmasq(process, log, port, directory);
            if (server.WaitStarted())
            {
                return server;
            }

            // The port was taken between choosing it and dnsmasq binding it (another test chose it too): another one.
            string why = process.HasExited ? process.StandardError.ReadToEnd() : "no answer within 20 s";
            server.Dispose();
            Assert.True(tries < 10, $"dnsmasq did not start: {why}");
        }
    }

    /// <summary>The queries for <paramref name="name"/> of <paramref name="type"/> (A, AAAA) dnsmasq has received.</summary>
    public int Queries(string name, string type)
    {
        Flush();
        return QueryLines().Count(line => line.Contains($"query[{type}] {name} from", StringComparison.Ordinal));
    }

    /// <summary>Both families' queries for the name.</summary>
    public int Queries(string name) => Queries(name, "A") + Queries(name, "AAAA");

    /// <summary>Re-reads --addn-hosts files and clears dnsmasq's own cache (SIGHUP), and waits until it has.</summary>
    public void Reload()
    {
        int before = Lines().Count(l => l.Contains("read ", StringComparison.Ordinal));
        using (Process kill = Process.Start("kill", ["-HUP", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            kill.WaitForExit();
        }

        WaitFor(() => Lines().Count(l => l.Contains("read ", StringComparison.Ordinal)) > before, "dnsmasq to re-read its hosts files after SIGHUP");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }

    private bool WaitStarted()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (_process.HasExited)
            {
                return false;
            }

            if (Lines().Any(l => l.Contains("started, version", StringComparison.Ordinal)) && Answers())
            {
                return true;
            }

            Thread.Sleep(50);
        }

        return false;
    }

    // dnsmasq binds before it logs "started", but a query proves it serves.
    private bool Answers()
    {
        try
        {
            using var tcp = new TcpClient();
            tcp.Connect(Endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // dnsmasq writes its log in order but asynchronously: a query for a name of our own, once it is in the log, says
    // every query before it is too.
    private void Flush()
    {
        string sentinel = $"sentinel-{Interlocked.Increment(ref _sentinels)}.test";
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        udp.Send(Query(sentinel), Endpoint);
        WaitFor(() => QueryLines().Any(l => l.Contains($" {sentinel} from", StringComparison.Ordinal)), $"the query for {sentinel} in dnsmasq's log");
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"waited 20 s for {what}");
            Thread.Sleep(20);
        }
    }

    private IEnumerable<string> QueryLines() => Lines().Where(l => QueryLine().IsMatch(l));

    private string[] Lines()
    {
        try
        {
            using var stream = new FileStream(_log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n');
        }
        catch (FileNotFoundException)
        {
            return [];
        }
    }

    // A minimal A query (the flush sentinel only): header, one question, class IN.
    private static byte[] Query(string name)
    {
        var bytes = new List<byte> { 0x51, 0x1c, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (string label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }

    [GeneratedRegex(@"query\[[A-Z]+\] ")]
    private static partial Regex QueryLine();
}
