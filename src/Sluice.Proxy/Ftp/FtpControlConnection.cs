using System.Text;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// The gateway's control connection to an FTP server: one command, one reply, each wait on the server bounded by
/// the idle timeout. Replies are split by <see cref="FtpReplyReader"/> (bounded); a failure becomes the
/// <see cref="ProxyErrorException"/> the client is answered with, in words that name the server, never a password.
/// </summary>
internal sealed class FtpControlConnection : IDisposable
{
    private readonly Connection _connection;
    private readonly FtpReplyReader _reader = new();
    private readonly TimeSpan _idle;
    private readonly CancellationToken _stopping;

    /// <param name="server">How messages name the server: <c>host:port</c>.</param>
    public FtpControlConnection(Connection connection, string server, TimeSpan idle, CancellationToken stopping)
    {
        _connection = connection;
        Server = server;
        _idle = idle;
        _stopping = stopping;
    }

    public string Server { get; }

    /// <summary>The address the control connection went to: the only one its data connections may go to.</summary>
    public System.Net.IPAddress Address => _connection.Remote.Address;

    /// <summary>The next reply; a preliminary one (1yz) is returned as well, for the caller to wait for the one after.</summary>
    public async Task<FtpReply> ReadReplyAsync(string awaiting)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        deadline.CancelAfter(_idle);
        while (true)
        {
            if (_reader.TryTake(out FtpReply reply))
            {
                return reply.IsMalformed
                    ? throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"{Server} answered {awaiting} with something that is not an FTP reply: {Shorten(reply.Text)}")
                    : reply;
            }

            int read;
            try
            {
                read = await _connection.Input.FillAsync(16 * 1024, deadline.Token, waitWithoutBuffer: false).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
            {
                throw new ProxyErrorException(ProxyErrorKind.UpstreamTimeout, $"{Server} did not answer {awaiting} within {Policy.Config.Durations.Format(_idle)}");
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                throw new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, $"the FTP control connection to {Server} failed while awaiting the answer to {awaiting}");
            }

            if (read == 0)
            {
                throw new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, $"{Server} closed the FTP control connection instead of answering {awaiting}");
            }

            _reader.Feed(_connection.Input.Buffered);
            _connection.Input.Consume(_connection.Input.BufferedCount);
        }
    }

    /// <summary>Sends one command and returns its first reply.</summary>
    /// <param name="shown">How messages name the command: PASS is shown without its argument.</param>
    public async Task<FtpReply> SendAsync(string command, string? shown = null)
    {
        shown ??= command;
        if (command.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
        {
            // One command per line: a CR or LF inside would be a second command the client slipped in.
            throw new ProxyErrorException(ProxyErrorKind.MalformedRequest, $"{shown.Split(' ')[0]}: a line break or NUL cannot go into an FTP command");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        deadline.CancelAfter(_idle);
        try
        {
            await _connection.Stream.WriteAsync(Encoding.UTF8.GetBytes(command + "\r\n"), deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException && !_stopping.IsCancellationRequested)
        {
            throw new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, $"the FTP control connection to {Server} failed while sending {shown}");
        }

        return await ReadReplyAsync(shown).ConfigureAwait(false);
    }

    /// <summary>Sends a command whose reply must be a completion (2yz); anything else is the client's error response.</summary>
    public async Task<FtpReply> ExpectAsync(string command, string? shown = null)
    {
        FtpReply reply = await SendAsync(command, shown).ConfigureAwait(false);
        return reply.IsCompletion ? reply : throw Refusal(reply, shown ?? command);
    }

    /// <summary>
    /// The passive data port (RFC 2428 EPSV, else RFC 959 PASV when the server does not know EPSV: 500, 502). The
    /// address a 227 names is returned for the caller to compare: data goes to <see cref="Address"/> whatever it says.
    /// </summary>
    public async Task<(int Port, System.Net.IPAddress? Named)> EnterPassiveAsync()
    {
        FtpReply reply = await SendAsync("EPSV").ConfigureAwait(false);
        if (reply.Code == 229)
        {
            return FtpReply.TryParseExtendedPassive(reply.Text, out int port) ? (port, null)
                : throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"{Server} answered EPSV with a 229 that names no port: {Shorten(reply.Text)}");
        }

        if (reply.Code is not (500 or 501 or 502))
        {
            throw Refusal(reply, "EPSV");
        }

        reply = await SendAsync("PASV").ConfigureAwait(false);
        if (reply.Code != 227)
        {
            throw Refusal(reply, "PASV");
        }

        return FtpReply.TryParsePassive(reply.Text, out System.Net.IPAddress named, out int passive) ? (passive, named)
            : throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"{Server} answered PASV with a 227 that names no address and port: {Shorten(reply.Text)}");
    }

    /// <summary>What an FTP reply that is not the one hoped for means for the client (RFC 959 §4.2 codes).</summary>
    public ProxyErrorException Refusal(FtpReply reply, string command)
    {
        string detail = $"{Server} answered {command.Split(' ')[0]} with {reply.Code} {Shorten(reply.Text)}";
        ProxyErrorKind kind = reply.Code switch
        {
            550 or 450 when LooksLikePermission(reply.Text) => ProxyErrorKind.FtpForbidden,
            550 or 450 => ProxyErrorKind.FtpNotFound,
            553 or 532 => ProxyErrorKind.FtpForbidden,
            530 => ProxyErrorKind.FtpLoginRequired,
            421 or (>= 400 and < 500) => ProxyErrorKind.FtpUnavailable,
            _ => ProxyErrorKind.UpstreamProtocolError,
        };
        return new ProxyErrorException(kind, detail);
    }

    /// <summary>QUIT, best effort and briefly: the server may already be gone.</summary>
    public async Task QuitAsync()
    {
        using var brief = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _connection.Stream.WriteAsync("QUIT\r\n"u8.ToArray(), brief.Token).ConfigureAwait(false);
            await _connection.Input.FillAsync(4096, brief.Token, waitWithoutBuffer: false).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
        }
    }

    public void Dispose() => _connection.Dispose();

    // 550 means both "no such file" and "permission denied" (RFC 959 §4.2.2); the text is all that tells them apart.
    private static bool LooksLikePermission(string text) =>
        text.Contains("permission", StringComparison.OrdinalIgnoreCase) || text.Contains("denied", StringComparison.OrdinalIgnoreCase)
        || text.Contains("not allowed", StringComparison.OrdinalIgnoreCase) || text.Contains("privilege", StringComparison.OrdinalIgnoreCase);

    private static string Shorten(string text)
    {
        string oneLine = text.ReplaceLineEndings(" ");
        return oneLine.Length <= 200 ? oneLine : oneLine[..200] + "...";
    }
}
