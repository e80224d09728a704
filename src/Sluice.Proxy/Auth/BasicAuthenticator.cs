using System.Net;
using System.Text;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Auth;

public enum AuthOutcome
{
    /// <summary>No credentials were sent.</summary>
    Anonymous,
    Authenticated,

    /// <summary>Credentials were sent and are wrong (or malformed).</summary>
    Failed,

    /// <summary>Too many failures from this address: refused without checking.</summary>
    Throttled,
}

public readonly record struct AuthResult(AuthOutcome Outcome, string? User, IReadOnlyCollection<string> Groups, TimeSpan RetryAfter = default)
{
    public static readonly AuthResult Anonymous = new(AuthOutcome.Anonymous, null, []);
}

/// <summary>
/// HTTP Basic proxy authentication (RFC 7617) against the users file. Hash verification is slow on purpose, so a
/// successful check is remembered for a few minutes (<see cref="VerifiedCredentials"/>), and parallel requests with
/// the same credentials share one verification. The files are looked at again at most once a second
/// (<see cref="UserFiles"/>).
/// </summary>
/// <remarks>
/// Lifetime. An authenticator is one <c>auth.basic</c> configuration's view (realm, files) of state that outlives
/// it: the users files while their paths stay the same, the remembered successes and verifications in progress, and
/// the failure counts. A reload that changes <c>auth.basic</c> gets a successor from <see cref="Reconfigured"/>,
/// which takes that state over without hashing, verifying or, unless the paths changed, reading anything. What an
/// authenticator owns alone is its housekeeping timer. The server disposes an authenticator as soon as its
/// snapshot is replaced; connections that still hold the old snapshot go on authenticating through it, because
/// disposing only stops the timer and leaves the shared state (pruned by the successor's timer) untouched. So no
/// reference counting is needed, and at any time exactly one timer per server is alive.
/// </remarks>
internal sealed class BasicAuthenticator : IDisposable
{
    private static readonly TimeSpan HousekeepingEvery = TimeSpan.FromSeconds(15);
    private static int _live;

    private readonly BasicAuthConfig _config;
    private readonly Action<string> _warn;
    private readonly UserFiles _files;
    private readonly VerifiedCredentials _credentials;
    private readonly FailureThrottle _throttle;
    private readonly Timer _housekeeping;
    private int _disposed;

    /// <exception cref="UsersFileException">The files cannot be used.</exception>
    public BasicAuthenticator(BasicAuthConfig config, Action<string> warn)
        : this(config, new UserFiles(config, warn), new VerifiedCredentials(), new FailureThrottle(), warn)
    {
    }

    private BasicAuthenticator(BasicAuthConfig config, UserFiles files, VerifiedCredentials credentials, FailureThrottle throttle, Action<string> warn)
    {
        _config = config;
        _warn = warn;
        _files = files;
        _credentials = credentials;
        _throttle = throttle;
        _housekeeping = new Timer(static state => Housekeep(((VerifiedCredentials, FailureThrottle))state!), (credentials, throttle), HousekeepingEvery, HousekeepingEvery);
        Interlocked.Increment(ref _live);
    }

    /// <summary>Authenticators (each with its housekeeping timer) created and not yet disposed, in this process.</summary>
    internal static int Live => Volatile.Read(ref _live);

    public BasicAuthConfig Config => _config;

    /// <summary>The Proxy-Authenticate challenge (RFC 7617, with the UTF-8 charset parameter).</summary>
    public string Challenge => ChallengeFor(_config);

    /// <summary>The Proxy-Authenticate challenge for these settings (RFC 7617, with the UTF-8 charset parameter).</summary>
    public static string ChallengeFor(BasicAuthConfig config) => $"Basic realm=\"{config.Realm}\", charset=\"UTF-8\"";

    public int UserCount => _files.Current().Hashes.Count;

    /// <summary>
    /// The authenticator for changed settings, keeping what did not change: the failure counts and remembered
    /// successes always, the loaded users files when their paths are the same. Cheap: nothing is hashed or verified,
    /// and files are read only when their paths changed. This one stays usable; the caller disposes it when no
    /// snapshot hands it to new connections any more.
    /// </summary>
    /// <exception cref="UsersFileException">The new files cannot be used; nothing has changed.</exception>
    internal BasicAuthenticator Reconfigured(BasicAuthConfig config) =>
        new(config, _files.AreFor(config) ? _files : new UserFiles(config, _warn), _credentials, _throttle, _warn);

