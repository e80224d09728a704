using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Config;
using Sluice.Proxy.Errors;
using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Upstream;

/// <summary>
/// TCP to one of a list of checked addresses, within what is left of the connect timeout: the one connect loop for
/// origins and parent proxies. Happy Eyeballs (RFC 8305 §5): attempts start in the list's order (the resolver puts
/// IPv6 first and interleaves the families), the next one <see cref="AttemptDelay"/> after the previous started, or at
/// once when it failed; the first to connect wins and the others are cancelled and closed. Every attempt shares the
/// budget, so an address that swallows SYNs no longer spends it all before the next is tried. Failures are the direct
/// kinds (refused, timeout, unreachable) in words that name <c>what</c> was connected to; a parent's dialer turns them
/// into its own kinds. When every attempt fails, the last failure is the one reported. The connection's peer is the
/// endpoint connected to, not asked of the socket: a peer that accepted and reset at once has no peer name any more
/// (getpeername fails), and that is the first read's failure to report, not the dial's.
/// </summary>
internal static class TcpConnector
{
    /// <summary>RFC 8305 §5's recommended "Connection Attempt Delay".</summary>
    public static readonly TimeSpan AttemptDelay = TimeSpan.FromMilliseconds(250);

    /// <param name="what">How the messages name the peer: <c>host:port</c>, or <c>parent proxy host:port</c>.</param>
    /// <param name="connectTimeout">The whole budget (lookup included), for the message.</param>
    /// <param name="left">What is left of it now.</param>
    public static Task<Connection> ConnectAsync(IReadOnlyList<IPAddress> addresses, int port, string what, TimeSpan connectTimeout, TimeSpan left, CancellationToken cancellationToken) => addresses.Count switch
    {
        0 => Task.FromException<Connection>(new ProxyErrorException(ProxyErrorKind.DestinationUnreachable, $"no address to connect to for {what}")),
        1 => ConnectOneAsync(addresses[0], port, what, connectTimeout, left, cancellationToken),
        _ => RaceAsync(addresses, port, what, connectTimeout, left, cancellationToken),
    };

    /// <summary>Happy Eyeballs over two or more addresses.</summary>
    private static async Task<Connection> RaceAsync(IReadOnlyList<IPAddress> addresses, int port, string what, TimeSpan connectTimeout, TimeSpan left, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        var running = new List<Attempt>();
        ProxyErrorException? last = null;
        int next = 0;
        try
        {
            running.Add(Attempt.Start(addresses[next++], port, budget.Token));
            while (running.Count > 0)
            {
                // Once the budget is spent no new attempt starts: the running ones report their cancellation.
                Task? delay = next < addresses.Count && !budget.IsCancellationRequested ? Task.Delay(AttemptDelay, budget.Token) : null;
                Task finished = await Task.WhenAny([.. running.Select(a => a.Outcome), .. delay is null ? Array.Empty<Task>() : [delay]]).ConfigureAwait(false);
                if (finished == delay)
                {
                    if (!budget.IsCancellationRequested)
                    {
                        running.Add(Attempt.Start(addresses[next++], port, budget.Token));
                    }

                    continue;
                }

                Attempt done = running.First(a => a.Outcome == finished);
                running.Remove(done);
                Exception? failure = await done.Outcome.ConfigureAwait(false);
                if (failure is null)
                {
                    return Connection.FromSocket(done.Take(), new IPEndPoint(done.Address, port));
                }

                done.Dispose();
                last = Failure(failure, what, done.Address, connectTimeout, cancellationToken);
                if (failure is OperationCanceledException)
                {
                    throw last; // the budget is spent: the attempts still running were cancelled with it
                }

                if (next < addresses.Count)
                {
                    running.Add(Attempt.Start(addresses[next++], port, budget.Token)); // a failure starts the next at once
                }
            }
        }
        finally
        {
            foreach (Attempt loser in running)
            {
                loser.Dispose(); // closing the socket aborts its connect
            }
        }

        throw last!;
    }

    /// <summary>
    /// The usual case, one address: nothing to race, so no attempt objects, lists or WhenAny. The budget is a wait
    /// with a timeout rather than a linked cancellation source, because the socket keeps the token its connect was
    /// given (in the receive operation it caches) for the connection's life: a source made per connection would stay
    /// with every tunnel.
    /// </summary>
    private static async Task<Connection> ConnectOneAsync(IPAddress address, int port, string what, TimeSpan connectTimeout, TimeSpan left, CancellationToken cancellationToken)
    {
        Socket socket = Attempt.NewSocket(address);
        var peer = new IPEndPoint(address, port);
        Task connect = socket.ConnectAsync(peer, cancellationToken).AsTask();
        try
        {
            await connect.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            return Connection.FromSocket(socket, peer);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or SocketException)
        {
            socket.Dispose(); // aborts a connect still under way
            _ = connect.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw Failure(e is TimeoutException ? new OperationCanceledException() : e, what, address, connectTimeout, cancellationToken);
        }
    }

    /// <summary>What one failed attempt means; a cancellation by the caller (not the budget) is rethrown as such.</summary>
    private static ProxyErrorException Failure(Exception failure, string what, IPAddress address, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        if (failure is OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return new ProxyErrorException(ProxyErrorKind.ConnectionTimeout, $"no connection to {what} ({address}) within {Durations.Format(connectTimeout)}");
        }

        return Describe((SocketException)failure, what, address);
    }

    private static ProxyErrorException Describe(SocketException e, string what, IPAddress address) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => new ProxyErrorException(ProxyErrorKind.ConnectionRefused, $"{what} ({address}) refused the connection"),
        SocketError.TimedOut => new ProxyErrorException(ProxyErrorKind.ConnectionTimeout, $"connecting to {what} ({address}) timed out"),
        _ => new ProxyErrorException(ProxyErrorKind.DestinationUnreachable, $"cannot connect to {what} ({address}): {e.SocketErrorCode}"),
    };

    /// <summary>One connection attempt. Its outcome never throws: null when connected, else what stopped it.</summary>
    private sealed class Attempt : IDisposable
    {
        private Socket? _socket;

        private Attempt(IPAddress address, Socket socket, Task<Exception?> outcome)
        {
            Address = address;
            _socket = socket;
            Outcome = outcome;
        }

        public IPAddress Address { get; }

        public Task<Exception?> Outcome { get; }

        public static Socket NewSocket(IPAddress address) => new(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

        public static Attempt Start(IPAddress address, int port, CancellationToken cancellationToken)
        {
            Socket socket = NewSocket(address);
            return new Attempt(address, socket, RunAsync(socket, new IPEndPoint(address, port), cancellationToken));
        }

        private static async Task<Exception?> RunAsync(Socket socket, IPEndPoint endpoint, CancellationToken cancellationToken)
        {
            try
            {
                await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (OperationCanceledException e)
            {
                return e;
            }
            catch (SocketException e)
            {
                return e;
            }
            catch (ObjectDisposedException)
            {
                return new OperationCanceledException(); // closed because another attempt won
            }
        }

        /// <summary>The connected socket, now the caller's.</summary>
        public Socket Take()
        {
            Socket socket = _socket!;
            _socket = null;
            return socket;
        }

        public void Dispose() => _socket?.Dispose();
    }
}
