using System.Net;
using Microsoft.Extensions.Logging;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// Reads the server-to-client bytes of one FTP control tunnel (before the relay writes them on, so a permit exists by
/// the time the client reads the reply) and turns its passive replies into permits: <c>227</c> for the address it names,
/// if that is the control tunnel's (another one is a bounce, refused and logged); <c>229</c> for the control tunnel's
/// address. After <c>234</c> (AUTH TLS or SSL accepted, RFC 4217) the channel is encrypted: it stops reading, for good,
/// and says so once. Disposing it revokes what it granted.
/// </summary>
internal sealed class PassiveReplyWatcher(PassivePermits permits, ControlChannel channel, ILogger logger) : IRelayObserver
{
    // Strict: the client's commands reach the server unread, and a bare LF in one must not become a reply line in its echo.
    private readonly FtpReplyReader _reader = new(strictLineEnds: true);
    private bool _stopped;

    /// <summary>True once the channel became unreadable (TLS): no more permits from it.</summary>
    public bool Stopped => _stopped;

    public void Observe(ReadOnlySpan<byte> bytes)
    {
        if (_stopped)
        {
            return;
        }

        _reader.Feed(bytes);
        while (_reader.TryTake(out FtpReply reply))
        {
            switch (reply.Code)
            {
                case 227 when FtpReply.TryParsePassive(reply.Text, out IPAddress named, out int port):
                    if (!PassivePermits.Same(named, channel.Address))
                    {
                        permits.Bounce(channel, named, port);
                    }
                    else
                    {
                        GrantUnprivileged(port);
                    }

                    break;
                case 229 when FtpReply.TryParseExtendedPassive(reply.Text, out int port):
                    GrantUnprivileged(port);
                    break;
                case 234:
                    // What follows is a TLS handshake and encrypted replies: nothing to read, and the bytes must not
                    // be mistaken for replies.
                    _stopped = true;
                    PassiveLog.Encrypted(logger, channel.Control, channel.Rule);
                    return;
            }
        }
    }

    // Below FtpReply.LowestDataPort a permit would let the server steer its client to another service of its host,
    // past the rules for that port.
    private void GrantUnprivileged(int port)
    {
        if (port < FtpReply.LowestDataPort)
        {
            permits.Privileged(channel, port);
            return;
        }

        permits.Grant(channel, port);
    }

    public void Dispose() => permits.Close(channel);
}
