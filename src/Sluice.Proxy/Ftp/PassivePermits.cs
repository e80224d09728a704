using System.Net;
using Microsoft.Extensions.Logging;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Metrics;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// The server's passive FTP permits: for each open control tunnel of a rule with <c>ftp: passive</c>, the data ports
/// its server named in 227/229 replies, each good for one CONNECT by the same client (and user) within the tunnel's
/// permit lifetime. Memory is bounded twice: a tunnel keeps at most <see cref="PerChannel"/> (a new one drops the
/// oldest), and the server at most <see cref="Total"/> (beyond it new ones are dropped), however many replies a hostile
/// server sends. One lock: it is taken per passive reply and per refused CONNECT, never per relayed byte.
/// </summary>
internal sealed class PassivePermits : IControlChannels
{
    /// <summary>A client opens one data connection per passive reply; a few outstanding at once is plenty.</summary>
    public const int PerChannel = 8;

    public const int Total = 4096;

    private readonly object _lock = new();
    private readonly Dictionary<IPAddress, List<ControlChannel>> _byClient = [];
    private readonly TimeProvider _time;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private int _outstanding;

    public PassivePermits(ProxyMetrics metrics, ILogger logger, TimeProvider? time = null)
    {
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Permits granted and not yet used, expired or revoked.</summary>
    public int Outstanding
    {
        get
        {
            lock (_lock)
            {
                return _outstanding;
            }
        }
    }

    /// <summary>Control tunnels open now.</summary>
    public int Channels
    {
        get
        {
            lock (_lock)
            {
                return _byClient.Values.Sum(list => list.Count);
            }
        }
    }

    public IRelayObserver? Open(Verdict control, IPAddress address, TimeSpan lifetime)
    {
        RequestFacts facts = control.Facts;
        string rule = control.Rule ?? throw new ArgumentException("a control tunnel is allowed by a rule", nameof(control));
        if (control.Route.Kind != RouteKind.Direct)
        {
            PassiveLog.ThroughParent(_logger, facts.Destination.ToString(), rule);
            return null;
        }

        var channel = new ControlChannel(Canonical(facts.Client), facts.User, facts.Host, Canonical(address), facts.Destination.ToString(), rule, lifetime);
        lock (_lock)
        {
            if (!_byClient.TryGetValue(channel.Client, out List<ControlChannel>? channels))
            {
                _byClient[channel.Client] = channels = [];
            }

            channels.Add(channel);
        }

        return new PassiveReplyWatcher(this, channel, _logger);
    }

    /// <summary>A passive reply of <paramref name="channel"/>'s server named <paramref name="port"/>.</summary>
    public void Grant(ControlChannel channel, int port)
    {
        PassivePermitEvent outcome = PassivePermitEvent.Granted;
        lock (_lock)
        {
            if (channel.Closed)
            {
                return;
            }

            long now = _time.GetTimestamp();
            ExpireLocked(channel, now);
            if (channel.Permits.Count >= PerChannel)
            {
                channel.Permits.RemoveAt(0); // the oldest: a client uses the latest reply's port
                _outstanding--;
                _metrics.CountPassivePermit(PassivePermitEvent.Dropped);
            }

            if (_outstanding >= Total)
            {
                outcome = PassivePermitEvent.Dropped;
            }
            else
            {
                channel.Permits.Add((port, now + (long)(channel.Lifetime.TotalSeconds * _time.TimestampFrequency)));
                _outstanding++;
            }
        }

        _metrics.CountPassivePermit(outcome);
        if (outcome == PassivePermitEvent.Dropped)
        {
            PassiveLog.PermitsFull(_logger, channel.Control, channel.Rule, Total);
        }
    }

    public PassivePermit? TryUse(RequestFacts request)
    {
        IPAddress client = Canonical(request.Client);
        lock (_lock)
        {
            if (!_byClient.TryGetValue(client, out List<ControlChannel>? channels))
            {
                return null;
            }

            long now = _time.GetTimestamp();
            foreach (ControlChannel channel in channels)
            {
                ExpireLocked(channel, now);
                if (!string.Equals(channel.User, request.User, StringComparison.Ordinal) || !channel.Names(request.Host, request.Address))
                {
                    continue;
                }

                int at = channel.Permits.FindIndex(p => p.Port == request.Port);
                if (at >= 0)
                {
                    channel.Permits.RemoveAt(at);
                    _outstanding--;
                    _metrics.CountPassivePermit(PassivePermitEvent.Used);
                    return new PassivePermit(channel.Rule, channel.Control, channel.Address);
                }
            }
        }

        return null;
    }

    /// <summary>The control tunnel ended: its permits are revoked.</summary>
    public void Close(ControlChannel channel)
    {
        int revoked;
        lock (_lock)
        {
            if (channel.Closed)
            {
                return;
            }

            channel.Closed = true;
            revoked = channel.Permits.Count;
            _outstanding -= revoked;
            channel.Permits.Clear();
            if (_byClient.TryGetValue(channel.Client, out List<ControlChannel>? channels))
            {
                channels.Remove(channel);
                if (channels.Count == 0)
                {
                    _byClient.Remove(channel.Client);
                }
            }
        }

        for (int i = 0; i < revoked; i++)
        {
            _metrics.CountPassivePermit(PassivePermitEvent.Revoked);
        }
    }

    /// <summary>The server named this address in a 227 reply, not the control tunnel's: the classic FTP bounce, refused.</summary>
    public void Bounce(ControlChannel channel, IPAddress named, int port)
    {
        _metrics.CountPassivePermit(PassivePermitEvent.Bounce);
        PassiveLog.Bounce(_logger, channel.Control, channel.Rule, $"{named}:{port}", channel.Address.ToString());
    }

    /// <summary>A passive reply named a port below 1024: no permit (counted with the bounces: it is one, to a port).</summary>
    public void Privileged(ControlChannel channel, int port)
    {
        _metrics.CountPassivePermit(PassivePermitEvent.Bounce);
        PassiveLog.Privileged(_logger, channel.Control, channel.Rule, port);
    }

    internal static bool Same(IPAddress a, IPAddress b) => Canonical(a).Equals(Canonical(b));

    // An IPv4-mapped address (::ffff:a.b.c.d, a dual-stack listener's view of an IPv4 client) is that IPv4 address.
    private static IPAddress Canonical(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private void ExpireLocked(ControlChannel channel, long now)
    {
        int expired = channel.Permits.RemoveAll(p => p.Expires <= now);
        _outstanding -= expired;
        for (int i = 0; i < expired; i++)
        {
            _metrics.CountPassivePermit(PassivePermitEvent.Expired);
        }
    }
}
