using System.Buffers;
using System.Globalization;
using System.Text;
using Sluice.Policy.Decisions;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Http1;
using Sluice.Proxy.Pipeline;
using Sluice.Proxy.Requests;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Ftp;

/// <summary>
/// One <c>ftp://</c> request: the client speaks HTTP to the proxy and the proxy speaks FTP to the server. Decided by
/// the one pipeline (scheme ftp), dialled as forwarded requests are (resolution, address guard, connect timeout),
/// then: log in (the URL's credentials, else the Authorization field's Basic ones, else anonymous), TYPE, CWD into
/// the path, and GET/HEAD a file (SIZE, RETR), a directory (an HTML listing from MLSD or LIST) or PUT a file (STOR).
/// The FTP server's answers become HTTP statuses; once a response has started, a transfer the server does not
/// confirm (226) resets the client connection rather than ending a truncated body cleanly.
/// </summary>
internal sealed class FtpGatewayExchange
{
    private const int DataBufferSize = 64 * 1024;

    // A listing line longer than this is cut: a hostile server cannot make the gateway buffer without end.
    private const int MaxListingLine = 8 * 1024;

    private readonly RequestContext _x;
    private readonly CancellationToken _stopping;
    private FtpTarget _target = null!;
    private BodyFraming _requestFraming;
    private bool _close;

    // Set once the response head has gone out: from then on a failure is logged and the client connection reset.
    private int? _startedStatus;
    private string? _startedType;
    private System.Net.IPAddress? _peer;

    private FtpGatewayExchange(RequestContext exchange, CancellationToken stopping)
    {
        _x = exchange;
        _stopping = stopping;
    }

    private RequestHead Head => _x.Head;

    private Connection Client => _x.Client;

    /// <summary>Runs the exchange; returns true when the client connection may carry another request.</summary>
    public static ValueTask<bool> RunAsync(RequestContext exchange, CancellationToken stopping) => new FtpGatewayExchange(exchange, stopping).RunAsync();

    private async ValueTask<bool> RunAsync()
    {
        if (!FtpTarget.TryRead(Head.Target, out FtpTarget? target, out string problem))
        {
            _x.Url = FtpTarget.Redacted(Head.Target);
            await _x.FailAsync(ProxyErrorKind.MalformedRequest, problem, null, keepAlive: false, _stopping).ConfigureAwait(false);
            return false;
        }

        _target = target!;
        _x.Url = _target.LogUrl;
        _close = Head.IsHttp10 || Head.Fields.HasToken("Connection", "close");
        if (await _x.ReadFramingAsync(_stopping).ConfigureAwait(false) is not { } requestFraming)
        {
            return false;
        }

        _requestFraming = requestFraming;

        // An error before the request body was read leaves its bytes unread: the connection cannot carry another request.
        bool canContinue = !_requestFraming.HasBody && !_close;
        FtpControlConnection? control = null;
        try
        {
            if (Via.HasBeenHere(Head.Fields, _x.ProxyName))
            {
                throw new ProxyErrorException(ProxyErrorKind.LoopDetected, $"the request already passed through {_x.ProxyName} (Via); refusing to fetch it in a loop");
            }

            _x.CheckRate();
            await _x.AuthenticateAsync().ConfigureAwait(false);
            if (!FtpTarget.IsGatewayMethod(Head.Method))
            {
                throw new ProxyErrorException(ProxyErrorKind.MethodNotAllowed, $"the FTP gateway does {FtpTarget.GatewayMethods} for ftp:// URLs, not {Head.Method}",
                    fields: [new("Allow", FtpTarget.GatewayMethods)]);
            }

            // A rule routing the URL through a parent is refused by the pipeline itself (explain says the same).
            Verdict allowed = _x.Decide(new RequestTarget(_target.Authority, _target.Path), RequestScheme.Ftp);

            Connection connection = await _x.DialAsync(allowed, _stopping).ConfigureAwait(false);
            _peer = connection.Remote.Address;
            control = new FtpControlConnection(connection, _target.Authority.ToString(), _x.Timeouts.Idle, _stopping);
            await LogInAsync(control).ConfigureAwait(false);
            bool complete = await TransferAsync(control).ConfigureAwait(false);
            return complete && !_close;
        }
        catch (ProxyErrorException e) when (_startedStatus is null)
        {
            return await _x.FailAsync(e, canContinue, _stopping).ConfigureAwait(false) && canContinue;
        }
        catch (ProxyErrorException e) when (_startedStatus is int status)
        {
            // The response has started: the only honest signal left is to reset the client connection.
            _x.Log(SquidResult.Miss, status, _peer, _startedType, e.Kind, reason: e.Message);
            Client.Abort();
            return false;
        }
        catch (Exception e) when (_startedStatus is int status && e is IOException or ObjectDisposedException or OperationCanceledException && !_stopping.IsCancellationRequested)
        {
            // The client went away (or stopped reading) during the transfer.
            _x.Log(SquidResult.Miss, status, _peer, _startedType, ProxyErrorKind.ConnectionTerminated);
            Client.Abort();
            return false;
        }
        finally
        {
            if (control is not null)
            {
                await control.QuitAsync().ConfigureAwait(false);
                control.Dispose();
            }
        }
    }

