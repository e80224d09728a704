using System.Net;
using System.Security.Cryptography;
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
/// the same credentials share one verification. The files are looked at again at most once a second and a new
/// version that does not load is logged and ignored.
/// </summary>
public sealed class BasicAuthenticator : IDisposable
{
    private static readonly TimeSpan RecheckFilesEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HousekeepingEvery = TimeSpan.FromSeconds(15);

    private readonly BasicAuthConfig _config;
    private readonly Action<string> _warn;
    private readonly VerifiedCredentials _credentials = new();
    private readonly FailureThrottle _throttle = new();
    private readonly Timer _housekeeping;
    private readonly string _dummyHash;
    private readonly object _reloadLock = new();
    private volatile UserDirectory _directory;
    private (DateTime Users, DateTime Groups) _stamps;
    private long _nextFileCheck;

    /// <exception cref="UsersFileException">The files cannot be used.</exception>
    public BasicAuthenticator(BasicAuthConfig config, Action<string> warn)
    {
        _config = config;
        _warn = warn;
        _stamps = Stamps();
        _directory = UserDirectory.Load(config.UsersFile, config.GroupsFile);
        _dummyHash = PasswordHashes.HashBcrypt(Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)), CostOf(_directory));
        _housekeeping = new Timer(static state => Housekeep(((VerifiedCredentials, FailureThrottle))state!), (_credentials, _throttle), HousekeepingEvery, HousekeepingEvery);
    }

    // The dummy hash for unknown users costs what the real ones cost.
    private static int CostOf(UserDirectory directory)
    {
        string? bcrypt = directory.Hashes.Values.FirstOrDefault(h => PasswordHashes.SchemeOf(h) == HashScheme.Bcrypt);
        return bcrypt is not null && int.TryParse(bcrypt.AsSpan(4, 2), out int cost) ? cost : 10;
    }

    public BasicAuthConfig Config => _config;

    /// <summary>The Proxy-Authenticate challenge (RFC 7617, with the UTF-8 charset parameter).</summary>
    public string Challenge => $"Basic realm=\"{_config.Realm}\", charset=\"UTF-8\"";

    public int UserCount => _directory.Hashes.Count;

    public async ValueTask<AuthResult> AuthenticateAsync(string? proxyAuthorization, IPAddress client)
    {
        if (proxyAuthorization is null)
        {
            return AuthResult.Anonymous;
        }

        ReloadIfChanged();
        UserDirectory directory = _directory;
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
                (check, wait) = await VerifyAsync(key, started, user, password, hash, client).ConfigureAwait(false);
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

    public void Dispose() => _housekeeping.Dispose();

    // One verification, shared with every request that joined it. The throttle reservation is taken only once a
    // slot is held, so requests waiting their turn are not counted; only a failed check counts as a failure.
    private async Task<(VerifiedCredentials.Check, TimeSpan)> VerifyAsync(string key, TaskCompletionSource<VerifiedCredentials.Check> started,
        string user, string password, string? hash, IPAddress client)
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
                        ok = PasswordHashes.Verify(password, hash ?? _dummyHash) && hash is not null && user.Length > 0;
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

    private void ReloadIfChanged()
    {
        long now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _nextFileCheck))
        {
            return;
        }

        lock (_reloadLock)
        {
            Interlocked.Exchange(ref _nextFileCheck, now + (long)RecheckFilesEvery.TotalMilliseconds);
            (DateTime, DateTime) stamps = Stamps();
            if (stamps == _stamps)
            {
                return;
            }

            _stamps = stamps;
            try
            {
                _directory = UserDirectory.Load(_config.UsersFile, _config.GroupsFile);
            }
            catch (UsersFileException e)
            {
                _warn($"users file changed but was not loaded, keeping the previous users: {e.Message}");
            }
        }
    }

    private (DateTime, DateTime) Stamps() =>
        (File.GetLastWriteTimeUtc(_config.UsersFile), _config.GroupsFile is null ? default : File.GetLastWriteTimeUtc(_config.GroupsFile));
}
