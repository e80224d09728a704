using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sluice.Bench;

/// <summary>
/// The client of the inspected row of docs/benchmarks.md (bench/run.sh runs it as `Sluice.Bench load ...`): HTTPS
/// through a proxy's CONNECT, or straight to the origin for the direct baseline, with the client trusting one CA
/// file only (the inspection CA for an inspecting proxy, the origin's CA for a tunnel or direct), so a handshake
/// succeeds only with the certificate the row is about. Two workloads:
///
///   new        each operation: connect, CONNECT, TLS handshake (full: no session resumption), one GET with
///              `Connection: close`, read the response to its end and to end of stream, close. N operations in
///              parallel; stops after --count operations or --seconds, whichever comes first.
///   keepalive  --conns tunnels opened first (not timed), then every tunnel sends one GET after another for
///              --seconds (or until --count requests in all); the latency of each request is recorded.
///
/// Both run --warmup seconds of the same workload first, in the same process (the proxy and this client are warm
/// when the clock starts), and print one line of key=value pairs. Every network wait is bounded by --op-timeout;
/// the whole run by the deadline plus that timeout. Loopback only: the caller passes 127.0.0.x addresses.
/// `--watch name=PID` (repeatable) adds `cpu_name_ms=`: the CPU time (user + system) that process and its
/// descendants used during the measured phase; `cpu_client_ms=` is this client's own.
/// </summary>
internal static class InspectLoad
{
    private sealed class Settings
    {
        public string Mode = "";
        public IPEndPoint? Proxy;
        public IPEndPoint Target = null!;
        public string TargetHost = "";
        public X509Certificate2 Trust = null!;
        public string Path = "/1k";
        public int Conns = 16;
        public long Count = 1000;
        public double Seconds = 10;
        public double Warmup;
        public TimeSpan OpTimeout = TimeSpan.FromSeconds(10);
        public byte[] ConnectRequest = [];
        public byte[] GetKeepAlive = [];
        public byte[] GetClose = [];
        public List<(string Name, int Pid)> Watch = [];
    }

    /// <summary>What a run counts; shared by its workers.</summary>
    private sealed class Tally
    {
        public long Ok;
        public long Failed;
        public long Started;
        public string? FirstError;
        public string? Tls;

        public void Fail(Exception e)
        {
            Interlocked.Increment(ref Failed);
            string what = e is OperationCanceledException ? "timeout" : $"{e.GetType().Name}:{Flatten(e)}";
            Interlocked.CompareExchange(ref FirstError, what, null);
        }

        private static string Flatten(Exception e)
        {
            var text = new StringBuilder(e.Message);
            for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
            {
                text.Append(" <- ").Append(inner.Message);
            }

            return text.ToString().Replace(' ', '_');
        }
    }

    public static int Run(string[] args)
    {
        Settings s;
        try
        {
            s = Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or System.Security.Cryptography.CryptographicException)
        {
            Console.Error.WriteLine($"load: {e.Message}");
            Console.Error.WriteLine("usage: load new|keepalive --target IP:PORT [--proxy IP:PORT] --ca FILE [--path /1k] [--conns N] [--count N] [--seconds S] [--warmup S] [--op-timeout S]");
            return 2;
        }

        // The whole run is bounded: warm-up + measured time + one operation's timeout + set-up slack.
        var watchdog = new Thread(() =>
        {
            Thread.Sleep(TimeSpan.FromSeconds(s.Warmup + s.Seconds) + (s.OpTimeout * 3) + TimeSpan.FromSeconds(5));
            Console.WriteLine("ok=0 failed=0 seconds=0 first_error=watchdog:_the_run_did_not_end_in_time");
            Environment.Exit(3);
        }) { IsBackground = true };
        watchdog.Start();

        return s.Mode == "new" ? RunNew(s).GetAwaiter().GetResult() : RunKeepAlive(s).GetAwaiter().GetResult();
    }

