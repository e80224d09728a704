using System.Net;
using Sluice.Proxy.Files;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// A hosts file (<c>address name [alias...]</c>, <c># comments</c>), asked before the name servers as glibc's
/// <c>hosts: files dns</c>. Its answers never expire; the file is re-read when its <see cref="FileStamp"/> changes,
/// looked at no more than once a second so a busy proxy does not stat it per request. A file that is missing or
/// cannot be read answers nothing (the name servers are asked) until it is back.
/// </summary>
/// <remarks>
/// Lookups never touch the file: they read the table last loaded. Every read runs on the thread pool, one at a time:
/// the first starts when the resolver is built (lookups wait for it, asynchronously and at most the resolver's query
/// timeout), later ones are started by the lookup that finds the once-a-second check due. A file on a mount that hangs (a FIFO, a stuck network share) then holds up only that
/// background check, never a request or a socket thread: a request's lookup would otherwise block every connection
/// served by the same thread (socket completions run inline, see ProxyRuntime).
/// </remarks>
internal sealed class HostsFile
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly TimeProvider _time;
    private volatile Dictionary<string, IPAddress[]> _names = new(StringComparer.Ordinal);
    private FileStamp _stamp;
    private long _nextCheck;
    private int _checking; // 1 while a background check runs

    private readonly Task _firstRead;
    private readonly TimeSpan _firstReadWait;

    /// <param name="firstReadWait">How long a lookup waits for the first read before it goes on without the file.</param>
    public HostsFile(string path, TimeSpan firstReadWait, TimeProvider? time = null)
    {
        _path = path;
        _time = time ?? TimeProvider.System;
        _firstReadWait = firstReadWait;
        _checking = 1;
        _firstRead = Task.Run(CheckInBackground);
    }

    /// <summary>The addresses the file gives the (normalised) name, in the resolver's order; null when it has none.</summary>
    public async ValueTask<IPAddress[]?> FindAsync(string name, CancellationToken cancellationToken)
    {
        if (!_firstRead.IsCompleted)
        {
            try
            {
                await _firstRead.WaitAsync(_firstReadWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The file does not answer (a hung mount): the name servers are asked meanwhile.
            }
        }


        if (_time.GetTimestamp() >= Volatile.Read(ref _nextCheck) && Interlocked.CompareExchange(ref _checking, 1, 0) == 0)
        {
            _ = Task.Run(CheckInBackground, CancellationToken.None); // not the request's: the check outlives it
        }

        return _names.TryGetValue(name, out IPAddress[]? addresses) ? addresses : null;
    }

    private void CheckInBackground()
    {
        try
        {
            Check();
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    private void Check()
    {
        FileStamp stamp = FileStamp.Of(_path);
        if (stamp != _stamp)
        {
            _names = Read(_path);
            _stamp = stamp;
        }

        // From the end of the check: a file that took long to read is not read again at once.
        Volatile.Write(ref _nextCheck, _time.GetTimestamp() + (long)(CheckInterval.TotalSeconds * _time.TimestampFrequency));
    }

    private static Dictionary<string, IPAddress[]> Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Dictionary<string, IPAddress[]>(StringComparer.Ordinal);
        }

        return Parse(lines);
    }

    /// <summary>glibc's reading: a name on several lines has all their addresses, in file order; bad lines are skipped.</summary>
    internal static Dictionary<string, IPAddress[]> Parse(IEnumerable<string> lines)
    {
        var found = new Dictionary<string, List<IPAddress>>(StringComparer.Ordinal);
        foreach (string raw in lines)
        {
            int hash = raw.IndexOf('#', StringComparison.Ordinal);
            string[] fields = (hash >= 0 ? raw[..hash] : raw).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || !IPAddress.TryParse(fields[0], out IPAddress? address))
            {
                continue;
            }

            foreach (string field in fields.AsSpan(1))
            {
                string name = field.TrimEnd('.').ToLowerInvariant();
                if (!found.TryGetValue(name, out List<IPAddress>? addresses))
                {
                    found[name] = addresses = [];
                }

                if (!addresses.Contains(address))
                {
                    addresses.Add(address);
                }
            }
        }

        return found.ToDictionary(pair => pair.Key, pair => AddressOrder.Interleave(pair.Value), StringComparer.Ordinal);
    }
}