    private async Task LogInAsync(FtpControlConnection control)
    {
        FtpReply greeting = await control.ReadReplyAsync("the connection (its greeting)").ConfigureAwait(false);
        while (greeting.IsPreliminary)
        {
            greeting = await control.ReadReplyAsync("the connection (its greeting)").ConfigureAwait(false); // 120: ready in a moment
        }

        if (greeting.Code != 220)
        {
            throw control.Refusal(greeting, "the connection");
        }

        (string user, string password, Credentials source) = ChooseCredentials();
        FtpReply reply = await control.SendAsync($"USER {user}", "USER").ConfigureAwait(false);
        if (reply.IsIntermediate)
        {
            reply = await control.SendAsync($"PASS {password}", "PASS").ConfigureAwait(false);
        }

        if (reply.Code is 530 or 331 or 332)
        {
            throw LoginFailed(control, reply, source);
        }

        if (!reply.IsCompletion)
        {
            throw control.Refusal(reply, "USER");
        }

        await control.ExpectAsync(_target.Type == 'a' ? "TYPE A" : "TYPE I").ConfigureAwait(false);
    }

    private enum Credentials
    {
        Anonymous,
        Url,
        Authorization,
    }

    /// <summary>The URL's credentials, else the Authorization field's Basic ones, else anonymous with ftp.anonymousPassword.</summary>
    private (string User, string Password, Credentials Source) ChooseCredentials()
    {
        if (_target.User is { } user)
        {
            return (user, _target.Password ?? "", Credentials.Url);
        }

        if (Head.Fields.Get("Authorization") is { } authorization && authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                string pair = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
                int colon = pair.IndexOf(':');
                if (colon > 0)
                {
                    return (pair[..colon], pair[(colon + 1)..], Credentials.Authorization);
                }
            }
            catch (FormatException)
            {
            }

            throw new ProxyErrorException(ProxyErrorKind.MalformedRequest, "the Authorization field is not Basic credentials (base64 of user:password)");
        }

