using System.Net;
using Sluice.Proxy.Files;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// A hosts file (<c>address name [alias...]</c>, <c># comments</c>), asked before the name servers as glibc's
/// <c>hosts: files dns</c>. Its answers never expire; the file is re-read when its <see cref="FileStamp"/> changes,
/// looked at no more than once a second so a busy proxy does not stat it per request. A file that is missing or
/// cannot be read answers nothing (the name servers are asked) until it is back.
/// </summary>
internal sealed class HostsFile
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly Lock _checking = new();
    private volatile Dictionary<string, IPAddress[]> _names = new(StringComparer.Ordinal);
    private FileStamp _stamp;
    private long _nextCheck; // a TimeProvider timestamp; 0: read at the first lookup

    public HostsFile(string path, TimeProvider? time = null)
    {
        _path = path;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The addresses the file gives the (normalised) name, in the resolver's order; null when it has none.</summary>
    public IPAddress[]? Find(string name)
    {
        Refresh();
        return _names.TryGetValue(name, out IPAddress[]? addresses) ? addresses : null;
    }

    private void Refresh()
    {
        long now = _time.GetTimestamp();
        if (now < Volatile.Read(ref _nextCheck))
        {
            return;
        }

        lock (_checking)
        {
            if (now < _nextCheck)
            {
                return;
            }

            _nextCheck = now + (long)(CheckInterval.TotalSeconds * _time.TimestampFrequency);
            FileStamp stamp = FileStamp.Of(_path);
            if (stamp == _stamp)
            {
                return;
            }

            _stamp = stamp;
            _names = Read(_path);
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