    private static Settings Parse(string[] args)
    {
        var s = new Settings { Mode = args.Length > 0 ? args[0] : "" };
        if (s.Mode is not ("new" or "keepalive"))
        {
            throw new ArgumentException("the first argument is the workload: new or keepalive");
        }

        string? ca = null;
        for (int i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--proxy": s.Proxy = IPEndPoint.Parse(Value()); break;
                case "--target": s.Target = IPEndPoint.Parse(Value()); break;
                case "--ca": ca = Value(); break;
                case "--path": s.Path = Value(); break;
                case "--conns": s.Conns = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--count": s.Count = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--seconds": s.Seconds = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--warmup": s.Warmup = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--op-timeout": s.OpTimeout = TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--watch":
                    string[] pair = Value().Split('=', 2);
                    s.Watch.Add((pair[0], int.Parse(pair[^1], CultureInfo.InvariantCulture)));
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (s.Target is null || ca is null)
        {
            throw new ArgumentException("--target and --ca are required");
        }

        if (!IPAddress.IsLoopback(s.Target.Address) || (s.Proxy is not null && !IPAddress.IsLoopback(s.Proxy.Address)))
        {
            throw new ArgumentException("loopback addresses only");
        }

        if (s.Conns < 1 || s.Count < 1 || s.Seconds <= 0)
        {
            throw new ArgumentException("--conns, --count and --seconds must be positive");
        }

        s.Trust = X509CertificateLoader.LoadCertificateFromFile(ca);
        s.TargetHost = s.Target.Address.ToString();
        string authority = s.Target.ToString();
        s.ConnectRequest = Encoding.ASCII.GetBytes($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        s.GetKeepAlive = Encoding.ASCII.GetBytes($"GET {s.Path} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        s.GetClose = Encoding.ASCII.GetBytes($"GET {s.Path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        return s;
    }

    private static int _certificatesSent = -1;

    private static SslClientAuthenticationOptions ClientOptions(Settings s)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true, // loopback only: never fetch an issuer named in a certificate
        };
        policy.CustomTrustStore.Add(s.Trust);
        return new SslClientAuthenticationOptions
        {
            TargetHost = s.TargetHost,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = policy,  // chain to the one trusted CA, and the name (the address) checked as usual
            AllowTlsResume = false,           // every new tunnel is a full handshake
            RemoteCertificateValidationCallback = (_, _, chain, errors) =>
            {
                // How many certificates the server sent, its leaf included (Squid sends its CA too): once per run.
                if (Volatile.Read(ref _certificatesSent) < 0 && chain is not null)
                {
                    Volatile.Write(ref _certificatesSent, chain.ChainPolicy.ExtraStore.Count);
                }

                return errors == SslPolicyErrors.None;
            },
        };
    }

    /// <summary>Connect, CONNECT (unless direct), TLS: the stream a request goes over.</summary>
    private static async Task<SslStream> OpenAsync(Settings s, byte[] buffer, CancellationToken cancel)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(s.Proxy ?? s.Target, cancel).ConfigureAwait(false);
            var network = new NetworkStream(socket, ownsSocket: true);
            if (s.Proxy is not null)
            {
                await network.WriteAsync(s.ConnectRequest, cancel).ConfigureAwait(false);
                await ReadConnectAnswerAsync(network, buffer, cancel).ConfigureAwait(false);
            }

            var tls = new SslStream(network, leaveInnerStreamOpen: false);
            try
            {
                await tls.AuthenticateAsClientAsync(ClientOptions(s), cancel).ConfigureAwait(false);
            }
            catch
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            return tls;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The proxy's answer to CONNECT, up to its blank line; a 200 is required and nothing may follow it.</summary>
    private static async Task ReadConnectAnswerAsync(NetworkStream network, byte[] buffer, CancellationToken cancel)
    {
        int filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                throw new InvalidDataException("CONNECT answer head over the buffer");
            }

            int n = await network.ReadAsync(buffer.AsMemory(filled), cancel).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("the proxy closed before answering the CONNECT");
            }

            filled += n;
            int end = HeadEnd(buffer, filled);
            if (end < 0)
            {
                continue;
            }

            int status = Status(buffer, filled);
            if (status != 200)
            {
                throw new InvalidDataException($"CONNECT answered {status}: {FirstLine(buffer, filled)}");
            }

            if (end != filled)
            {
                throw new InvalidDataException("the proxy sent bytes after its CONNECT answer, before the client's TLS");
            }

            return;
        }
    }

    /// <summary>Sends one GET and reads its response to the end of its body (and to end of stream when closing).</summary>
    private static async Task ExchangeAsync(SslStream tls, byte[] request, bool close, byte[] buffer, CancellationToken cancel)
    {
        await tls.WriteAsync(request, cancel).ConfigureAwait(false);
        int filled = 0, end;
        while ((end = HeadEnd(buffer, filled)) < 0)
        {
            if (filled == buffer.Length)
            {
                throw new InvalidDataException("response head over the buffer");
            }

            int n = await tls.ReadAsync(buffer.AsMemory(filled), cancel).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("closed before a response head");
            }

            filled += n;
        }

        int status = Status(buffer, end);
        if (status != 200)
        {
            throw new InvalidDataException($"answered {status}: {FirstLine(buffer, end)}");
        }

        long length = ContentLength(buffer, end);
        if (length < 0)
        {
            throw new InvalidDataException("response without Content-Length");
        }

        long body = filled - end;
        while (body < length)
        {
            int n = await tls.ReadAsync(buffer, cancel).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException($"closed after {body} of {length} body bytes");
            }

            body += n;
        }

        if (body > length)
        {
            throw new InvalidDataException($"{body - length} bytes after the body");
        }

        if (close && await tls.ReadAsync(buffer, cancel).ConfigureAwait(false) != 0)
        {
            throw new InvalidDataException("bytes after a Connection: close response");
        }
    }

    private static async Task<int> RunNew(Settings s)
    {
        if (s.Warmup > 0)
        {
            await NewPhase(s, long.MaxValue, s.Warmup).ConfigureAwait(false);
        }

        var cpu = new CpuWatch(s.Watch);
        var clock = Stopwatch.StartNew();
        Tally t = await NewPhase(s, s.Count, s.Seconds).ConfigureAwait(false);
        double secs = clock.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant(
            $"ok={t.Ok} failed={t.Failed} seconds={secs:F2} rate={t.Ok / secs:F1} conns={s.Conns} {cpu.Report()} tls={t.Tls ?? "-"} first_error={t.FirstError ?? "-"}"));
        return 0;
    }

    private static async Task<Tally> NewPhase(Settings s, long count, double seconds)
    {
        var t = new Tally();
        long deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var workers = new Task[s.Conns];
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                byte[] buffer = new byte[16 * 1024];
                while (Interlocked.Increment(ref t.Started) <= count && Stopwatch.GetTimestamp() < deadline)
                {
                    using var cancel = new CancellationTokenSource(s.OpTimeout);
                    try
                    {
                        SslStream tls = await OpenAsync(s, buffer, cancel.Token).ConfigureAwait(false);
                        await using (tls.ConfigureAwait(false))
                        {
                            Interlocked.CompareExchange(ref t.Tls, Describe(tls), null);
                            await ExchangeAsync(tls, s.GetClose, close: true, buffer, cancel.Token).ConfigureAwait(false);
                        }

                        Interlocked.Increment(ref t.Ok);
                    }
                    catch (Exception e) when (e is IOException or SocketException or AuthenticationException or InvalidDataException or OperationCanceledException or ObjectDisposedException)
                    {
                        t.Fail(e);
                    }
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return t;
    }

    private static async Task<int> RunKeepAlive(Settings s)
    {
        var t = new Tally();
        var setup = Stopwatch.StartNew();
        var tunnels = new SslStream?[s.Conns];
        await Task.WhenAll(Enumerable.Range(0, s.Conns).Select(async i =>
        {
            using var cancel = new CancellationTokenSource(s.OpTimeout);
            try
            {
                tunnels[i] = await OpenAsync(s, new byte[4096], cancel.Token).ConfigureAwait(false);
                Interlocked.CompareExchange(ref t.Tls, Describe(tunnels[i]!), null);
            }
            catch (Exception e) when (e is IOException or SocketException or AuthenticationException or InvalidDataException or OperationCanceledException)
            {
                t.Fail(e);
            }
        })).ConfigureAwait(false);
        double setupMs = setup.Elapsed.TotalMilliseconds;
        long setupFailed = t.Failed;

        if (s.Warmup > 0)
        {
            await KeepAlivePhase(s, tunnels, new Tally(), long.MaxValue, s.Warmup, latencies: null).ConfigureAwait(false);
        }

        var latencies = new List<long>[s.Conns];
        for (int i = 0; i < latencies.Length; i++)
        {
            latencies[i] = new List<long>(64 * 1024);
        }

        var cpu = new CpuWatch(s.Watch);
        var clock = Stopwatch.StartNew();
        await KeepAlivePhase(s, tunnels, t, s.Count, s.Seconds, latencies).ConfigureAwait(false);
        double secs = clock.Elapsed.TotalSeconds;
        string cpuReport = cpu.Report();
        foreach (SslStream? tunnel in tunnels)
        {
            if (tunnel is not null)
            {
                await tunnel.DisposeAsync().ConfigureAwait(false);
            }
        }

        long[] all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        double Ms(double q) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)Math.Ceiling(q * all.Length) - 1)] * 1000.0 / Stopwatch.Frequency;
        Console.WriteLine(FormattableString.Invariant(
            $"ok={t.Ok} failed={t.Failed} setup_failed={setupFailed} seconds={secs:F2} rps={t.Ok / secs:F1} p50_ms={Ms(0.50):F3} p90_ms={Ms(0.90):F3} p99_ms={Ms(0.99):F3} p999_ms={Ms(0.999):F3} max_ms={Ms(1.0):F3} conns={s.Conns} setup_ms={setupMs:F0} {cpuReport} tls={t.Tls ?? "-"} first_error={t.FirstError ?? "-"}"));
        return 0;
    }

    /// <summary>Every tunnel sends one GET after another until the deadline or the count; a broken tunnel is reopened.</summary>
    private static async Task KeepAlivePhase(Settings s, SslStream?[] tunnels, Tally t, long count, double seconds, List<long>[]? latencies)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, tunnels.Length).Select(i => Task.Run(async () =>
        {
            byte[] buffer = new byte[16 * 1024];
            using var cancel = new CancellationTokenSource();
            while (Stopwatch.GetTimestamp() < deadline && Interlocked.Increment(ref t.Started) <= count)
            {
                cancel.CancelAfter(s.OpTimeout);
                try
                {
                    tunnels[i] ??= await OpenAsync(s, buffer, cancel.Token).ConfigureAwait(false);
                    long start = Stopwatch.GetTimestamp();
                    await ExchangeAsync(tunnels[i]!, s.GetKeepAlive, close: false, buffer, cancel.Token).ConfigureAwait(false);
                    latencies?[i].Add(Stopwatch.GetTimestamp() - start);
                    Interlocked.Increment(ref t.Ok);
                }
                catch (Exception e) when (e is IOException or SocketException or AuthenticationException or InvalidDataException or OperationCanceledException or ObjectDisposedException)
                {
                    t.Fail(e);
                    if (tunnels[i] is { } broken)
                    {
                        await broken.DisposeAsync().ConfigureAwait(false);
                    }

                    tunnels[i] = null;
                    if (cancel.IsCancellationRequested)
                    {
                        return; // a timed-out source cannot be reset for the next request: this tunnel stops
                    }
                }

                cancel.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }))).ConfigureAwait(false);
    }

    /// <summary>CPU time of this process and of watched processes (with their descendants) since it was made.</summary>
    private sealed class CpuWatch
    {
        private static readonly double TickMs = 1000.0 / 100; // USER_HZ: /proc reports clock ticks of 10 ms on Linux
        private readonly List<(string Name, int Pid)> _watch;
        private readonly long[] _start;
        private readonly TimeSpan _self = Process.GetCurrentProcess().TotalProcessorTime;

        public CpuWatch(List<(string Name, int Pid)> watch)
        {
            _watch = watch;
            _start = watch.Select(w => TreeTicks(w.Pid)).ToArray();
        }

        public string Report()
        {
            var text = new StringBuilder(FormattableString.Invariant($"cpu_client_ms={(Process.GetCurrentProcess().TotalProcessorTime - _self).TotalMilliseconds:F0}"));
            for (int i = 0; i < _watch.Count; i++)
            {
                text.Append(FormattableString.Invariant($" cpu_{_watch[i].Name}_ms={(TreeTicks(_watch[i].Pid) - _start[i]) * TickMs:F0}"));
            }

            return text.ToString();
        }

        /// <summary>utime + stime of a process and every process below it (Squid's helpers), in clock ticks.</summary>
        private static long TreeTicks(int root)
        {
            var stats = new Dictionary<int, (int Parent, long Ticks)>();
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(System.IO.Path.GetFileName(dir), out int pid))
                {
                    continue;
                }

                try
                {
                    string stat = File.ReadAllText($"{dir}/stat");
                    string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from 3 (state) on
                    stats[pid] = (int.Parse(f[1], CultureInfo.InvariantCulture),
                        long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture));
                }
                catch (IOException)
                {
                    // the process ended meanwhile
                }
            }

            long total = 0;
            var todo = new Stack<int>([root]);
            while (todo.TryPop(out int pid))
            {
                if (stats.TryGetValue(pid, out var entry))
                {
                    total += entry.Ticks;
                }

                foreach ((int child, var childEntry) in stats)
                {
                    if (childEntry.Parent == pid)
                    {
                        todo.Push(child);
                    }
                }
            }

            return total;
        }
    }

    private static string Describe(SslStream tls)
    {
        string key = tls.RemoteCertificate is X509Certificate2 leaf ? leaf.GetKeyAlgorithm() switch
        {
            "1.2.840.10045.2.1" => "ECDSA",
            "1.2.840.113549.1.1.1" => "RSA",
            string other => other,
        } : "?";
        string issuer = tls.RemoteCertificate?.Issuer ?? "?";
        return $"{tls.SslProtocol}/{tls.NegotiatedCipherSuite}/{key}-leaf/certificates-sent:{Volatile.Read(ref _certificatesSent)}/issuer:{issuer}".Replace(' ', '_');
    }

    private static int HeadEnd(byte[] buffer, int filled)
    {
        int at = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
        return at < 0 ? -1 : at + 4;
    }

    private static int Status(byte[] buffer, int filled) =>
        filled >= 12 && buffer.AsSpan(0, 5).SequenceEqual("HTTP/"u8)
        && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int code) ? code : -1;

    private static string FirstLine(byte[] buffer, int filled)
    {
        int eol = buffer.AsSpan(0, filled).IndexOf("\r\n"u8);
        return Encoding.ASCII.GetString(buffer, 0, eol < 0 ? Math.Min(filled, 120) : Math.Min(eol, 120)).Replace(' ', '_');
    }

    private static long ContentLength(byte[] buffer, int headEnd)
    {
        ReadOnlySpan<byte> head = buffer.AsSpan(0, headEnd);
        while (true)
        {
            int eol = head.IndexOf("\r\n"u8);
            if (eol < 0)
            {
                return -1;
            }

            ReadOnlySpan<byte> line = head[..eol];
            head = head[(eol + 2)..];
            if (line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "Content-Length:"u8))
            {
                ReadOnlySpan<byte> value = line[15..];
                return long.TryParse(value[Ascii.Trim(value)], NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : -1;
            }
        }
    }
}
