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
/// Lookups never touch the file: they read the table last loaded. Every read is a <see cref="BackgroundCheck"/>: the
/// first starts when the resolver is built (lookups wait for it, asynchronously and at most the resolver's query
/// timeout), later ones are started by the lookup that finds the once-a-second check due. A file on a mount that hangs
/// then holds up only that background check, never a request or a socket thread.
/// </remarks>
internal sealed class HostsFile
{
    private readonly string _path;
    private volatile Dictionary<string, IPAddress[]> _names = new(StringComparer.Ordinal);
    private FileStamp _stamp;
    private readonly BackgroundCheck _checks;
    private readonly TimeSpan _firstReadWait;

    /// <param name="firstReadWait">How long a lookup waits for the first read before it goes on without the file.</param>
    public HostsFile(string path, TimeSpan firstReadWait, TimeProvider? time = null)
    {
        _path = path;
        _firstReadWait = firstReadWait;
        _checks = new BackgroundCheck(Check, time, startNow: true);
    }

    /// <summary>The addresses the file gives the (normalised) name, in the resolver's order; null when it has none.</summary>
    public async ValueTask<IPAddress[]?> FindAsync(string name, CancellationToken cancellationToken)
    {
        if (!_checks.First.IsCompleted)
        {
            try
            {
                await _checks.First.WaitAsync(_firstReadWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The file does not answer (a hung mount): the name servers are asked meanwhile.
            }
        }
        _checks.StartIfDue();
        return _names.TryGetValue(name, out IPAddress[]? addresses) ? addresses : null;
    }

    private void Check()
    {
        FileStamp stamp = FileStamp.Of(_path);
        if (stamp != _stamp)
        {
            _names = Read(_path);
            _stamp = stamp;
        }
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