    public async ValueTask<AuthResult> AuthenticateAsync(string? proxyAuthorization, IPAddress client)
    {
        if (proxyAuthorization is null)
        {
            return AuthResult.Anonymous;
        }

        UserDirectory directory = _files.Current();
        if (!TryDecode(proxyAuthorization, out string user, out string password))
        {
            user = password = ""; // malformed: counted as a failure of the empty user
        }

        string? hash = directory.Hashes.GetValueOrDefault(user);
        string key = _credentials.KeyOf(user, password, hash);
        if (hash is not null && _credentials.IsRemembered(key))
        {
            // A remembered success costs nothing, so it is served even while guesses from this address are refused.
            return Authenticated(directory, user);
        }

        while (true)
        {
            if (!_throttle.MayTry(client, user, out TimeSpan wait))
            {
                return new AuthResult(AuthOutcome.Throttled, null, [], wait);
            }

            // Everyone with the same credentials (user, password, stored hash) waits for one verification.
            VerifiedCredentials.Check check;
            if (_credentials.JoinOrStart(key, out TaskCompletionSource<VerifiedCredentials.Check> started) is { } running)
            {
                check = await running.ConfigureAwait(false);
            }
            else
            {
                (check, wait) = await VerifyAsync(key, started, user, password, hash, directory.Decoy, client).ConfigureAwait(false);
                if (check == VerifiedCredentials.Check.NotChecked)
                {
                    return new AuthResult(AuthOutcome.Throttled, null, [], wait);
                }
            }

            switch (check)
            {
                case VerifiedCredentials.Check.Matched:
                    return Authenticated(directory, user);
                case VerifiedCredentials.Check.Wrong:
                    return new AuthResult(AuthOutcome.Failed, null, []);
                default:
                    continue; // whoever verified for us was throttled: our own address decides
            }
        }
    }

    /// <summary>
    /// The result for a user taken to have sent the right password, for answers given without one (<c>sluice
    /// explain --user</c>): authenticated with the user's groups when the users file has the user, failed when not.
    /// </summary>
    public AuthResult Assume(string user)
    {
        UserDirectory directory = _files.Current();
        return directory.Hashes.ContainsKey(user) ? Authenticated(directory, user) : new AuthResult(AuthOutcome.Failed, null, []);
    }

    /// <summary>Stops the housekeeping timer. Authentication through this instance keeps working (see the remarks).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _housekeeping.Dispose();
            Interlocked.Decrement(ref _live);
        }
    }

    // One verification, shared with every request that joined it. The throttle reservation is taken only once a
    // slot is held, so requests waiting their turn are not counted; only a failed check counts as a failure.
    private async Task<(VerifiedCredentials.Check, TimeSpan)> VerifyAsync(string key, TaskCompletionSource<VerifiedCredentials.Check> started,
        string user, string password, string? hash, string? decoy, IPAddress client)
    {
        VerifiedCredentials.Check check = VerifiedCredentials.Check.NotChecked;
        TimeSpan wait = TimeSpan.Zero;
        try
        {
            await _credentials.Slots.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_throttle.TryBegin(client, user, out FailureThrottle.Reservation reservation, out wait))
                {
                    bool ok = false;
                    try
                    {
                        // An unknown user costs as much as a known one, so timing does not tell which names exist.
                        // Hashing is slow by design: it runs on the thread pool, never on a socket engine's thread
                        // (completions run inline there, see ProxyRuntime), where it would stall every connection.
                        string? against = hash ?? decoy;
                        ok = against is not null && await Task.Run(() => PasswordHashes.Verify(password, against)).ConfigureAwait(false)
                            && hash is not null && user.Length > 0;
                    }
                    finally
                    {
                        FailureThrottle.End(reservation, ok);
                    }

                    check = ok ? VerifiedCredentials.Check.Matched : VerifiedCredentials.Check.Wrong;
                }
            }
            finally
            {
                _credentials.Slots.Release();
            }
        }
        finally
        {
            _credentials.Finish(key, started, check);
        }

        return (check, wait);
    }

    private static void Housekeep((VerifiedCredentials Credentials, FailureThrottle Throttle) state)
    {
        state.Credentials.Prune();
        state.Throttle.Prune();
    }

    private static AuthResult Authenticated(UserDirectory directory, string user) =>
        new(AuthOutcome.Authenticated, user, directory.GroupsOf.TryGetValue(user, out string[]? groups) ? groups : []);

    /// <summary>RFC 7617: base64 of user-id ":" password, UTF-8; the scheme name is case-insensitive.</summary>
    private static bool TryDecode(string header, out string user, out string password)
    {
        user = password = "";
        string value = header.Trim();
        if (!value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value[6..].Trim()));
            int colon = decoded.IndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            user = decoded[..colon];
            password = decoded[(colon + 1)..];
            // NUL and other controls: libcrypt stops at NUL, so "secret\0anything" would verify; refuse instead.
            return !user.Any(char.IsControl) && !password.Any(char.IsControl);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