        return ("anonymous", _x.Snapshot.Config.Ftp.AnonymousPassword, Credentials.Anonymous);
    }

    /// <summary>
    /// A refused login. Anonymous, or credentials from the Authorization field: 401 with a challenge, so the client (curl
    /// -u, a browser's prompt) sends credentials, or other ones. Credentials written in the URL: 403, as the same URL
    /// sent again would fail again. The message names no user and no password.
    /// </summary>
    private ProxyErrorException LoginFailed(FtpControlConnection control, FtpReply reply, Credentials source)
    {
        string who = source switch
        {
            Credentials.Anonymous => "the anonymous login",
            Credentials.Url => "the login given in the URL",
            _ => "the login given in the Authorization field",
        };
        string detail = $"{control.Server} refused {who} ({reply.Code})";
        return source == Credentials.Url
            ? new ProxyErrorException(ProxyErrorKind.FtpLoginRefused, detail)
            : new ProxyErrorException(ProxyErrorKind.FtpLoginRequired, detail, fields: [new("WWW-Authenticate", $"Basic realm=\"FTP {_target.Authority.HostForUri}\"")]);
    }

    /// <returns>True when the response was sent whole and the request body (if any) read whole.</returns>
    private async Task<bool> TransferAsync(FtpControlConnection control)
    {
        foreach (string directory in _target.Directories)
        {
            await control.ExpectAsync($"CWD {directory}").ConfigureAwait(false);
        }

        if (Head.Method == "PUT")
        {
            return await StoreAsync(control).ConfigureAwait(false);
        }

        if (_target.IsDirectory)
        {
            if (_target.Name.Length > 0)
            {
                await control.ExpectAsync($"CWD {_target.Name}").ConfigureAwait(false); // ;type=d on a name
            }

            return await ListAsync(control).ConfigureAwait(false);
        }

        return await RetrieveAsync(control).ConfigureAwait(false);
    }

    private async Task<bool> RetrieveAsync(FtpControlConnection control)
    {
        string name = _target.Name;
        long? size = null;
        if (_target.Type != 'a')
        {
            // SIZE in ASCII mode counts other bytes than the transfer sends; servers refuse it there.
            FtpReply sized = await control.SendAsync($"SIZE {name}").ConfigureAwait(false);
            if (sized.Code == 213 && long.TryParse(sized.Text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long length))
            {
                size = length;
            }
            else if (sized.Code is 550 or 450)
            {
                return await IsDirectoryAsync(control, name).ConfigureAwait(false) ? await RedirectToDirectoryAsync().ConfigureAwait(false) : throw control.Refusal(sized, "SIZE");
            }
        }

        string contentType = FtpGatewayContentTypes.For(name);
        if (Head.Method == "HEAD")
        {
            await WriteHeadAsync(200, "OK", contentType, size, chunked: false).ConfigureAwait(false);
            _x.Log(SquidResult.Miss, 200, _peer, contentType);
            return true;
        }

        using Connection data = await OpenDataAsync(control).ConfigureAwait(false);
        FtpReply started = await control.SendAsync($"RETR {name}").ConfigureAwait(false);
        if (!started.IsPreliminary)
        {
            data.Dispose();
            return started.Code is 550 or 450 && await IsDirectoryAsync(control, name).ConfigureAwait(false)
                ? await RedirectToDirectoryAsync().ConfigureAwait(false)
                : throw control.Refusal(started, "RETR");
        }

        bool chunked = size is null && !Head.IsHttp10;
        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        var body = await StartBodyAsync(200, "OK", contentType, size, chunked, stalled).ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DataBufferSize);
        try
        {
            while (true)
            {
                int read = await ReadDataAsync(data, buffer, control).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                if (size is { } expected && body.Written + read > expected)
                {
                    throw new ProxyErrorException(ProxyErrorKind.UpstreamProtocolError, $"{control.Server} sent more than the {expected} bytes its SIZE announced");
                }

                await body.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (size is { } announced && body.Written != announced)
        {
            throw new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, $"the FTP data connection from {control.Server} ended after {body.Written} of {announced} bytes");
        }

        await ConfirmTransferAsync(control, "RETR").ConfigureAwait(false);
        await body.CompleteAsync().ConfigureAwait(false);
        _x.Log(SquidResult.Miss, 200, _peer, contentType);
        return true;
    }

    /// <summary>The reply after the data connection ended: only a completion (226, 250) makes the transfer whole.</summary>
    private static async Task ConfirmTransferAsync(FtpControlConnection control, string command)
    {
        FtpReply done = await control.ReadReplyAsync($"the end of {command}").ConfigureAwait(false);
        if (!done.IsCompletion)
        {
            // A 550 after the data is no missing file but a failed transfer: the response has started and is cut off.
            ProxyErrorException refusal = control.Refusal(done, command);
            throw refusal.Kind is ProxyErrorKind.FtpNotFound or ProxyErrorKind.FtpForbidden
                ? new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, refusal.Message)
                : refusal;
        }
    }

    /// <summary>A passive data connection, to the control connection's address only (<see cref="FtpGatewayData"/>).</summary>
    private Task<Connection> OpenDataAsync(FtpControlConnection control) =>
        FtpGatewayData.OpenAsync(control, _x.Snapshot.Pipeline, _x.Timeouts.Connect, _x.Services.Logger, _stopping);

    /// <summary>One read of a data connection within the idle timeout; 0 at its end.</summary>
    private ValueTask<int> ReadDataAsync(Connection data, byte[] buffer, FtpControlConnection control) =>
        FtpGatewayData.ReadAsync(data, buffer, control.Server, _x.Timeouts.Idle, _stopping);

    /// <summary>Whether a name that is no file is a directory: CWD into it succeeds.</summary>
    private static async Task<bool> IsDirectoryAsync(FtpControlConnection control, string name) =>
        (await control.SendAsync($"CWD {name}").ConfigureAwait(false)).IsCompletion;

    /// <summary>A file URL that names a directory: 301 to the same URL with a trailing slash, as web servers do.</summary>
    private async Task<bool> RedirectToDirectoryAsync()
    {
        string location = $"ftp://{_target.AuthorityForUri}{_target.Path}/";
        byte[] text = Encoding.UTF8.GetBytes($"{location} is a directory\n");
        await WriteHeadAsync(301, "Moved Permanently", "text/plain; charset=utf-8", text.Length, chunked: false, ("Location", location)).ConfigureAwait(false);
        if (Head.Method != "HEAD")
        {
            await Client.Stream.WriteAsync(text, _stopping).ConfigureAwait(false);
        }

        _x.Log(SquidResult.Miss, 301, _peer, "text/plain");
        return true;
    }

    private async Task<bool> ListAsync(FtpControlConnection control)
    {
        const string contentType = FtpListingPage.ContentType;
        if (Head.Method == "HEAD")
        {
            await WriteHeadAsync(200, "OK", contentType, null, chunked: false).ConfigureAwait(false);
            _x.Log(SquidResult.Miss, 200, _peer, "text/html");
            return true;
        }

        bool machine = await OffersMachineListingAsync(control).ConfigureAwait(false);
        using Connection data = await OpenDataAsync(control).ConfigureAwait(false);
        string command = machine ? "MLSD" : "LIST";
        FtpReply started = await control.SendAsync(command).ConfigureAwait(false);
        if (!started.IsPreliminary)
        {
            throw control.Refusal(started, command);
        }

        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        var body = await StartBodyAsync(200, "OK", contentType, null, !Head.IsHttp10, stalled).ConfigureAwait(false);
        string directoryUrl = $"ftp://{_target.AuthorityForUri}{(_target.Path.EndsWith('/') ? _target.Path : _target.Path + "/")}";
        await body.WriteAsync(FtpListingPage.Start(directoryUrl, _target.Path is "/" or "")).ConfigureAwait(false);
        var line = new List<byte>(256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DataBufferSize);
        try
        {
            while (true)
            {
                int read = await ReadDataAsync(data, buffer, control).ConfigureAwait(false);
                var rows = new StringBuilder();
                foreach (byte b in buffer.AsSpan(0, read))
                {
                    if (b == '\n')
                    {
                        rows.Append(Row(line, machine));
                        line.Clear();
                    }
                    else if (line.Count < MaxListingLine)
                    {
                        line.Add(b);
                    }
                }

                if (read == 0)
                {
                    rows.Append(Row(line, machine)); // a last line without its end
                }

                await body.WriteAsync(rows.ToString()).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        await ConfirmTransferAsync(control, command).ConfigureAwait(false);
        await body.WriteAsync(FtpListingPage.End).ConfigureAwait(false);
        await body.CompleteAsync().ConfigureAwait(false);
        _x.Log(SquidResult.Miss, 200, _peer, "text/html");
        return true;
    }

    private static string Row(List<byte> line, bool machine)
    {
        string text = Encoding.UTF8.GetString(line.ToArray()).TrimEnd('\r');
        if (text.Length == 0)
        {
            return "";
        }

        FtpListingEntry entry = machine ? FtpListing.ParseMachine(text) : FtpListing.ParseList(text);
        return FtpListing.IsShown(entry) ? FtpListingPage.Row(entry) : "";
    }

    /// <summary>FEAT lists MLST (RFC 3659 §7.8): MLSD gives a listing meant to be read by programs.</summary>
    private static async Task<bool> OffersMachineListingAsync(FtpControlConnection control)
    {
        FtpReply features = await control.SendAsync("FEAT").ConfigureAwait(false);
        return features.Code == 211 && features.Text.Split('\n').Any(l => l.TrimStart().StartsWith("MLST", StringComparison.OrdinalIgnoreCase));
    }

    private async Task<bool> StoreAsync(FtpControlConnection control)
    {
        if (_target.IsDirectory)
        {
            throw new ProxyErrorException(ProxyErrorKind.MalformedRequest, $"PUT stores a file: {_target.LogUrl} names a directory");
        }

        using Connection data = await OpenDataAsync(control).ConfigureAwait(false);
        FtpReply started = await control.SendAsync($"STOR {_target.Name}").ConfigureAwait(false);
        if (!started.IsPreliminary)
        {
            throw control.Refusal(started, "STOR");
        }

        if (Head.Fields.HasToken("Expect", "100-continue") && !Head.IsHttp10)
        {
            await Client.Stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stopping).ConfigureAwait(false);
        }

        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        TimeSpan idle = _x.Timeouts.Idle;
        stalled.CancelAfter(idle);
        try
        {
            await BodyCopier.CopyAsync(Client.Input, data.Stream, _requestFraming, chunkedOut: false, _x.HeadLimits.MaxHeaderBytes, () => stalled.CancelAfter(idle), stalled.Token).ConfigureAwait(false);
        }
        catch (BodyException e) when (e.Side == BodySide.Source)
        {
            // The client's body is broken or cut off: the server must not keep what came as if it were the file.
            data.Abort();
            _close = true;
            throw new ProxyErrorException(ProxyErrorKind.MalformedRequest, $"request body: {e.Message}; the upload to {control.Server} was aborted");
        }
        catch (Exception e) when (e is BodyException or IOException or OperationCanceledException && !_stopping.IsCancellationRequested)
        {
            data.Abort();
            _close = true;
            FtpReply failed = await control.ReadReplyAsync("the failed STOR").ConfigureAwait(false);
            throw failed.IsCompletion
                ? new ProxyErrorException(ProxyErrorKind.ConnectionTerminated, $"the FTP data connection to {control.Server} failed during the upload")
                : control.Refusal(failed, "STOR");
        }

        await data.ShutdownSendAsync().ConfigureAwait(false);
        data.Dispose();
        FtpReply done = await control.ReadReplyAsync("the end of STOR").ConfigureAwait(false);
        if (!done.IsCompletion)
        {
            throw control.Refusal(done, "STOR");
        }

        byte[] text = Encoding.UTF8.GetBytes($"stored {_target.LogUrl}\n");
        await WriteHeadAsync(201, "Created", "text/plain; charset=utf-8", text.Length, chunked: false, ("Location", _target.LogUrl)).ConfigureAwait(false);
        await Client.Stream.WriteAsync(text, _stopping).ConfigureAwait(false);
        _x.Log(SquidResult.Miss, 201, _peer, "text/plain");
        return true;
    }

    /// <summary>The head of a response with a body to stream; from now on failures reset the client connection.</summary>
    private async Task<FtpGatewayBody> StartBodyAsync(int status, string reason, string contentType, long? length, bool chunked, CancellationTokenSource stalled)
    {
        await WriteHeadAsync(status, reason, contentType, length, chunked).ConfigureAwait(false);
        _startedStatus = status;
        _startedType = contentType.Split(';')[0];
        TimeSpan idle = _x.Timeouts.Idle;
        stalled.CancelAfter(idle);
        return new FtpGatewayBody(Client.Stream, chunked, () => stalled.CancelAfter(idle), stalled.Token);
    }

    private async Task WriteHeadAsync(int status, string reason, string contentType, long? length, bool chunked, params (string Name, string Value)[] fields)
    {
        // Without a length or chunking the end of the connection ends the body (an HTTP/1.0 client's listing).
        _close |= _x.Draining.IsCancellationRequested || (length is null && !chunked && Head.Method != "HEAD");
        using var head = new HeadWriter();
        head.Append("HTTP/1.1 ").Append(status).Append(" ").Append(reason).Append("\r\n").Field("Content-Type", contentType);
        if (length is { } bytes)
        {
            head.Field("Content-Length", bytes.ToString(CultureInfo.InvariantCulture));
        }
        else if (chunked)
        {
            head.Field("Transfer-Encoding", "chunked");
        }

        head.Field("Via", $"1.{Head.MinorVersion} {_x.ProxyName}");
        foreach ((string name, string value) in fields)
        {
            head.Field(name, value);
        }

        if (_close)
        {
            head.Field("Connection", "close");
        }

        head.End();
        await head.WriteToAsync(Client.Stream, _stopping).ConfigureAwait(false);
    }
}
